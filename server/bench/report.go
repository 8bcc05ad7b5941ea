package main

import (
	"fmt"
	"io"
	"strings"
	"time"
)

// print writes the details, then the summary block the README quotes.
func (r *report) print(w io.Writer) {
	ch := &r.Charge
	m := r.Machine
	fmt.Fprintf(w, "machine:    %d × %s, %d GiB, Linux %s, load %s at start\n", m.CPUs, m.Model, m.MemoryGB, m.Kernel, m.LoadAvg)
	fmt.Fprintf(w, "PostgreSQL: %s, %s; 8 KiB write+fdatasync %v\n", r.PostgreSQL, r.Settings, us(m.Fdatasync))
	fmt.Fprintf(w, "cryptogram: Seal %v, Open %v (one core)\n", us(r.Crypto.Seal), us(r.Crypto.Open))
	fmt.Fprintf(w, "charge:     %d completed of %d calls in %v over %s; latency p50 %v p90 %v p99 %v max %v\n",
		ch.Completed, ch.Calls, ch.Elapsed.Round(time.Millisecond), r.HTTP, ms(ch.P50), ms(ch.P90), ms(ch.P99), ms(ch.Max))
	fmt.Fprintf(w, "            %d cryptograms sealed in %v beforehand (warm-up ran at %.0f calls/s, %.0f/s at its CPU cost on all cores)\n",
		ch.Sealed, ch.SealTime.Round(time.Millisecond), ch.WarmupRate, ch.Ceiling)
	if ch.RanOutAfter > 0 {
		fmt.Fprintf(w, "            RAN OUT of cryptograms after %v of %v: the rate is over the time it ran (raise -max-cryptograms or -warmup)\n",
			ch.RanOutAfter.Round(time.Millisecond), r.Duration)
	}
	for _, e := range topCounts(ch.ErrorKinds, 5) {
		fmt.Fprintf(w, "            error: %s\n", e)
	}
	for _, s := range topCounts(ch.Statuses, 5) {
		fmt.Fprintf(w, "            not completed: %s\n", s)
	}
	if u := ch.CPU; u != nil {
		fmt.Fprintf(w, "            CPU %.2f of %d cores busy (iowait %.2f): altyn+client process %.2f, postgres %.2f, rest %s\n",
			u.Busy, m.CPUs, u.IOWait, u.Process, u.Postgres, u.rest())
		fmt.Fprintf(w, "            per charge: %v in the altyn+client process, %v in postgres\n",
			perOp(u.Process, ch.PerSecond), perOp(u.Postgres, ch.PerSecond))
	}
	fmt.Fprintf(w, "            per charge: %s\n", ch.DB)
	if p := r.Pgbench; p != nil {
		fmt.Fprintf(w, "pgbench:    %d transactions, %d failed, %d retried, latency avg %v (%s)\n",
			p.Processed, p.Failed, p.Retried, ms(p.Latency), p.Binary)
		if u := p.CPU; u != nil {
			fmt.Fprintf(w, "            CPU %.2f of %d cores busy (iowait %.2f): pgbench %.2f, postgres %.2f, rest %s\n",
				u.Busy, m.CPUs, u.IOWait, u.Client, u.Postgres, u.rest())
			fmt.Fprintf(w, "            per transaction: %v in pgbench, %v in postgres\n", perOp(u.Client, p.TPS), perOp(u.Postgres, p.TPS))
		}
		fmt.Fprintf(w, "            per transaction: %s\n", p.DB)
	}

	fmt.Fprintln(w)
	fmt.Fprintf(w, "altyn bench — %d clients, %v, %d × %s, %s, PostgreSQL %s (fsync on)\n",
		r.Clients, r.Duration, m.CPUs, m.Model, m.Go, majorVersion(r.PostgreSQL))
	fmt.Fprintf(w, "charge:  %.1f charges/s  p50 %v  p99 %v  errors %d\n", ch.PerSecond, ms(ch.P50), ms(ch.P99), ch.Errors)
	if p := r.Pgbench; p != nil {
		fmt.Fprintf(w, "pgbench: %.1f tps (TPC-B, %d clients, %v, %s)\n", p.TPS, r.Clients, r.Duration, strings.ToUpper(p.Isolation))
		fmt.Fprintf(w, "ratio charges/s ÷ pgbench tps = %.2f\n", r.Ratio)
	}
}

// rest describes the CPU time that was neither ours nor PostgreSQL's.
func (u *cpuUse) rest() string {
	s := fmt.Sprintf("%.2f (interrupts %.2f, steal %.2f", u.Other, u.IRQ, u.Steal)
	if len(u.TopOthers) > 0 {
		s += "; other processes: " + strings.Join(u.TopOthers, ", ")
	}
	return s + ")"
}

func (u dbUse) String() string {
	s := fmt.Sprintf("%.0f bytes of WAL, %.2f commits, ≈%.1f rollbacks per 100 commits", u.WALBytesPerOp, u.CommitsPerOp, u.RollbacksPer100)
	if u.HOTShare != nil {
		s += fmt.Sprintf("; %.0f%% of payments updates heap-only (HOT)", 100**u.HOTShare)
	}
	return s
}

// ms rounds a latency for printing: 11.2ms.
func ms(d time.Duration) time.Duration { return d.Round(100 * time.Microsecond) }

// us rounds a short cost for printing: 123µs.
func us(d time.Duration) time.Duration { return d.Round(time.Microsecond) }

// perOp is the CPU time per operation of a process using cores at rate ops/s.
func perOp(cores, rate float64) time.Duration {
	if rate <= 0 {
		return 0
	}
	return us(time.Duration(cores / rate * float64(time.Second)))
}

// majorVersion turns "15.18 (Debian 15.18-0+deb12u1)" into "15.18".
func majorVersion(v string) string {
	f := strings.Fields(v)
	if len(f) == 0 {
		return v
	}
	return f[0]
}
