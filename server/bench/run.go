package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"runtime"
	"runtime/pprof"
	"strings"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/altynpay/altyn/store/localpg"
)

// report is everything the benchmark measured.
type report struct {
	Clients    int           `json:"clients"`
	Duration   time.Duration `json:"duration_ns"`
	Machine    machine       `json:"machine"`
	PostgreSQL string        `json:"postgresql"`
	Settings   string        `json:"postgresql_settings"`
	HTTP       string        `json:"http"`
	Crypto     cryptoCost    `json:"cryptogram"`

	Charge struct {
		PerSecond   float64        `json:"charges_per_second"`
		Completed   int            `json:"completed"`
		Calls       int            `json:"calls"`
		Elapsed     time.Duration  `json:"elapsed_ns"`
		P50         time.Duration  `json:"p50_ns"`
		P90         time.Duration  `json:"p90_ns"`
		P99         time.Duration  `json:"p99_ns"`
		Max         time.Duration  `json:"max_ns"`
		Errors      int            `json:"errors"`
		ErrorKinds  map[string]int `json:"error_kinds,omitempty"`
		Statuses    map[string]int `json:"other_statuses,omitempty"`
		Sealed      int            `json:"cryptograms_sealed"`
		SealTime    time.Duration  `json:"seal_elapsed_ns"`
		WarmupRate  float64        `json:"warmup_calls_per_second"`
		Ceiling     float64        `json:"warmup_cpu_ceiling_per_second,omitempty"`
		RanOutAfter time.Duration  `json:"ran_out_after_ns,omitempty"`
		CPU         *cpuUse        `json:"cpu,omitempty"`
		DB          dbUse          `json:"postgresql"`
	} `json:"charge"`

	Pgbench *pgbenchResult `json:"pgbench"`
	Ratio   float64        `json:"ratio"`
}

// run does the whole benchmark; it stops PostgreSQL and removes its folder
// whatever happens, Ctrl-C included (ctx).
func run(ctx context.Context, c config, log io.Writer) (*report, error) {
	rep := &report{Clients: c.clients, Duration: c.duration, Machine: describeMachine()}
	pgbench, err := findPgbench()
	if err != nil {
		return nil, err
	}

	dir, err := os.MkdirTemp("", "altyn-bench-")
	if err != nil {
		return nil, err
	}
	defer os.RemoveAll(dir)
	// MkdirTemp makes the folder 0700; when we are root, postgres runs as
	// another user, who must be able to enter it to reach its data.
	if err := os.Chmod(dir, 0o755); err != nil {
		return nil, err
	}
	if rep.Machine.Fdatasync, err = measureFdatasync(dir); err != nil {
		return nil, fmt.Errorf("fdatasync: %w", err)
	}

	progress(log, "starting PostgreSQL (fsync on) in %s", dir)
	pg, err := localpg.Start(ctx, localpg.Options{Dir: filepath.Join(dir, "pg"), Fsync: true})
	if err != nil {
		return nil, err
	}
	defer func() {
		if err := pg.Stop(); err != nil {
			progress(log, "stop PostgreSQL: %v", err)
		}
	}()
	for _, db := range []string{"altyn", "pgbench"} {
		if err := pg.CreateDatabase(ctx, db); err != nil {
			return nil, err
		}
	}
	admin, err := pgx.Connect(ctx, pg.URL("postgres"))
	if err != nil {
		return nil, err
	}
	defer admin.Close(context.WithoutCancel(ctx))
	if rep.PostgreSQL, rep.Settings, err = serverSettings(ctx, admin); err != nil {
		return nil, err
	}

	a, err := startAltyn(ctx, pg.URL("altyn"))
	if err != nil {
		return nil, err
	}
	defer a.close()
	rep.HTTP = a.proto
	if rep.Crypto, err = measureCrypto(a); err != nil {
		return nil, err
	}
	progress(log, "altyn at %s (%s); one Seal %v, one Open %v on one core", a.url, a.proto, rep.Crypto.Seal.Round(time.Microsecond), rep.Crypto.Open.Round(time.Microsecond))

	if err := chargePhase(ctx, c, a, admin, pg.URL("altyn"), rep, log); err != nil {
		return nil, err
	}

	progress(log, "pgbench -i -s %d (TPC-B tables, %d00,000 accounts)", c.clients, c.clients)
	if err := initPgbench(ctx, pgbench, pg.Port(), c.clients); err != nil {
		return nil, err
	}
	if _, err := admin.Exec(ctx, "CHECKPOINT"); err != nil {
		return nil, fmt.Errorf("checkpoint: %w", err)
	}
	dbBefore, err := sampleDB(ctx, admin, "pgbench")
	if err != nil {
		return nil, err
	}
	progress(log, "pgbench: %d clients for %v at %s", c.clients, c.duration, strings.ToUpper(c.pgbenchIsolation))
	if rep.Pgbench, err = runPgbench(ctx, pgbench, pg.Port(), c.clients, c.duration, c.pgbenchIsolation); err != nil {
		if ctx.Err() != nil {
			return nil, ctx.Err()
		}
		return nil, err
	}
	time.Sleep(1100 * time.Millisecond) // backends report their counters at most once a second
	dbAfter, err := sampleDB(ctx, admin, "pgbench")
	if err != nil {
		return nil, err
	}
	rep.Pgbench.DB = dbBetween(dbBefore, dbAfter, rep.Pgbench.Processed)
	if rep.Pgbench.TPS > 0 {
		rep.Ratio = rep.Charge.PerSecond / rep.Pgbench.TPS
	}
	return rep, nil
}

// chargePhase warms altyn up, seals the cryptograms for the timed run and
// times it.
func chargePhase(ctx context.Context, c config, a *altyn, admin *pgx.Conn, dbURL string, rep *report, log io.Writer) error {
	// Warm-up in rounds: a small supply first; if it runs out before the
	// warm-up time, seal more at the rate just seen. The last round's rate
	// sizes the timed run's supply.
	size, left := c.clients*32, c.warmup
	var warm *phase
	var ceiling float64 // charges/s this machine's cores could do at the warm-up's CPU cost, 0 if unknown
	for left > 0 {
		s, err := seal(ctx, a.key, a.merchant.PublicID, size)
		if err != nil {
			return err
		}
		before := sampleCPU()
		warm = drive(ctx, a.client, c.clients, left, s)
		after := sampleCPU()
		s.release()
		if ctx.Err() != nil {
			return ctx.Err()
		}
		if warm.Completed == 0 {
			return fmt.Errorf("warm-up: no Charge completed in %d calls: %s", warm.Calls, strings.Join(append(topCounts(warm.Errors, 3), topCounts(warm.Statuses, 3)...), "; "))
		}
		if u, ok := cpuBetween(before, after, warm.Elapsed, 0); ok && u.Process+u.Postgres > 0 {
			ceiling = warm.callRate() * float64(runtime.NumCPU()) / (u.Process + u.Postgres)
		}
		left -= warm.Elapsed
		if warm.RanOut == 0 {
			break
		}
		size = int(warm.callRate()*left.Seconds()*2) + c.clients*4
	}
	rep.Charge.WarmupRate, rep.Charge.Ceiling = warm.callRate(), ceiling

	// The supply is for 1.5 times the faster of the warm-up's rate and the
	// rate its CPU cost per charge allows on all cores: other work on the
	// machine, or retries while the tables are small, can slow the warm-up
	// well below the timed run. A run that still goes faster runs out and
	// says so; its figure is then over the time it ran.
	need := int(max(rep.Charge.WarmupRate, ceiling)*c.duration.Seconds()*1.5) + c.clients*4
	if need > c.maxCryptograms {
		progress(log, "capping the supply at -max-cryptograms %d (the warm-up calls for %d)", c.maxCryptograms, need)
		need = c.maxCryptograms
	}
	progress(log, "warm-up done at %.0f calls/s (%.0f/s if it had all %d cores); sealing %d cryptograms", rep.Charge.WarmupRate, ceiling, runtime.NumCPU(), need)
	began := time.Now()
	s, err := seal(ctx, a.key, a.merchant.PublicID, need)
	if err != nil {
		return err
	}
	defer s.release()
	rep.Charge.Sealed, rep.Charge.SealTime = need, time.Since(began)

	// Both timed phases start from a checkpoint, so neither pays for the
	// dirty pages of what ran before it.
	if _, err := admin.Exec(ctx, "CHECKPOINT"); err != nil {
		return fmt.Errorf("checkpoint: %w", err)
	}
	if c.cpuProfile != "" {
		f, err := os.Create(c.cpuProfile)
		if err != nil {
			return err
		}
		defer f.Close()
		if err := pprof.StartCPUProfile(f); err != nil {
			return err
		}
	}
	dbBefore, err := sampleDB(ctx, admin, "altyn")
	if err != nil {
		return err
	}
	progress(log, "timing Charge: %d clients for %v", c.clients, c.duration)
	before := sampleCPU()
	p := drive(ctx, a.client, c.clients, c.duration, s)
	after := sampleCPU()
	if c.cpuProfile != "" {
		pprof.StopCPUProfile()
	}
	if ctx.Err() != nil {
		return ctx.Err()
	}
	time.Sleep(1100 * time.Millisecond) // backends report their counters at most once a second
	dbAfter, err := sampleDB(ctx, admin, "altyn")
	if err != nil {
		return err
	}
	rep.Charge.DB = dbBetween(dbBefore, dbAfter, p.Completed)
	hot, err := hotShare(ctx, dbURL)
	if err != nil {
		return err
	}
	rep.Charge.DB.HOTShare = &hot
	if u, ok := cpuBetween(before, after, p.Elapsed, 0); ok {
		rep.Charge.CPU = &u
	}
	ch := &rep.Charge
	ch.PerSecond, ch.Completed, ch.Calls, ch.Elapsed = p.rate(), p.Completed, p.Calls, p.Elapsed
	ch.P50, ch.P90, ch.P99 = p.percentile(0.50), p.percentile(0.90), p.percentile(0.99)
	if len(p.Latencies) > 0 {
		ch.Max = p.Latencies[len(p.Latencies)-1]
	}
	ch.Errors, ch.ErrorKinds, ch.Statuses = p.errorCount(), p.Errors, p.Statuses
	ch.RanOutAfter = p.RanOut
	if ch.Completed == 0 {
		return errors.New("no Charge completed in the timed run: " + strings.Join(append(topCounts(p.Errors, 3), topCounts(p.Statuses, 3)...), "; "))
	}
	return nil
}

// serverSettings returns PostgreSQL's version and the settings that decide
// the cost of a commit.
func serverSettings(ctx context.Context, conn *pgx.Conn) (version, settings string, err error) {
	var fsync, syncCommit, isolation, method string
	err = conn.QueryRow(ctx, `SELECT current_setting('server_version'), current_setting('fsync'),
		current_setting('synchronous_commit'), current_setting('default_transaction_isolation'),
		current_setting('wal_sync_method')`).Scan(&version, &fsync, &syncCommit, &isolation, &method)
	if err != nil {
		return "", "", fmt.Errorf("read PostgreSQL settings: %w", err)
	}
	return version, fmt.Sprintf("fsync=%s synchronous_commit=%s wal_sync_method=%s default_transaction_isolation=%s",
		fsync, syncCommit, method, isolation), nil
}
