// Command bench is altyn's load benchmark. It starts a private PostgreSQL
// (fsync on, like a real run) and altyn in-process on a loopback h2c
// listener, drives concurrent PaymentService.Charge calls with cryptograms
// sealed beforehand for a fixed time, then runs pgbench's TPC-B with the same
// client count and duration against the same PostgreSQL, and prints
// charges/s, latency percentiles and the ratio charges/s ÷ pgbench tps.
//
//	go run ./server/bench [-clients 16] [-duration 30s] [-warmup 3s] [-json] [-cpuprofile FILE]
//
// The figures and how to read them are in docs/benchmarks.md.
package main

import (
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"os/signal"
	"syscall"
	"time"
)

// config is the command line.
type config struct {
	clients          int
	duration         time.Duration
	warmup           time.Duration
	json             bool
	cpuProfile       string
	pgbenchIsolation string
	maxCryptograms   int
}

func main() {
	var c config
	flag.IntVar(&c.clients, "clients", 16, "concurrent Charge callers, and pgbench clients")
	flag.DurationVar(&c.duration, "duration", 30*time.Second, "measured time of each phase (charges, then pgbench)")
	flag.DurationVar(&c.warmup, "warmup", 10*time.Second, "unmeasured load before the charges are timed (it fills the young payments table, see docs/benchmarks.md); it also sizes the cryptogram supply (at least 1s)")
	flag.BoolVar(&c.json, "json", false, "print the report as JSON instead of text")
	flag.StringVar(&c.cpuProfile, "cpuprofile", "", "write a CPU profile of this process (altyn server and load client) during the timed charges to `file`")
	flag.StringVar(&c.pgbenchIsolation, "pgbench-isolation", "read committed", "isolation level of pgbench's transactions: \"read committed\" (pgbench's usual figure) or \"serializable\" (altyn's level; failed transactions are retried)")
	flag.IntVar(&c.maxCryptograms, "max-cryptograms", 250_000, "upper bound on the cryptograms sealed for the timed phase (about 1.6 KB each, kept off the Go heap)")
	flag.Parse()
	if err := c.check(); err != nil {
		fmt.Fprintln(os.Stderr, "bench:", err)
		flag.Usage()
		os.Exit(2)
	}

	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	rep, err := run(ctx, c, os.Stderr)
	stop()
	if err != nil {
		if errors.Is(err, context.Canceled) {
			err = errors.New("interrupted; PostgreSQL stopped and its folder removed")
		}
		fmt.Fprintln(os.Stderr, "bench:", err)
		os.Exit(1)
	}
	if c.json {
		enc := json.NewEncoder(os.Stdout)
		enc.SetIndent("", "  ")
		if err := enc.Encode(rep); err != nil {
			fmt.Fprintln(os.Stderr, "bench:", err)
			os.Exit(1)
		}
		return
	}
	rep.print(os.Stdout)
}

func (c *config) check() error {
	switch {
	case c.clients < 1:
		return errors.New("-clients must be at least 1")
	case c.duration < time.Second:
		return errors.New("-duration must be at least 1s (pgbench counts whole seconds)")
	case c.warmup < time.Second:
		return errors.New("-warmup must be at least 1s: the warm-up also measures how many cryptograms to seal")
	case c.pgbenchIsolation != "read committed" && c.pgbenchIsolation != "serializable":
		return fmt.Errorf("-pgbench-isolation %q: want \"read committed\" or \"serializable\"", c.pgbenchIsolation)
	case c.maxCryptograms < c.clients:
		return errors.New("-max-cryptograms must be at least -clients")
	}
	return nil
}

// progress writes one line about what the benchmark is doing.
func progress(w io.Writer, format string, args ...any) {
	fmt.Fprintf(w, "bench: "+format+"\n", args...)
}
