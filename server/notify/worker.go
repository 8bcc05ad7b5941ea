package notify

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/altynpay/altyn/store"
)

// fanOutBatch is how many outbox rows one fan-out transaction takes, and
// fanOutRounds how many such transactions one round of the loop runs at
// most before it delivers.
const (
	fanOutBatch  = 256
	fanOutRounds = 8
)

// Run delivers notifications until ctx ends, then lets the deliveries in
// flight finish for up to ShutdownGrace and records them. Run it on every
// replica: replicas share the work through the database, each delivery
// going to one of them at a time. Call Run once per Notifier.
func (n *Notifier) Run(ctx context.Context) {
	deliverCtx, cancel := context.WithCancel(context.WithoutCancel(ctx))
	records := make(chan store.AttemptRecord, 4*n.cfg.Concurrency)
	recorded := make(chan struct{})
	go func() {
		defer close(recorded)
		n.record(records)
	}()
	n.mu.Lock()
	n.records = records
	n.mu.Unlock()
	defer func() {
		t := time.AfterFunc(n.cfg.ShutdownGrace, cancel)
		n.wg.Wait()
		t.Stop()
		cancel()
		close(records)
		<-recorded
	}()
	var caughtUp time.Time // real time of the last full scan of the outbox
	fanOutDue := true
	poll := time.NewTimer(n.cfg.PollInterval)
	defer poll.Stop()
	for ctx.Err() == nil {
		more := false
		if fanOutDue {
			full := caughtUp.IsZero() || time.Since(caughtUp) >= n.cfg.CatchUpEvery
			fanned, err := n.FanOut(ctx, full)
			switch {
			case err != nil && ctx.Err() == nil:
				n.log.ErrorContext(ctx, "notify: fan out", "err", err)
			case err == nil && full:
				caughtUp = time.Now()
			}
			more = err == nil && fanned == fanOutBatch*fanOutRounds
		}
		leased, err := n.dispatch(ctx, deliverCtx)
		if err != nil && ctx.Err() == nil {
			n.log.ErrorContext(ctx, "notify: lease deliveries", "err", err)
		}
		if more || (err == nil && leased > 0 && n.free() >= n.cfg.PerTarget) {
			continue // there may be more right away
		}
		fanOutDue = false
		select {
		case <-ctx.Done():
		case <-poll.C:
			poll.Reset(n.cfg.PollInterval)
			fanOutDue = true
		case <-n.wake:
			fanOutDue = true
		case <-n.freed:
			// Room for more deliveries: lease what is already fanned out.
		}
	}
}

// FanOut turns outbox rows not yet fanned out into deliveries and says how
// many rows it took. Normally it looks only at rows created since a little
// (FanOutLag) before the newest row fanned out; full looks at the whole
// outbox, for rows committed later than that.
func (n *Notifier) FanOut(ctx context.Context, full bool) (int, error) {
	var from time.Time
	if !full {
		mark, err := n.store.NotificationFanOutMark(ctx)
		if err != nil {
			return 0, err
		}
		if !mark.IsZero() {
			from = mark.Add(-n.cfg.FanOutLag)
		}
	}
	total := 0
	for range fanOutRounds {
		k, err := n.store.FanOutNotifications(ctx, from, fanOutBatch, n.plan(n.now()))
		total += k
		if err != nil || k < fanOutBatch {
			return total, err
		}
	}
	return total, nil
}

// slowPerTarget is the in-flight limit of a target whose last attempt
// timed out or took more than half the timeout: it gets two slots until it
// answers quickly again.
const slowPerTarget = 2

// capOf is how many deliveries target may have in flight. Call with n.mu held.
func (n *Notifier) capOf(target string) int {
	if n.slow[target] {
		return min(slowPerTarget, n.cfg.PerTarget)
	}
	return n.cfg.PerTarget
}

// free is the number of idle delivery slots.
func (n *Notifier) free() int {
	n.mu.Lock()
	defer n.mu.Unlock()
	return n.cfg.Concurrency - n.inflight
}

// dispatch leases due deliveries for the idle slots and sends each in its
// own goroutine. A target may have only its cap in flight, so a slow
// receiver holds few slots and the others go on. A target more than half
// full is not leased for, and a lease takes at most PerTarget rows, so the
// rows of one target rarely exceed its room; those that do are given back.
func (n *Notifier) dispatch(ctx, deliverCtx context.Context) (int, error) {
	n.mu.Lock()
	free := n.cfg.Concurrency - n.inflight
	var busy []string
	for target, k := range n.perTarget {
		if k > n.capOf(target)/2 {
			busy = append(busy, target)
		}
	}
	n.mu.Unlock()
	if free <= 0 {
		return 0, nil
	}
	now := n.now()
	leaseID := newID("lse")
	list, err := n.store.LeaseDeliveries(ctx, now, now.Add(n.cfg.Lease), leaseID, min(free, n.cfg.PerTarget), busy)
	if err != nil {
		return 0, err
	}
	var back []store.Delivery
	started := 0
	n.mu.Lock()
	for _, d := range list {
		if n.perTarget[d.Target] >= n.capOf(d.Target) {
			back = append(back, d.Delivery)
			continue
		}
		n.perTarget[d.Target]++
		n.inflight++
		n.wg.Add(1)
		started++
		go n.deliver(deliverCtx, leaseID, d)
	}
	n.mu.Unlock()
	if len(back) > 0 {
		// More of one target than it has room for: give them back for a
		// later round (the target is skipped until it has room).
		if err := n.store.ReleaseDeliveries(ctx, leaseID, now, back...); err != nil {
			return started, err
		}
	}
	return started, nil
}

// deliver makes one attempt of a leased delivery and hands it to the recorder.
func (n *Notifier) deliver(ctx context.Context, leaseID string, d store.LeasedDelivery) {
	started, t0 := n.now(), time.Now()
	status, err := n.attempt(ctx, d)
	latency := time.Since(t0)

	n.mu.Lock()
	n.inflight--
	if n.perTarget[d.Target]--; n.perTarget[d.Target] <= 0 {
		delete(n.perTarget, d.Target)
	}
	switch {
	case errors.Is(err, errTimeout) || latency > n.cfg.Timeout/2:
		n.slow[d.Target] = true
	case err == nil:
		delete(n.slow, d.Target)
	}
	// Wake the loop when a target or the whole replica has room for a
	// lease again, not at every delivery.
	wake := n.perTarget[d.Target] == n.capOf(d.Target)/2 || n.cfg.Concurrency-n.inflight == n.cfg.PerTarget || n.inflight == 0
	records := n.records
	n.mu.Unlock()
	if wake {
		select {
		case n.freed <- struct{}{}:
		default:
		}
	}
	defer n.wg.Done()

	if ctx.Err() != nil {
		// Shutting down mid-attempt: the receiver may or may not have it.
		// Give the delivery back so a live replica sends it (again).
		rctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 10*time.Second)
		defer cancel()
		if err := n.store.ReleaseDeliveries(rctx, leaseID, n.now(), d.Delivery); err != nil {
			n.log.WarnContext(rctx, "notify: release delivery", "notification", d.OutboxID, "err", err)
		}
		return
	}
	a := store.DeliveryAttempt{Attempt: d.Attempts + 1, Target: d.Target, StartedAt: started, Latency: latency, HTTPStatus: status}
	var out store.DeliveryOutcome
	switch {
	case err == nil:
		out = store.DeliveryOutcome{Status: store.DeliveryDelivered, DeliveredAt: n.now()}
	case isPermanent(err) || a.Attempt >= d.MaxAttempts:
		out = store.DeliveryOutcome{Status: store.DeliveryFailed, NextAttemptAt: n.now()}
	default:
		out = store.DeliveryOutcome{Status: store.DeliveryPending, NextAttemptAt: n.now().Add(n.backoff(a.Attempt))}
	}
	if err != nil {
		a.Error = errorText(err)
	}
	n.log.DebugContext(ctx, "notify: attempt", "notification", d.OutboxID, "type", d.Type, "channel", d.Channel,
		"attempt", a.Attempt, "status", out.Status, "http_status", status, "latency_ms", latency.Milliseconds(), "error", a.Error)
	records <- store.AttemptRecord{Delivery: d.Delivery, LeaseID: leaseID, Attempt: a, Outcome: out}
}

// record writes finished attempts to the database, many per transaction:
// it takes what has arrived since the last commit, so under load one
// commit serves many deliveries and when idle an attempt is written at once.
func (n *Notifier) record(records <-chan store.AttemptRecord) {
	const maxBatch = 256
	for r := range records {
		batch := []store.AttemptRecord{r}
	drain:
		for len(batch) < maxBatch {
			select {
			case r, ok := <-records:
				if !ok {
					break drain
				}
				batch = append(batch, r)
			default:
				break drain
			}
		}
		ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
		ok, err := n.store.RecordDeliveryAttempts(ctx, batch)
		cancel()
		if err != nil {
			// The attempts are lost, not the deliveries: their leases run
			// out and they are tried again.
			n.log.Error("notify: record attempts", "attempts", len(batch), "err", err)
			continue
		}
		for i, recorded := range ok {
			if !recorded {
				// The lease ran out or a resend reset the delivery: whoever
				// holds it now records its own attempt.
				n.log.Warn("notify: lease lost before the attempt was recorded",
					"notification", batch[i].Delivery.OutboxID, "channel", batch[i].Delivery.Channel)
			}
		}
	}
}

// attempt sends one delivery; status is the HTTP status if one came back.
func (n *Notifier) attempt(ctx context.Context, d store.LeasedDelivery) (int, error) {
	if d.Message.ID == "" {
		return 0, permanent(errors.New("the outbox row is gone"))
	}
	ev, err := decodeEvent(d.Message)
	if err != nil {
		return 0, permanent(err)
	}
	m, err := n.merchants.ByID(ctx, d.MerchantID)
	if err != nil {
		return 0, fmt.Errorf("merchant: %w", err)
	}
	switch d.Channel {
	case store.ChannelEmail:
		cctx, cancel := context.WithTimeout(ctx, n.cfg.Timeout)
		defer cancel()
		return 0, n.sendEmail(cctx, ev, m, d.Target)
	case store.ChannelHTTP:
		secret, err := n.merchants.Secret(ctx, m.PublicID)
		if err != nil {
			return 0, fmt.Errorf("merchant secret: %w", err)
		}
		req, err := render(ev, m, secret, d.Format, d.Method, d.Target, n.now())
		if err != nil {
			return 0, permanent(fmt.Errorf("render: %w", err))
		}
		cctx, cancel := context.WithTimeout(ctx, n.cfg.Timeout)
		defer cancel()
		status, answer, err := n.do(cctx, req)
		if err != nil {
			return status, err
		}
		return status, judge(status, answer)
	}
	return 0, permanent(fmt.Errorf("unknown channel %q", d.Channel))
}
