package main

import (
	"context"
	"fmt"
	"runtime"
	"sync"
	"sync/atomic"
	"time"

	"github.com/altynpay/altyn/cryptogram"
)

// card is the sandbox card that approves without 3-D Secure, so that every
// Charge is one authorization with capture.
var card = cryptogram.Card{PAN: "4000000000003055", ExpMonth: 12, ExpYear: 2030, CVV: "123"}

// supply is a stock of cryptograms sealed before the timed run: they are
// single use, and sealing one costs about as much CPU as opening it, so
// sealing during the run would take CPU from the server being measured.
//
// The packets are kept outside the Go heap: a few hundred megabytes of live
// heap would make the garbage collector run several times less often than
// it does in a real server, and flatter the figures.
type supply struct {
	mem  []byte // n packets of size bytes each
	size int
	n    int
	next atomic.Int64
	free func()
}

// take returns the next unused cryptogram, or false when none is left. The
// string is a copy on the heap, as a request's field would be.
func (s *supply) take() (string, bool) {
	i := int(s.next.Add(1) - 1)
	if i >= s.n {
		return "", false
	}
	return string(s.mem[i*s.size : (i+1)*s.size]), true
}

func (s *supply) release() {
	if s.free != nil {
		s.free()
		s.free = nil
	}
}

// seal makes n cryptograms for the merchant, on every core.
func seal(ctx context.Context, key cryptogram.PublicKey, merchantPublicID string, n int) (*supply, error) {
	first, err := cryptogram.Seal(key, merchantPublicID, card, cryptogram.SealOptions{})
	if err != nil {
		return nil, fmt.Errorf("seal: %w", err)
	}
	// Packets of one card and key all have the same length: the payload is
	// padded to a multiple of 32 bytes.
	size := len(first)
	mem, free, err := offHeap(n * size)
	if err != nil {
		return nil, fmt.Errorf("memory for %d cryptograms: %w", n, err)
	}
	s := &supply{mem: mem, size: size, n: n, free: free}
	copy(mem, first)

	var next atomic.Int64
	next.Store(1)
	var (
		wg       sync.WaitGroup
		mu       sync.Mutex
		firstErr error
	)
	for range runtime.NumCPU() {
		wg.Go(func() {
			for ctx.Err() == nil {
				i := int(next.Add(1) - 1)
				if i >= n {
					return
				}
				pkt, err := cryptogram.Seal(key, merchantPublicID, card, cryptogram.SealOptions{})
				if err == nil && len(pkt) != size {
					err = fmt.Errorf("cryptogram of %d bytes, want %d", len(pkt), size)
				}
				if err != nil {
					mu.Lock()
					if firstErr == nil {
						firstErr = fmt.Errorf("seal: %w", err)
					}
					mu.Unlock()
					next.Store(int64(n))
					return
				}
				copy(mem[i*size:], pkt)
			}
		})
	}
	wg.Wait()
	if firstErr == nil {
		firstErr = ctx.Err()
	}
	if firstErr != nil {
		s.release()
		return nil, firstErr
	}
	return s, nil
}

// cryptoCost is the CPU time of one Seal and one Open of the benchmark's
// cryptogram on one core, with the merchant's own keys:
// Open is what every Charge does first.
type cryptoCost struct {
	Seal time.Duration `json:"seal_ns"`
	Open time.Duration `json:"open_ns"`
}

func measureCrypto(a *altyn) (cryptoCost, error) {
	const n = 300
	sealOne := func() (string, error) {
		return cryptogram.Seal(a.key, a.merchant.PublicID, card, cryptogram.SealOptions{})
	}
	for range 10 { // warm the caches
		if _, err := sealOne(); err != nil {
			return cryptoCost{}, fmt.Errorf("seal: %w", err)
		}
	}
	pkts := make([]string, n)
	start := time.Now()
	for i := range pkts {
		var err error
		if pkts[i], err = sealOne(); err != nil {
			return cryptoCost{}, fmt.Errorf("seal: %w", err)
		}
	}
	c := cryptoCost{Seal: time.Since(start) / n}
	start = time.Now()
	for _, pkt := range pkts {
		if _, err := a.ring.Open(pkt, a.merchant.PublicID, cryptogram.OpenOptions{}); err != nil {
			return c, fmt.Errorf("open: %w", err)
		}
	}
	c.Open = time.Since(start) / n
	return c, nil
}
