package subscriptions

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"time"

	"github.com/altynpay/altyn/server/payments"
	"github.com/altynpay/altyn/store"
)

// RunnerConfig sizes a runner.
type RunnerConfig struct {
	// Batch is how many subscriptions one transaction leases (and claims).
	Batch int
	// Chunk is how many charges go to the payment engine together
	// (Engine.PayBatch: one transaction records them, another their
	// outcomes).
	Chunk int
	// Workers is how many chunks a runner has at the engine at once.
	Workers int
	// Lease is how long a leased subscription is left to its runner; a
	// runner that dies holds its subscriptions this long at most.
	Lease time.Duration
	// Interval is the pause between passes when nothing is due.
	Interval time.Duration
}

// DefaultRunnerConfig suits one replica on a small machine.
var DefaultRunnerConfig = RunnerConfig{Batch: 256, Chunk: 128, Workers: 2, Lease: 2 * time.Minute, Interval: time.Second}

// Runner bills due subscriptions. Every replica runs one (Run); any number
// of runners may work on one database at once.
type Runner struct {
	svc *Service
	cfg RunnerConfig
	id  string
}

// NewRunner makes a runner with its own lease id.
func (s *Service) NewRunner(cfg RunnerConfig) *Runner {
	d := DefaultRunnerConfig
	if cfg.Batch <= 0 {
		cfg.Batch = d.Batch
	}
	if cfg.Chunk <= 0 {
		cfg.Chunk = d.Chunk
	}
	if cfg.Workers <= 0 {
		cfg.Workers = d.Workers
	}
	if cfg.Lease <= 0 {
		cfg.Lease = d.Lease
	}
	if cfg.Interval <= 0 {
		cfg.Interval = d.Interval
	}
	return &Runner{svc: s, cfg: cfg, id: newID("run")}
}

// Stats count what a pass did.
type Stats struct {
	Paid      int // approved charges recorded
	Declined  int // declined charges recorded
	Unsettled int // charges whose outcome is not known yet (left for a later pass)
	Rejected  int // plans rejected because their card is gone
	Errors    int // charges that failed for another reason (left for a later pass)
	Started   int // subscriptions made of payments whose hook had failed
}

func (s *Stats) add(o Stats) {
	s.Paid += o.Paid
	s.Declined += o.Declined
	s.Unsettled += o.Unsettled
	s.Rejected += o.Rejected
	s.Errors += o.Errors
	s.Started += o.Started
}

// Run bills due subscriptions until ctx ends: a pass at once, then again
// whenever the service is woken (a test clock moved, a plan was made) or
// Interval has passed.
func (r *Runner) Run(ctx context.Context) {
	t := time.NewTimer(0)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		case <-r.svc.poke:
		}
		if _, err := r.RunOnce(ctx, r.svc.now()); err != nil && ctx.Err() == nil {
			r.svc.log.ErrorContext(ctx, "subscription runner", "err", err)
		}
		t.Reset(r.cfg.Interval)
	}
}

// RunOnce bills everything due at now (and at each test clock's time),
// period after period, until nothing is due: it leases a batch, claims its
// charges, pays them and records the outcomes, and starts over. It also
// makes the subscriptions of approved payments whose hook failed.
func (r *Runner) RunOnce(ctx context.Context, now time.Time) (Stats, error) {
	now = now.UTC()
	var total Stats
	n, err := r.svc.startUnstarted(ctx, now)
	total.Started = n
	if err != nil {
		return total, fmt.Errorf("start plans: %w", err)
	}
	for {
		leased, seen, err := r.svc.store.LeaseDue(ctx, now, r.cfg.Batch, r.id, now.Add(r.cfg.Lease), now.Add(-HistoryWindow), r.claim(now))
		if err != nil {
			return total, fmt.Errorf("lease: %w", err)
		}
		if seen == 0 {
			return total, nil
		}
		st, err := r.bill(ctx, now, leased)
		total.add(st)
		if err != nil {
			return total, err
		}
	}
}

// bill pays the leased charges — new attempts in chunks through
// Engine.PayBatch, attempts in flight one by one — Workers at a time, and
// records the outcomes.
func (r *Runner) bill(ctx context.Context, now time.Time, leased []store.Leased) (Stats, error) {
	outs := make([]outcome, len(leased))
	var fresh, again []int
	for i, l := range leased {
		if l.Redrive {
			again = append(again, i)
		} else {
			fresh = append(fresh, i)
		}
	}
	var jobs []func()
	for len(fresh) > 0 {
		k := min(r.cfg.Chunk, len(fresh))
		chunk := fresh[:k]
		fresh = fresh[k:]
		jobs = append(jobs, func() { r.payChunk(ctx, leased, chunk, outs) })
	}
	for _, i := range again {
		jobs = append(jobs, func() {
			// A serialization failure outside the engine's retried
			// transactions (its plain reads) is worth another try at once:
			// the idempotency key makes a repeat safe.
			for try := 0; ; try++ {
				outs[i] = r.drive(ctx, leased[i])
				if try == 2 || !transient(outs[i].err) || ctx.Err() != nil {
					break
				}
			}
		})
	}
	var wg sync.WaitGroup
	sem := make(chan struct{}, r.cfg.Workers)
	for _, job := range jobs {
		if ctx.Err() != nil {
			break
		}
		sem <- struct{}{}
		wg.Go(func() {
			defer func() { <-sem }()
			job()
		})
	}
	wg.Wait()
	if err := ctx.Err(); err != nil {
		return Stats{}, err
	}
	var st Stats
	var done []*outcome
	for i := range outs {
		o := &outs[i]
		switch {
		case o.charge == nil:
			continue
		case o.err != nil:
			st.Errors++
			r.svc.log.WarnContext(ctx, "scheduled charge failed; retried after the lease", "subscription", o.sub.ID, "err", o.err)
		case o.cardGone:
			st.Rejected++
			done = append(done, o)
		case o.payment != nil && approved(o.payment):
			st.Paid++
			done = append(done, o)
		case o.payment != nil && o.payment.Status == store.StatusDeclined:
			st.Declined++
			done = append(done, o)
		default:
			// The acquirer's answer is outstanding: the engine's resolver
			// settles the payment, and the next lease records it.
			st.Unsettled++
		}
	}
	const chunk = 128
	for len(done) > 0 {
		k := min(chunk, len(done))
		if err := r.record(ctx, now, done[:k]); err != nil {
			return st, fmt.Errorf("record: %w", err)
		}
		done = done[k:]
	}
	return st, nil
}

// outcome is what became of one leased charge.
type outcome struct {
	sub      *store.Subscription
	charge   *store.Charge
	at       time.Time      // the subscription's time when it was leased
	payment  *store.Payment // nil when unknown
	cardGone bool           // the token no longer pays
	err      error
}

// command is the payment of a charge's attempt. Repeated for the same
// attempt it is the same command, so the engine's idempotency key answers
// it with the first payment.
func command(c *store.Charge) payments.PayCommand {
	return payments.PayCommand{
		MerchantID: c.MerchantID, TwoStage: c.TwoStage, Amount: c.Amount, Currency: c.Currency,
		Token: c.TokenID, AccountID: c.AccountID, Initiator: payments.InitiatorMerchant, Scheduled: true,
		Description: c.Description, Email: c.Email, IdempotencyKey: c.Key, SubscriptionID: c.SubscriptionID,
	}
}

// payChunk pays new attempts together through Engine.PayBatch.
func (r *Runner) payChunk(ctx context.Context, leased []store.Leased, chunk []int, outs []outcome) {
	cmds := make([]payments.PayCommand, len(chunk))
	for k, i := range chunk {
		cmds[k] = command(leased[i].Charge)
	}
	res := r.svc.engine.PayBatch(ctx, cmds)
	for k, i := range chunk {
		l := leased[i]
		outs[i] = outcomeOf(outcome{sub: l.Subscription, charge: l.Charge, at: l.ClockNow}, res[k].Result, res[k].Err)
	}
}

// outcomeOf completes an outcome with the engine's answer.
func outcomeOf(o outcome, res *payments.Result, err error) outcome {
	switch {
	case errors.Is(err, payments.ErrTokenNotFound), errors.Is(err, payments.ErrForeignToken), errors.Is(err, payments.ErrTokenAccount):
		o.cardGone = true
	case err != nil:
		o.err = err
	default:
		o.payment = res.Payment
	}
	return o
}

// drive makes (or, for an attempt in flight, finds) the charge's payment.
// The engine's idempotency key is the charge's, so asking the engine again
// never makes a second payment for one attempt.
func (r *Runner) drive(ctx context.Context, l store.Leased) outcome {
	o := outcome{sub: l.Subscription, charge: l.Charge, at: l.ClockNow}
	c := l.Charge
	if l.Redrive {
		// The attempt was in flight when its runner died, or its answer was
		// outstanding: its payment, if it was made, answers.
		rec, err := r.svc.store.Idempotency(ctx, c.MerchantID, c.Key)
		switch {
		case err == nil:
			o.payment, o.err = r.svc.store.Payment(ctx, c.MerchantID, rec.PaymentID)
			return o
		case !errors.Is(err, store.ErrNotFound):
			o.err = err
			return o
		}
	}
	res, err := r.svc.engine.Pay(ctx, command(c))
	return outcomeOf(o, res, err)
}

// transient reports whether err is a serialization failure or deadlock
// (SQLSTATE 40001, 40P01) that a repeat may not meet.
func transient(err error) bool {
	var se interface{ SQLState() string }
	return errors.As(err, &se) && (se.SQLState() == "40001" || se.SQLState() == "40P01")
}

// chargeKey is the engine's idempotency key of an attempt.
func chargeKey(subscriptionID string, period, attempt int) string {
	return fmt.Sprintf("subscription:%s:%d:%d", subscriptionID, period, attempt)
}

func approved(p *store.Payment) bool {
	return p.Status == store.StatusCompleted || p.Status == store.StatusAuthorized
}

// claim decides, inside the lease transaction, what to do with a due
// subscription at its time `at`: drive the attempt in flight again, claim
// the next attempt (the charge row and, for a retry, the card's history
// entry), or hold it back as the networks' rules say. It is pure.
func (r *Runner) claim(wall time.Time) func(sub *store.Subscription, at time.Time, hist []store.CardAttempt) (store.SubscriptionChange, bool) {
	return func(sub *store.Subscription, at time.Time, hist []store.CardAttempt) (store.SubscriptionChange, bool) {
		if sub.PendingKey != "" {
			return store.SubscriptionChange{}, true
		}
		before := sub.Status
		sub.UpdatedAt = wall
		var change store.SubscriptionChange
		finish := func() (store.SubscriptionChange, bool) {
			if sub.Status != before {
				change.Outbox = append(change.Outbox, recurrentEvent(sub, wall))
			}
			return change, false
		}
		if !billable(sub.Status) {
			sub.NextAt = time.Time{}
			return finish()
		}
		sched := scheduleOf(sub)
		retry := sub.Attempt > 0
		if !retry && complete(sub, sched.Due(sub.PeriodNo)) {
			sub.Status, sub.NextAt = store.SubscriptionExpired, time.Time{}
			return finish()
		}
		if until, rule, ok := Admit(at, sub.CardBrand, retry, attempts(hist)); !ok {
			sub.Rule = string(rule)
			next := sched.Due(sub.PeriodNo + 1)
			softOver := Classify(sub.LastReasonCode) == ClassSoft && until.After(sub.PeriodStartedAt.Add(SoftWindow))
			if retry && (!until.Before(next) || softOver) {
				change.Charge = chargeOf(sub, sched, store.ChargeAbandoned, wall)
				skipPeriod(sub, sched)
			} else {
				sub.NextAt = until
			}
			return finish()
		}
		sub.Attempt++
		if sub.Attempt == 1 {
			sub.PeriodStartedAt = at
		}
		sub.PendingKey = chargeKey(sub.ID, sub.PeriodNo, sub.Attempt)
		change.Charge = chargeOf(sub, sched, store.ChargePending, wall)
		if retry {
			change.CardAttempts = []store.CardAttempt{{SubscriptionID: sub.ID, PeriodNo: sub.PeriodNo, Attempt: sub.Attempt,
				CardKey: sub.CardKey, At: at, Retry: true, Outcome: store.AttemptPending}}
		}
		return change, true
	}
}

// chargeOf is the charge row of sub's current period and attempt, with the
// command the attempt pays.
func chargeOf(sub *store.Subscription, sched Schedule, status store.ChargeStatus, wall time.Time) *store.Charge {
	return &store.Charge{
		SubscriptionID: sub.ID, PeriodNo: sub.PeriodNo, MerchantID: sub.MerchantID, Status: status,
		Attempt: max(sub.Attempt, 1), Key: chargeKey(sub.ID, sub.PeriodNo, max(sub.Attempt, 1)), ReasonCode: sub.LastReasonCode,
		DueAt: sched.Due(sub.PeriodNo), Amount: sub.Amount, Currency: sub.Currency, TwoStage: sub.RequireConfirmation,
		TokenID: sub.TokenID, AccountID: sub.AccountID, Description: sub.Description, Email: sub.Email,
		FirstAttemptAt: sub.PeriodStartedAt, UpdatedAt: wall,
	}
}

// skipPeriod moves sub to its next period (the current one is given up or
// paid), or expires it if there is none.
func skipPeriod(sub *store.Subscription, sched Schedule) {
	sub.PeriodNo, sub.Attempt, sub.PeriodStartedAt = sub.PeriodNo+1, 0, time.Time{}
	next := sched.Due(sub.PeriodNo)
	if complete(sub, next) {
		sub.Status, sub.NextAt = store.SubscriptionExpired, time.Time{}
		return
	}
	sub.NextAt = next
}

// record writes the outcomes of a batch in one transaction.
func (r *Runner) record(ctx context.Context, wall time.Time, outs []*outcome) error {
	byID := make(map[string]*outcome, len(outs))
	ids := make([]string, 0, len(outs))
	for _, o := range outs {
		byID[o.sub.ID] = o
		ids = append(ids, o.sub.ID)
	}
	return r.svc.store.ModifySubscriptions(ctx, ids, wall.Add(-HistoryWindow), func(sub *store.Subscription, hist []store.CardAttempt) (store.SubscriptionChange, bool) {
		o := byID[sub.ID]
		if o == nil || sub.PendingKey != o.charge.Key {
			return store.SubscriptionChange{}, false // recorded by another runner
		}
		return apply(sub, o, hist, wall), true
	})
}

// apply records an attempt's outcome on sub and names the writes that go
// with it; it is pure.
func apply(sub *store.Subscription, o *outcome, hist []store.CardAttempt, wall time.Time) store.SubscriptionChange {
	before := sub.Status
	sched := scheduleOf(sub)
	c := *o.charge
	c.UpdatedAt = wall
	change := store.SubscriptionChange{Charge: &c}
	sub.PendingKey, sub.LeaseID, sub.LeaseUntil, sub.UpdatedAt, sub.LastAt = "", "", time.Time{}, wall, o.at
	entry := store.CardAttempt{SubscriptionID: sub.ID, PeriodNo: c.PeriodNo, Attempt: c.Attempt, CardKey: sub.CardKey,
		At: o.at, Retry: c.Attempt > 1}
	switch {
	case o.cardGone:
		c.Status = store.ChargeAbandoned
		if billable(sub.Status) {
			sub.Status, sub.Rule = store.SubscriptionRejected, string(RuleCardRemoved)
		}
		sub.NextAt = time.Time{}
	case approved(o.payment):
		c.Status, c.PaymentID, c.ReasonCode = store.ChargePaid, o.payment.ID, 0
		sub.Successful, sub.Failed, sub.LastReasonCode, sub.Rule = sub.Successful+1, 0, 0, ""
		if entry.Retry || len(hist) > 0 {
			// The approval ends a run of soft declines of the card.
			entry.Outcome = store.AttemptApproved
			change.CardAttempts = append(change.CardAttempts, entry)
		}
		if !billable(sub.Status) { // cancelled while the charge was in flight
			sub.PeriodNo, sub.Attempt, sub.PeriodStartedAt, sub.NextAt = sub.PeriodNo+1, 0, time.Time{}, time.Time{}
			break
		}
		sub.Status = store.SubscriptionActive
		skipPeriod(sub, sched)
	default: // declined
		code := o.payment.ReasonCode
		c.Status, c.PaymentID, c.ReasonCode = store.ChargeDeclined, o.payment.ID, code
		sub.Failed, sub.LastReasonCode = sub.Failed+1, code
		entry.Outcome, entry.ReasonCode = store.AttemptDeclined, code
		change.CardAttempts = append(change.CardAttempts, entry)
		if !billable(sub.Status) {
			sub.NextAt = time.Time{}
			break
		}
		history := attempts(others(hist, entry))
		history = append(history, Attempt{At: o.at, Retry: entry.Retry, Declined: true, Code: code})
		var nextPeriod time.Time
		if next := sched.Due(sub.PeriodNo + 1); sub.EndAt.IsZero() || !next.After(sub.EndAt) {
			nextPeriod = next
		}
		d := policyOf(sub).Decide(Decline{Code: code, At: o.at, Brand: sub.CardBrand, Attempt: c.Attempt,
			PeriodStartedAt: sub.PeriodStartedAt, Failures: sub.Failed, NextPeriodAt: nextPeriod, History: history})
		sub.Rule = string(d.Rule)
		switch d.Action {
		case ActionRetry:
			sub.Status, sub.NextAt = store.SubscriptionPastDue, d.At
		case ActionSkipPeriod:
			c.Status = store.ChargeAbandoned
			sub.Status = store.SubscriptionPastDue
			skipPeriod(sub, sched)
		default:
			c.Status = store.ChargeAbandoned
			sub.Status, sub.NextAt = store.SubscriptionRejected, time.Time{}
		}
	}
	if sub.Status != before {
		change.Outbox = append(change.Outbox, recurrentEvent(sub, wall))
	}
	return change
}

// others is a card's history without the entry of the attempt being recorded.
func others(hist []store.CardAttempt, entry store.CardAttempt) []store.CardAttempt {
	out := hist[:0:0]
	for _, a := range hist {
		if a.SubscriptionID != entry.SubscriptionID || a.PeriodNo != entry.PeriodNo || a.Attempt != entry.Attempt {
			out = append(out, a)
		}
	}
	return out
}

// attempts turns a card's stored history into the policy's terms.
func attempts(hist []store.CardAttempt) []Attempt {
	out := make([]Attempt, 0, len(hist))
	for _, a := range hist {
		out = append(out, Attempt{At: a.At, Retry: a.Retry, Declined: a.Outcome == store.AttemptDeclined,
			Approved: a.Outcome == store.AttemptApproved, Code: a.ReasonCode})
	}
	return out
}
