package api

import (
	"sync"
	"time"

	"golang.org/x/time/rate"
)

// PayLimit bounds the payment attempts one client address may make through
// the public CheckoutService (Pay, PayInvoice): a card-testing bot that
// tries stolen numbers one after another is slowed to PerMinute, while a
// payer who mistypes a card a few times is never stopped. Zero PerMinute
// means no limit.
type PayLimit struct {
	PerMinute int
	Burst     int // attempts allowed at once; 0 means PerMinute
}

// DefaultPayLimit: 10 attempts at once, then one every 6 seconds.
var DefaultPayLimit = PayLimit{PerMinute: 10, Burst: 10}

// ipLimiter keeps one token bucket per client address. Buckets idle for
// idleAfter are forgotten (they are full again by then).
type ipLimiter struct {
	limit   rate.Limit
	burst   int
	mu      sync.Mutex
	buckets map[string]*bucket
	swept   time.Time
}

type bucket struct {
	lim  *rate.Limiter
	used time.Time
}

const idleAfter = 10 * time.Minute

func newIPLimiter(l PayLimit) *ipLimiter {
	if l.PerMinute <= 0 {
		return nil
	}
	burst := l.Burst
	if burst <= 0 {
		burst = l.PerMinute
	}
	return &ipLimiter{limit: rate.Limit(float64(l.PerMinute) / 60), burst: burst, buckets: map[string]*bucket{}}
}

// allow takes one attempt from addr's bucket; a nil limiter allows all.
func (l *ipLimiter) allow(addr string, now time.Time) bool {
	if l == nil {
		return true
	}
	l.mu.Lock()
	defer l.mu.Unlock()
	if now.Sub(l.swept) > idleAfter {
		for a, b := range l.buckets {
			if now.Sub(b.used) > idleAfter {
				delete(l.buckets, a)
			}
		}
		l.swept = now
	}
	b, ok := l.buckets[addr]
	if !ok {
		b = &bucket{lim: rate.NewLimiter(l.limit, l.burst)}
		l.buckets[addr] = b
	}
	b.used = now
	return b.lim.AllowN(now, 1)
}
