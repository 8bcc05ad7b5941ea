package main

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"maps"
	"math"
	"slices"
	"sync"
	"sync/atomic"
	"time"

	"connectrpc.com/connect"

	altynv1 "github.com/altynpay/altyn/gen/altyn/v1"
	"github.com/altynpay/altyn/gen/altyn/v1/altynv1connect"
)

// callTimeout bounds one Charge, so that a stuck server cannot stop the
// benchmark from ending.
const callTimeout = 30 * time.Second

// phase is the outcome of driving Charge calls for a while.
type phase struct {
	Elapsed   time.Duration // from the start until the last caller returned
	Calls     int           // every call made; each used one cryptogram
	Completed int           // calls that answered with a COMPLETED payment
	// Statuses counts answers with another status; Errors counts failed
	// calls by Connect code and message.
	Statuses  map[string]int
	Errors    map[string]int
	Latencies []time.Duration // of the completed calls, sorted
	// RanOut is when the first caller found the supply empty (zero if none did).
	RanOut time.Duration
}

// drive runs clients callers of Charge, each with its own cryptograms from
// s, until d has passed or s is empty. Each caller waits for its answer
// before its next call (a closed loop), as pgbench's clients do.
func drive(ctx context.Context, client altynv1connect.PaymentServiceClient, clients int, d time.Duration, s *supply) *phase {
	type tally struct {
		calls, completed int
		statuses, errors map[string]int
		latencies        []time.Duration
	}
	tallies := make([]tally, clients)
	var ranOut atomic.Int64
	start := time.Now()
	deadline := start.Add(d)
	var wg sync.WaitGroup
	for i := range tallies {
		t := &tallies[i]
		t.statuses, t.errors = map[string]int{}, map[string]int{}
		t.latencies = make([]time.Duration, 0, 4096)
		wg.Go(func() {
			for ctx.Err() == nil && time.Now().Before(deadline) {
				pkt, ok := s.take()
				if !ok {
					ranOut.CompareAndSwap(0, int64(time.Since(start)))
					return
				}
				req := connect.NewRequest(&altynv1.ChargeRequest{
					Amount:     &altynv1.Money{Amount: 10000, Currency: "RUB"}, // 100 roubles in kopecks
					Cryptogram: pkt,
				})
				callCtx, cancel := context.WithTimeout(ctx, callTimeout)
				began := time.Now()
				res, err := client.Charge(callCtx, req)
				took := time.Since(began)
				cancel()
				if ctx.Err() != nil {
					return // interrupted: this call does not count
				}
				t.calls++
				if err != nil {
					t.errors[connect.CodeOf(err).String()+": "+errorMessage(err)]++
					continue
				}
				if status := res.Msg.GetPayment().GetStatus(); status != altynv1.PaymentStatus_PAYMENT_STATUS_COMPLETED {
					t.statuses[status.String()]++
					continue
				}
				t.completed++
				t.latencies = append(t.latencies, took)
			}
		})
	}
	wg.Wait()
	p := &phase{Elapsed: time.Since(start), RanOut: time.Duration(ranOut.Load()), Statuses: map[string]int{}, Errors: map[string]int{}}
	for _, t := range tallies {
		p.Calls += t.calls
		p.Completed += t.completed
		p.Latencies = append(p.Latencies, t.latencies...)
		for k, v := range t.statuses {
			p.Statuses[k] += v
		}
		for k, v := range t.errors {
			p.Errors[k] += v
		}
	}
	slices.Sort(p.Latencies)
	return p
}

// errorMessage is a Connect error's message without its code prefix.
func errorMessage(err error) string {
	if ce, ok := errors.AsType[*connect.Error](err); ok {
		return ce.Message()
	}
	return err.Error()
}

// rate is completed charges per second.
func (p *phase) rate() float64 { return float64(p.Completed) / p.Elapsed.Seconds() }

// callRate is calls (cryptograms used) per second.
func (p *phase) callRate() float64 { return float64(p.Calls) / p.Elapsed.Seconds() }

// errorCount is the number of failed calls.
func (p *phase) errorCount() int {
	n := 0
	for _, v := range p.Errors {
		n += v
	}
	return n
}

// percentile returns the q-quantile (0 < q ≤ 1) of the completed calls'
// latencies, nearest rank.
func (p *phase) percentile(q float64) time.Duration {
	if len(p.Latencies) == 0 {
		return 0
	}
	i := int(math.Ceil(q*float64(len(p.Latencies)))) - 1
	return p.Latencies[min(max(i, 0), len(p.Latencies)-1)]
}

// topCounts lists a count map's entries, largest first, at most n of them.
func topCounts(m map[string]int, n int) []string {
	keys := slices.Collect(maps.Keys(m))
	slices.SortFunc(keys, func(a, b string) int { return cmp.Or(cmp.Compare(m[b], m[a]), cmp.Compare(a, b)) })
	var out []string
	for _, k := range keys[:min(n, len(keys))] {
		out = append(out, fmt.Sprintf("%d × %s", m[k], k))
	}
	return out
}
