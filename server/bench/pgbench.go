package main

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"time"
)

// pgbenchResult is what pgbench's TPC-B run reported.
type pgbenchResult struct {
	TPS       float64       `json:"tps"`
	Processed int           `json:"transactions"`
	Failed    int           `json:"failed"`
	Retried   int           `json:"retried"`
	Latency   time.Duration `json:"latency_avg_ns"`
	Isolation string        `json:"isolation"`
	Binary    string        `json:"binary"`
	CPU       *cpuUse       `json:"cpu,omitempty"`
	DB        dbUse         `json:"postgresql"`
}

// findPgbench returns the pgbench of the newest PostgreSQL installed, or
// the one on PATH (Debian's is a wrapper that picks a version itself).
func findPgbench() (string, error) {
	found, _ := filepath.Glob("/usr/lib/postgresql/*/bin/pgbench")
	slices.SortFunc(found, func(a, b string) int {
		va, _ := strconv.ParseFloat(filepath.Base(filepath.Dir(filepath.Dir(a))), 64)
		vb, _ := strconv.ParseFloat(filepath.Base(filepath.Dir(filepath.Dir(b))), 64)
		return -cmpFloat(va, vb)
	})
	if len(found) > 0 {
		return found[0], nil
	}
	if p, err := exec.LookPath("pgbench"); err == nil {
		return p, nil
	}
	return "", errors.New("pgbench not found in /usr/lib/postgresql/*/bin or PATH: apt-get install -y postgresql-contrib (or postgresql)")
}

func cmpFloat(a, b float64) int {
	switch {
	case a < b:
		return -1
	case a > b:
		return 1
	}
	return 0
}

// pgbenchCmd prepares pgbench against database on the local server. The
// isolation level is set per connection: the server's default is
// SERIALIZABLE (localpg), where TPC-B's hot branch rows fail many
// transactions that pgbench's usual figure, at READ COMMITTED, commits.
func pgbenchCmd(ctx context.Context, bin string, port int, database, isolation string, args ...string) *exec.Cmd {
	args = append([]string{"-h", "127.0.0.1", "-p", strconv.Itoa(port), "-U", "postgres"}, args...)
	cmd := exec.CommandContext(ctx, bin, append(args, database)...)
	cmd.Env = append(os.Environ(),
		"PGSSLMODE=disable",
		"PGOPTIONS=-c default_transaction_isolation="+strings.ReplaceAll(isolation, " ", `\ `))
	return cmd
}

// initPgbench creates pgbench's tables at scale factor scale (100,000
// accounts and one branch per unit).
func initPgbench(ctx context.Context, bin string, port, scale int) error {
	cmd := pgbenchCmd(ctx, bin, port, "pgbench", "read committed", "-i", "-q", "-s", strconv.Itoa(scale))
	if out, err := cmd.CombinedOutput(); err != nil {
		return fmt.Errorf("pgbench -i: %w\n%s", err, bytes.TrimSpace(out))
	}
	return nil
}

// runPgbench runs the TPC-B-like default script for d with clients
// connections on two threads, without vacuuming first (-n), and returns
// what pgbench reported. At SERIALIZABLE, failed transactions are retried
// up to 51 times, as altyn's store retries its own.
func runPgbench(ctx context.Context, bin string, port, clients int, d time.Duration, isolation string) (*pgbenchResult, error) {
	args := []string{"-n", "-c", strconv.Itoa(clients), "-j", strconv.Itoa(min(2, clients)), "-T", strconv.Itoa(int(d.Round(time.Second).Seconds()))}
	if isolation == "serializable" {
		args = append(args, "--max-tries=51")
	}
	cmd := pgbenchCmd(ctx, bin, port, "pgbench", isolation, args...)
	var out bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &out
	before := sampleCPU()
	start := time.Now()
	err := cmd.Run()
	elapsed := time.Since(start)
	time.Sleep(200 * time.Millisecond) // let the postmaster reap pgbench's backends
	after := sampleCPU()
	if err != nil {
		return nil, fmt.Errorf("pgbench: %w\n%s", err, bytes.TrimSpace(out.Bytes()))
	}
	r, err := parsePgbench(out.String())
	if err != nil {
		return nil, fmt.Errorf("%w\n%s", err, bytes.TrimSpace(out.Bytes()))
	}
	r.Isolation, r.Binary = isolation, bin
	if st := cmd.ProcessState; st != nil {
		if u, ok := cpuBetween(before, after, elapsed, st.UserTime()+st.SystemTime()); ok {
			r.CPU = &u
		}
	}
	return r, nil
}

var (
	tpsLine       = regexp.MustCompile(`(?m)^tps = ([0-9.]+) \(without initial connection time\)`)
	processedLine = regexp.MustCompile(`(?m)^number of transactions actually processed: (\d+)`)
	failedLine    = regexp.MustCompile(`(?m)^number of failed transactions: (\d+)`)
	retriedLine   = regexp.MustCompile(`(?m)^number of transactions retried: (\d+)`)
	latencyLine   = regexp.MustCompile(`(?m)^latency average = ([0-9.]+) ms`)
)

// parsePgbench reads pgbench's summary (PostgreSQL 15's format; the failed
// and retried lines are absent in older versions).
func parsePgbench(out string) (*pgbenchResult, error) {
	m := tpsLine.FindStringSubmatch(out)
	if m == nil {
		return nil, errors.New("pgbench: no \"tps = … (without initial connection time)\" line in its output")
	}
	r := &pgbenchResult{}
	r.TPS, _ = strconv.ParseFloat(m[1], 64)
	atoi := func(re *regexp.Regexp) int {
		if m := re.FindStringSubmatch(out); m != nil {
			n, _ := strconv.Atoi(m[1])
			return n
		}
		return 0
	}
	r.Processed, r.Failed, r.Retried = atoi(processedLine), atoi(failedLine), atoi(retriedLine)
	if m := latencyLine.FindStringSubmatch(out); m != nil {
		ms, _ := strconv.ParseFloat(m[1], 64)
		r.Latency = time.Duration(ms * float64(time.Millisecond))
	}
	return r, nil
}
