// Command bench measures subscription billing: it starts a private
// PostgreSQL (fsync on) and altyn in-process, saves -cards cards, imports
// -n subscriptions on them that are all due, lets -runners runners bill
// them (as every replica runs one; each gives the engine -workers chunks of
// -chunk payments at once),
// checks that every subscription was billed exactly once, and prints
// subscriptions/s and the database's share of the time.
//
//	go run ./server/subscriptions/bench [-n 100000] [-cards 1000] [-runners 1] [-batch 256] [-chunk 32] [-workers 4]
//
// The database's share is given two ways: PostgreSQL's CPU time against
// the CPU time of this process (altyn: runner, engine, sandbox acquirer),
// and PostgreSQL's active time (pg_stat_database.active_time: time its
// backends spent executing statements) against the wall-clock time.
package main

import (
	"context"
	"crypto/rand"
	"encoding/base32"
	"errors"
	"flag"
	"fmt"
	"log/slog"
	"os"
	"os/signal"
	"path/filepath"
	"runtime"
	"runtime/pprof"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/altynpay/altyn/cryptogram"
	"github.com/altynpay/altyn/server/app"
	"github.com/altynpay/altyn/server/internal/benchenv"
	"github.com/altynpay/altyn/server/merchants"
	"github.com/altynpay/altyn/server/payments"
	"github.com/altynpay/altyn/server/subscriptions"
	"github.com/altynpay/altyn/server/vault"
	"github.com/altynpay/altyn/store"
	"github.com/altynpay/altyn/store/localpg"
)

func main() {
	n := flag.Int("n", 100_000, "due subscriptions to bill")
	cards := flag.Int("cards", 1000, "saved cards they are spread over")
	runners := flag.Int("runners", 1, "runners racing on the database (replicas)")
	workers := flag.Int("workers", subscriptions.DefaultRunnerConfig.Workers, "chunks of payments each runner has at the engine at once")
	chunk := flag.Int("chunk", subscriptions.DefaultRunnerConfig.Chunk, "payments the runner gives the engine together (Engine.PayBatch)")
	batch := flag.Int("batch", subscriptions.DefaultRunnerConfig.Batch, "subscriptions leased per transaction")
	cpuProfile = flag.String("cpuprofile", "", "write a CPU profile of the billing to `file`")
	showErrors = flag.Bool("pg-errors", false, "print a summary of PostgreSQL's errors (serialization failures) with their statements")
	flag.Parse()
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	if err := run(ctx, *n, *cards, *runners, subscriptions.RunnerConfig{Batch: *batch, Chunk: *chunk, Workers: *workers}); err != nil {
		fmt.Fprintln(os.Stderr, "bench:", err)
		os.Exit(1)
	}
}

var (
	showErrors *bool
	cpuProfile *string
)

// printErrors summarizes the ERROR lines of PostgreSQL's log and the
// statements they stopped.
func printErrors(path string) {
	b, err := os.ReadFile(path)
	if err != nil {
		return
	}
	counts := map[string]int{}
	lines := strings.Split(string(b), "\n")
	for i, line := range lines {
		_, msg, ok := strings.Cut(line, "ERROR:  ")
		if !ok {
			continue
		}
		stmt := ""
		for _, next := range lines[i+1 : min(i+4, len(lines))] {
			if _, st, ok := strings.Cut(next, "STATEMENT:  "); ok {
				stmt = st
				if len(stmt) > 80 {
					stmt = stmt[:80]
				}
				break
			}
		}
		counts[msg[:min(len(msg), 60)]+" | "+stmt]++
	}
	for k, v := range counts {
		fmt.Printf("pg error %6d  %s\n", v, k)
	}
}

func progress(format string, args ...any) { fmt.Fprintf(os.Stderr, "bench: "+format+"\n", args...) }

func run(ctx context.Context, n, cards, runners int, cfg subscriptions.RunnerConfig) error {
	dir, err := os.MkdirTemp("", "altyn-subbench-")
	if err != nil {
		return err
	}
	defer os.RemoveAll(dir)
	if err := os.Chmod(dir, 0o755); err != nil { // postgres runs as another user when we are root
		return err
	}
	progress("starting PostgreSQL (fsync on) in %s", dir)
	pg, err := startPostgres(ctx, filepath.Join(dir, "pg"))
	if err != nil {
		return err
	}
	defer func() { pg.Stop() }()
	if err := pg.CreateDatabase(ctx, "altyn"); err != nil {
		return err
	}
	master, _, err := vault.Generate()
	if err != nil {
		return err
	}
	log := slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: slog.LevelWarn}))
	a, err := app.New(ctx, app.Config{DatabaseURL: pg.URL("altyn"), MasterKey: master, BaseURL: "http://127.0.0.1:1",
		Logger: log, Now: time.Now, Runner: cfg})
	if err != nil {
		return err
	}
	defer a.Close()
	m, err := a.Merchants.Create(ctx, merchants.CreateOptions{Name: "Bench shop", TestMode: true})
	if err != nil {
		return err
	}

	progress("saving %d cards (one payment each)", cards)
	tokens, err := saveCards(ctx, a, m.Merchant, cards)
	if err != nil {
		return err
	}
	progress("importing %d due subscriptions", n)
	now := time.Now().UTC()
	subs := make([]*store.Subscription, n)
	for i := range subs {
		tok := tokens[i%len(tokens)]
		start := now.Add(-time.Minute).Add(-time.Duration(i) * time.Millisecond)
		subs[i] = &store.Subscription{
			ID: randomID("sub"), MerchantID: m.Merchant.ID, AccountID: tok.AccountID, TokenID: tok.ID,
			CardKey: tok.MerchantID + ":" + strconv.Itoa(i%len(tokens)), CardBrand: tok.CardBrand, Description: "Bench plan",
			Amount: 10000 + int64(i%100), Currency: "RUB", Interval: "Month", Period: 1, StartAt: start,
			Status: store.SubscriptionActive, NextAt: start, TestMode: true, Version: 1, CreatedAt: now, UpdatedAt: now,
		}
	}
	for i := 0; i < n; i += 10_000 {
		if err := a.Store.ImportSubscriptions(ctx, subs[i:min(i+10_000, n)]); err != nil {
			return err
		}
	}
	admin, err := pgx.Connect(ctx, pg.URL("postgres"))
	if err != nil {
		return err
	}
	defer admin.Close(context.WithoutCancel(ctx))
	if _, err := admin.Exec(ctx, "CHECKPOINT"); err != nil {
		return err
	}
	if _, err := a.Store.Pool().Exec(ctx, "ANALYZE"); err != nil {
		return err
	}
	if _, err := a.Store.Pool().Exec(ctx, "CREATE EXTENSION IF NOT EXISTS pg_stat_statements"); err != nil {
		return err
	}
	if _, err := a.Store.Pool().Exec(ctx, "SELECT pg_stat_statements_reset()"); err != nil {
		return err
	}

	progress("billing with %d runner(s): leases of %d, %d chunks of %d payments at once", runners, cfg.Batch, cfg.Workers, cfg.Chunk)
	activeBefore, err := activeTime(ctx, admin)
	if err != nil {
		return err
	}
	if *cpuProfile != "" {
		f, err := os.Create(*cpuProfile)
		if err != nil {
			return err
		}
		defer f.Close()
		if err := pprof.StartCPUProfile(f); err != nil {
			return err
		}
	}
	cpuBefore := sampleCPU()
	start := time.Now()
	billAt := time.Now().UTC()
	var wg sync.WaitGroup
	stats := make([]subscriptions.Stats, runners)
	errs := make([]error, runners)
	for i := range runners {
		r := a.Runner
		if i > 0 {
			r = a.Subscriptions.NewRunner(cfg)
		}
		wg.Go(func() { stats[i], errs[i] = r.RunOnce(ctx, billAt) })
	}
	wg.Wait()
	elapsed := time.Since(start)
	cpuAfter := sampleCPU()
	pprof.StopCPUProfile()
	time.Sleep(1100 * time.Millisecond) // backends report their statistics at most once a second
	activeAfter, err := activeTime(ctx, admin)
	if err != nil {
		return err
	}
	if err := errors.Join(errs...); err != nil {
		return err
	}
	// Charges whose outcome was not known (an error, an acquirer answer
	// outstanding) wait for their lease to end; a pass after it, outside
	// the timing, finishes them as a later pass of a runner would.
	var later subscriptions.Stats
	for _, s := range stats {
		later.Errors += s.Errors
		later.Unsettled += s.Unsettled
	}
	if later.Errors+later.Unsettled > 0 {
		progress("%d charges left to a pass after the lease (not timed)", later.Errors+later.Unsettled)
		st, err := a.Runner.RunOnce(ctx, billAt.Add(subscriptions.DefaultRunnerConfig.Lease+time.Second))
		if err != nil {
			return err
		}
		later = st
	}
	top, stmtTime, err := topStatements(ctx, a.Store.Pool(), 12)
	if err != nil {
		return err
	}
	var total subscriptions.Stats
	for _, s := range stats {
		total.Paid += s.Paid
		total.Declined += s.Declined
		total.Errors += s.Errors
		total.Unsettled += s.Unsettled
	}

	progress("checking that each subscription was billed once")
	var paidCharges, payments, doubles int
	db := a.Store.Pool()
	if err := db.QueryRow(ctx, `SELECT count(*) FROM subscription_charges WHERE status = 'Paid'`).Scan(&paidCharges); err != nil {
		return err
	}
	if err := db.QueryRow(ctx, `SELECT count(*) FROM payments WHERE subscription_id <> '' AND status = 'Completed'`).Scan(&payments); err != nil {
		return err
	}
	if err := db.QueryRow(ctx, `SELECT count(*) FROM (SELECT subscription_id FROM payments WHERE subscription_id <> ''
		GROUP BY subscription_id HAVING count(*) > 1) d`).Scan(&doubles); err != nil {
		return err
	}

	rate := float64(total.Paid) / elapsed.Seconds()
	self := cpuAfter.self - cpuBefore.self
	pgCPU := cpuAfter.postgres - cpuBefore.postgres
	active := activeAfter.active - activeBefore.active
	commits, rollbacks := activeAfter.commits-activeBefore.commits, activeAfter.rollbacks-activeBefore.rollbacks
	host, _ := os.Hostname()
	fmt.Printf("machine:        %d CPUs (%s), %s, %s, load %s at the end\n", runtime.NumCPU(), benchenv.CPUModel(), runtime.Version(), host, benchenv.LoadAvg())
	fmt.Printf("billed:         %d paid, %d declined, %d unsettled, %d errors in %v (%d runner(s); leases of %d, %d × %d payments at once)\n",
		total.Paid, total.Declined, total.Unsettled, total.Errors, elapsed.Round(time.Millisecond), runners, cfg.Batch, cfg.Workers, cfg.Chunk)
	if later.Paid > 0 {
		fmt.Printf("                then %d paid by a pass after the lease, not timed\n", later.Paid)
	}
	fmt.Printf("check:          %d paid periods, %d completed payments, %d subscriptions with more than one payment\n", paidCharges, payments, doubles)
	fmt.Printf("CPU:            altyn process %.2f cores, postgres %.2f cores; per subscription %v altyn, %v postgres\n",
		self.Seconds()/elapsed.Seconds(), pgCPU.Seconds()/elapsed.Seconds(), perOp(self, total.Paid), perOp(pgCPU, total.Paid))
	fmt.Printf("database share: %.0f%% of the CPU time; statements active %.2f s per second of wall time (pg_stat_database.active_time)\n",
		100*pgCPU.Seconds()/(pgCPU+self).Seconds(), active.Seconds()/elapsed.Seconds())
	fmt.Printf("                %.2f commits and %.3f rollbacks (retried conflicts) per subscription\n",
		float64(commits)/float64(max(total.Paid, 1)), float64(rollbacks)/float64(max(total.Paid, 1)))
	fmt.Printf("                statements executed %.2f s per second of wall time (pg_stat_statements total_exec_time); the busiest:\n",
		stmtTime.Seconds()/elapsed.Seconds())
	for _, line := range top {
		fmt.Printf("                %s\n", line)
	}
	fmt.Printf("\nsubscriptions:  %.0f subscriptions/s (%d in %v)\n", rate, total.Paid, elapsed.Round(time.Millisecond))
	if *showErrors {
		printErrors(filepath.Join(dir, "pg", "postgres.log"))
	}
	if paidCharges != n || payments != n || doubles != 0 {
		return fmt.Errorf("billing check failed: %d subscriptions, %d paid periods, %d payments, %d doubled", n, paidCharges, payments, doubles)
	}
	return nil
}

// saveCards makes one approved payment per card, each card a different
// Luhn-valid number (the sandbox approves them without 3-D Secure), and
// returns their tokens.
func saveCards(ctx context.Context, a *app.App, m *store.Merchant, n int) ([]*store.Token, error) {
	key, err := a.Merchants.CurrentKey(ctx, m.PublicID)
	if err != nil {
		return nil, err
	}
	tokens := make([]*store.Token, n)
	var wg sync.WaitGroup
	errs := make(chan error, n)
	sem := make(chan struct{}, 8)
	for i := range n {
		sem <- struct{}{}
		wg.Go(func() {
			defer func() { <-sem }()
			pan := luhn(fmt.Sprintf("400000%09d", i))
			pkt, err := cryptogram.Seal(key, m.PublicID, cryptogram.Card{PAN: pan, ExpMonth: 12, ExpYear: time.Now().Year() + 3, CVV: "123"}, cryptogram.SealOptions{})
			if err != nil {
				errs <- err
				return
			}
			res, err := a.Engine.Pay(ctx, payments.PayCommand{MerchantID: m.ID, Amount: 100, Currency: "RUB", Cryptogram: pkt,
				AccountID: "account-" + strconv.Itoa(i)})
			if err != nil {
				errs <- err
				return
			}
			if res.Payment.TokenID == "" {
				errs <- fmt.Errorf("card %d: payment %s saved no card", i, res.Payment.Status)
				return
			}
			if tokens[i], err = a.Store.Token(ctx, res.Payment.TokenID); err != nil {
				errs <- err
			}
		})
	}
	wg.Wait()
	close(errs)
	return tokens, <-errs
}

// randomID is an id like the service makes: random, so that neighbours in
// a batch are not neighbours in the indexes.
func randomID(prefix string) string {
	b := make([]byte, 15)
	rand.Read(b)
	return prefix + "_" + strings.ToLower(base32.StdEncoding.EncodeToString(b))
}

// luhn appends the check digit to a number.
func luhn(s string) string {
	sum := 0
	for i := len(s) - 1; i >= 0; i-- {
		d := int(s[i] - '0')
		if (len(s)-1-i)%2 == 0 {
			d *= 2
			if d > 9 {
				d -= 9
			}
		}
		sum += d
	}
	return s + strconv.Itoa((10-sum%10)%10)
}

// startPostgres starts PostgreSQL with pg_stat_statements loaded (a
// restart: the library loads at start only).
func startPostgres(ctx context.Context, dir string) (*localpg.Server, error) {
	pg, err := localpg.Start(ctx, localpg.Options{Dir: dir, Fsync: true})
	if err != nil {
		return nil, err
	}
	conn, err := pgx.Connect(ctx, pg.URL("postgres"))
	if err == nil {
		_, err = conn.Exec(ctx, "ALTER SYSTEM SET shared_preload_libraries = 'pg_stat_statements'")
		conn.Close(ctx)
	}
	if err != nil {
		pg.Stop()
		return nil, err
	}
	if err := pg.Stop(); err != nil {
		return nil, err
	}
	return localpg.Start(ctx, localpg.Options{Dir: dir, Fsync: true})
}

// topStatements lists the statements that took the most time, and the
// time of all.
func topStatements(ctx context.Context, db interface {
	Query(context.Context, string, ...any) (pgx.Rows, error)
}, n int) ([]string, time.Duration, error) {
	rows, err := db.Query(ctx, `SELECT calls, total_exec_time, query FROM pg_stat_statements
		WHERE dbid = (SELECT oid FROM pg_database WHERE datname = 'altyn') ORDER BY total_exec_time DESC`)
	if err != nil {
		return nil, 0, fmt.Errorf("pg_stat_statements: %w", err)
	}
	defer rows.Close()
	var out []string
	var total float64
	for rows.Next() {
		var calls int64
		var ms float64
		var query string
		if err := rows.Scan(&calls, &ms, &query); err != nil {
			return nil, 0, err
		}
		total += ms
		if len(out) < n {
			q := strings.Join(strings.Fields(query), " ")
			if len(q) > 90 {
				q = q[:90] + "…"
			}
			out = append(out, fmt.Sprintf("%8.0f ms %8d calls %6.3f ms/call  %s", ms, calls, ms/float64(max(calls, 1)), q))
		}
	}
	return out, time.Duration(total * float64(time.Millisecond)), rows.Err()
}

// dbStat is a reading of pg_stat_database for altyn's database.
type dbStat struct {
	active             time.Duration // time spent executing statements
	commits, rollbacks int64
}

func activeTime(ctx context.Context, conn *pgx.Conn) (dbStat, error) {
	var ms float64
	var s dbStat
	if err := conn.QueryRow(ctx, `SELECT active_time, xact_commit, xact_rollback FROM pg_stat_database WHERE datname = 'altyn'`).
		Scan(&ms, &s.commits, &s.rollbacks); err != nil {
		return s, fmt.Errorf("pg_stat_database: %w", err)
	}
	s.active = time.Duration(ms * float64(time.Millisecond))
	return s, nil
}

func perOp(d time.Duration, n int) time.Duration {
	if n == 0 {
		return 0
	}
	return (d / time.Duration(n)).Round(time.Microsecond)
}

// cpu is the CPU time of this process and of the postgres processes.
type cpu struct{ self, postgres time.Duration }

// sampleCPU reads /proc (Linux): this process, and every process named
// postgres with the time of the backends it has reaped.
func sampleCPU() cpu {
	var c cpu
	self := os.Getpid()
	for pid, p := range benchenv.Procs() {
		switch {
		case pid == self:
			c.self = p.Own
		case p.Comm == "postgres":
			c.postgres += p.Own + p.Reaped
		}
	}
	return c
}
