package store

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/jackc/pgx/v5"
)

// SubscriptionStatus is a subscription's state (CloudPayments' names).
type SubscriptionStatus string

// The subscription statuses (SPEC.md §1.3).
const (
	SubscriptionActive    SubscriptionStatus = "Active"
	SubscriptionPastDue   SubscriptionStatus = "PastDue" // one or more consecutive failures
	SubscriptionCancelled SubscriptionStatus = "Cancelled"
	SubscriptionRejected  SubscriptionStatus = "Rejected" // the retry policy gave up on the card
	SubscriptionExpired   SubscriptionStatus = "Expired"  // max periods or end date reached
)

// Subscription is one row of subscriptions: a plan, its schedule and the
// runner's billing state. The domain rules that move it are in
// server/subscriptions; the store only reads and writes it.
type Subscription struct {
	ID                  string
	MerchantID          string
	AccountID           string
	TokenID             string
	CardKey             string // merchant and card fingerprint: the unit of the networks' retry rules
	CardBrand           string
	Description         string
	Email               string
	Amount              int64
	Currency            string
	RequireConfirmation bool   // two-stage: charges are authorizations the merchant captures
	Interval            string // Day, Week or Month
	Period              int    // intervals between charges
	MaxPeriods          int    // successful charges after which the plan expires; 0 = no limit
	StartAt             time.Time
	EndAt               time.Time // zero = no end date
	PeriodBase          int       // the period number that falls on StartAt
	Status              SubscriptionStatus
	Successful          int // successful charges
	Failed              int // consecutive failed attempts; a success resets it
	PeriodNo            int // the period being billed
	Attempt             int // attempts made for PeriodNo
	PeriodStartedAt     time.Time
	PendingKey          string    // the idempotency key of the attempt in flight
	NextAt              time.Time // when the runner has work next; zero = none
	LastAt              time.Time // the last charge attempt
	LastReasonCode      int       // the last attempt's decline code, 0 after a success
	Rule                string    // what the retry policy last decided, and why
	RetryDelay          time.Duration
	MaxFailures         int
	ClockID             string // the test clock it runs by; empty = real time
	SourcePaymentID     string // the payment whose recurrent plan made it
	IdempotencyKey      string
	RequestHash         []byte
	TestMode            bool
	Version             int64
	LeaseID             string
	LeaseUntil          time.Time
	CreatedAt           time.Time
	UpdatedAt           time.Time
	CancelledAt         time.Time
}

// ChargeStatus is the state of one billed period.
type ChargeStatus string

// The charge statuses.
const (
	ChargePending   ChargeStatus = "Pending"   // an attempt is in flight
	ChargePaid      ChargeStatus = "Paid"      // approved: the period is billed
	ChargeDeclined  ChargeStatus = "Declined"  // the last attempt was declined; a retry may follow
	ChargeAbandoned ChargeStatus = "Abandoned" // the retry policy gave the period up
)

// Charge is one billed period of a subscription, with the command of its
// latest attempt.
type Charge struct {
	SubscriptionID string
	PeriodNo       int
	MerchantID     string
	Status         ChargeStatus
	Attempt        int
	Key            string // the engine's idempotency key of the attempt
	PaymentID      string
	ReasonCode     int
	DueAt          time.Time
	Amount         int64
	Currency       string
	TwoStage       bool
	TokenID        string
	AccountID      string
	Description    string
	Email          string
	FirstAttemptAt time.Time
	UpdatedAt      time.Time
}

// CardAttempt is a retry or a declined scheduled charge of a card.
type CardAttempt struct {
	SubscriptionID string
	PeriodNo       int
	Attempt        int
	CardKey        string
	At             time.Time
	Retry          bool
	Outcome        AttemptOutcome
	ReasonCode     int // the decline code; 0 otherwise
}

// AttemptOutcome is what became of a card attempt.
type AttemptOutcome string

// The attempt outcomes.
const (
	AttemptPending  AttemptOutcome = "Pending"
	AttemptApproved AttemptOutcome = "Approved"
	AttemptDeclined AttemptOutcome = "Declined"
)

// TestClock is a sandbox clock that subscriptions attached to it run by.
type TestClock struct {
	ID         string
	MerchantID string
	Name       string
	Now        time.Time
	CreatedAt  time.Time
	UpdatedAt  time.Time
}

// SubscriptionChange holds the writes that commit with a subscription's change.
type SubscriptionChange struct {
	Charge       *Charge       // insert or update this period's charge
	CardAttempts []CardAttempt // insert or update these
	Outbox       []OutboxMessage
}

// Leased is a subscription a runner leased with the charge it must drive.
type Leased struct {
	Subscription *Subscription
	Charge       *Charge
	ClockNow     time.Time // the subscription's time: its test clock's, or the runner's
	// Redrive: the attempt was in flight before this lease (its runner
	// died or its outcome was unknown); it may have made its payment.
	Redrive bool
}

const subscriptionColumns = `id, merchant_id, account_id, token_id, card_key, card_brand, description, email,
	amount, currency, require_confirmation, interval_unit, period, max_periods, start_at, end_at, period_base,
	status, successful, failed, period_no, attempt, period_started_at, pending_key, next_at, last_at,
	last_reason_code, rule, retry_delay_s, max_failures, clock_id, source_payment_id, idempotency_key,
	request_hash, test_mode, version, lease_id, lease_until, created_at, updated_at, cancelled_at`

// subscriptionColumnsOf is subscriptionColumns of the table aliased as s.
const subscriptionColumnsOf = `s.id, s.merchant_id, s.account_id, s.token_id, s.card_key, s.card_brand, s.description, s.email,
	s.amount, s.currency, s.require_confirmation, s.interval_unit, s.period, s.max_periods, s.start_at, s.end_at, s.period_base,
	s.status, s.successful, s.failed, s.period_no, s.attempt, s.period_started_at, s.pending_key, s.next_at, s.last_at,
	s.last_reason_code, s.rule, s.retry_delay_s, s.max_failures, s.clock_id, s.source_payment_id, s.idempotency_key,
	s.request_hash, s.test_mode, s.version, s.lease_id, s.lease_until, s.created_at, s.updated_at, s.cancelled_at`

func scanSubscription(row pgx.Row, extra ...any) (*Subscription, error) {
	var s Subscription
	var status string
	var end, started, next, last, lease, cancelled *time.Time
	var retryDelay int64
	dest := []any{&s.ID, &s.MerchantID, &s.AccountID, &s.TokenID, &s.CardKey, &s.CardBrand, &s.Description, &s.Email,
		&s.Amount, &s.Currency, &s.RequireConfirmation, &s.Interval, &s.Period, &s.MaxPeriods, &s.StartAt, &end, &s.PeriodBase,
		&status, &s.Successful, &s.Failed, &s.PeriodNo, &s.Attempt, &started, &s.PendingKey, &next, &last,
		&s.LastReasonCode, &s.Rule, &retryDelay, &s.MaxFailures, &s.ClockID, &s.SourcePaymentID, &s.IdempotencyKey,
		&s.RequestHash, &s.TestMode, &s.Version, &s.LeaseID, &lease, &s.CreatedAt, &s.UpdatedAt, &cancelled}
	if err := row.Scan(append(dest, extra...)...); err != nil {
		return nil, classify(err)
	}
	s.Status = SubscriptionStatus(status)
	s.RetryDelay = time.Duration(retryDelay) * time.Second
	s.StartAt, s.CreatedAt, s.UpdatedAt = s.StartAt.UTC(), s.CreatedAt.UTC(), s.UpdatedAt.UTC()
	s.EndAt, s.PeriodStartedAt, s.NextAt, s.LastAt = timeVal(end), timeVal(started), timeVal(next), timeVal(last)
	s.LeaseUntil, s.CancelledAt = timeVal(lease), timeVal(cancelled)
	return &s, nil
}

func subscriptionArgs(s *Subscription) []any {
	return []any{s.ID, s.MerchantID, s.AccountID, s.TokenID, s.CardKey, s.CardBrand, s.Description, s.Email,
		s.Amount, s.Currency, s.RequireConfirmation, s.Interval, s.Period, s.MaxPeriods, s.StartAt, timePtr(s.EndAt), s.PeriodBase,
		string(s.Status), s.Successful, s.Failed, s.PeriodNo, s.Attempt, timePtr(s.PeriodStartedAt), s.PendingKey, timePtr(s.NextAt), timePtr(s.LastAt),
		s.LastReasonCode, s.Rule, int64(s.RetryDelay / time.Second), s.MaxFailures, s.ClockID, s.SourcePaymentID, s.IdempotencyKey,
		s.RequestHash, s.TestMode, s.Version, s.LeaseID, timePtr(s.LeaseUntil), s.CreatedAt, s.UpdatedAt, timePtr(s.CancelledAt)}
}

// ErrSourcePaymentUsed: the payment has started a subscription already.
var ErrSourcePaymentUsed = errors.New("payment has a subscription already")

// CreateSubscription inserts a subscription with its outbox messages. A
// subscription made of a payment's plan is linked to the payment in the
// same transaction. It fails with ErrKeyUsed if the idempotency key exists
// and ErrSourcePaymentUsed if the payment has started one already.
func (s *Store) CreateSubscription(ctx context.Context, sub *Subscription, outbox []OutboxMessage) error {
	return s.tx(ctx, func(ctx context.Context, tx pgx.Tx) error {
		_, err := tx.Exec(ctx, `INSERT INTO subscriptions (`+subscriptionColumns+`) VALUES (
			$1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15, $16, $17, $18, $19, $20,
			$21, $22, $23, $24, $25, $26, $27, $28, $29, $30, $31, $32, $33, $34, $35, $36, $37, $38, $39, $40, $41)`,
			subscriptionArgs(sub)...)
		if err != nil {
			err = classify(err)
			switch {
			case errors.Is(err, ErrDuplicate) && sub.IdempotencyKey != "" && containsName(err, "subscriptions_idempotency"):
				return ErrKeyUsed
			case errors.Is(err, ErrDuplicate) && sub.SourcePaymentID != "" && containsName(err, "subscriptions_source_payment"):
				return ErrSourcePaymentUsed
			}
			return fmt.Errorf("insert subscription: %w", err)
		}
		if sub.SourcePaymentID != "" {
			if _, err := tx.Exec(ctx, `UPDATE payments SET subscription_id = $3 WHERE id = $1 AND merchant_id = $2`,
				sub.SourcePaymentID, sub.MerchantID, sub.ID); err != nil {
				return fmt.Errorf("link payment: %w", err)
			}
		}
		for _, m := range outbox {
			if err := insertOutbox(ctx, tx, m); err != nil {
				return err
			}
		}
		return nil
	})
}

func containsName(err error, name string) bool { return strings.Contains(err.Error(), name) }

// Subscription reads one of a merchant's subscriptions.
func (s *Store) Subscription(ctx context.Context, merchantID, id string) (*Subscription, error) {
	return scanSubscription(s.db.QueryRow(ctx, `SELECT `+subscriptionColumns+` FROM subscriptions WHERE id = $1 AND merchant_id = $2`, id, merchantID))
}

// SubscriptionByKey reads the subscription a merchant created with an idempotency key.
func (s *Store) SubscriptionByKey(ctx context.Context, merchantID, key string) (*Subscription, error) {
	return scanSubscription(s.db.QueryRow(ctx, `SELECT `+subscriptionColumns+` FROM subscriptions
		WHERE merchant_id = $1 AND idempotency_key = $2 AND idempotency_key <> ''`, merchantID, key))
}

// SubscriptionByPayment reads the subscription a payment's plan started.
func (s *Store) SubscriptionByPayment(ctx context.Context, merchantID, paymentID string) (*Subscription, error) {
	return scanSubscription(s.db.QueryRow(ctx, `SELECT `+subscriptionColumns+` FROM subscriptions
		WHERE merchant_id = $1 AND source_payment_id = $2 AND source_payment_id <> ''`, merchantID, paymentID))
}

// SubscriptionsByAccount lists a merchant's subscriptions of an account,
// newest first (at most 1000).
func (s *Store) SubscriptionsByAccount(ctx context.Context, merchantID, accountID string) ([]*Subscription, error) {
	list, err := collect(ctx, s.db, func(row pgx.Row) (*Subscription, error) { return scanSubscription(row) }, `SELECT `+subscriptionColumns+` FROM subscriptions
		WHERE merchant_id = $1 AND account_id = $2 ORDER BY created_at DESC, id DESC LIMIT 1000`, merchantID, accountID)
	if err != nil {
		return nil, fmt.Errorf("find subscriptions: %w", err)
	}
	return list, nil
}

// ModifySubscription changes one subscription in one retried transaction:
// it reads the row under a lock with its test clock (nil without one), lets
// fn change it and name the writes that go with the change, and writes it
// guarded by the version it read. fn must only compute (it may run several
// times). It returns the subscription as written.
func (s *Store) ModifySubscription(ctx context.Context, merchantID, id string, fn func(sub *Subscription, clock *TestClock) (SubscriptionChange, error)) (*Subscription, error) {
	var out *Subscription
	err := s.tx(ctx, func(ctx context.Context, tx pgx.Tx) error {
		sub, err := scanSubscription(tx.QueryRow(ctx, `SELECT `+subscriptionColumns+` FROM subscriptions
			WHERE id = $1 AND merchant_id = $2 FOR UPDATE`, id, merchantID))
		if err != nil {
			return err
		}
		var clock *TestClock
		if sub.ClockID != "" {
			if clock, err = scanClock(tx.QueryRow(ctx, `SELECT `+clockColumns+` FROM test_clocks WHERE id = $1`, sub.ClockID)); err != nil {
				return fmt.Errorf("read test clock: %w", err)
			}
		}
		change, err := fn(sub, clock)
		if err != nil {
			return err
		}
		var w writes
		queueSubscriptionWrite(&w, sub, change)
		if err := w.send(ctx, tx); err != nil {
			return err
		}
		sub.Version++
		out = sub
		return nil
	})
	return out, err
}

// ModifySubscriptions changes several subscriptions in one retried
// transaction (the runner records a batch of outcomes so): it reads them
// under locks with the recent history of their cards (attempts at or after
// since), calls fn for each and writes those fn changed (ok true), each
// guarded by the version it read. fn must only compute.
func (s *Store) ModifySubscriptions(ctx context.Context, ids []string, since time.Time, fn func(sub *Subscription, history []CardAttempt) (change SubscriptionChange, ok bool)) error {
	return s.tx(ctx, func(ctx context.Context, tx pgx.Tx) error {
		rows, err := tx.Query(ctx, `SELECT `+subscriptionColumns+` FROM subscriptions WHERE id = ANY($1) ORDER BY id FOR UPDATE`, ids)
		if err != nil {
			return fmt.Errorf("read subscriptions: %w", err)
		}
		subs, err := scanRows(rows, func(row pgx.Row) (*Subscription, error) { return scanSubscription(row) })
		if err != nil {
			return fmt.Errorf("read subscriptions: %w", err)
		}
		hist, err := cardHistory(ctx, tx, subs, since)
		if err != nil {
			return err
		}
		var w writes
		for _, sub := range subs {
			change, ok := fn(sub, hist[sub.CardKey])
			if !ok {
				continue
			}
			queueSubscriptionWrite(&w, sub, change)
		}
		return w.send(ctx, tx)
	})
}

// LeaseDue leases up to limit subscriptions on which a runner has work:
// those due by now (by their test clock's time, for those attached to one)
// whose lease, if any, has run out. Rows other runners are leasing right
// now are skipped (FOR UPDATE SKIP LOCKED). For each, fn gets the row, its
// time and its card's history since since, changes it, and says whether
// this runner drives a charge of it (drive true): those are leased to
// leaseID until leaseUntil and returned with their charge, as fn named it
// or, for an attempt already in flight, as stored. Others are written as fn
// left them (postponed, expired) without a lease. seen counts the rows
// found, driven or not: zero means nothing was due.
func (s *Store) LeaseDue(ctx context.Context, now time.Time, limit int, leaseID string, leaseUntil, since time.Time,
	fn func(sub *Subscription, clockNow time.Time, history []CardAttempt) (change SubscriptionChange, drive bool)) (leased []Leased, seen int, err error) {
	var out []Leased
	err = s.tx(ctx, func(ctx context.Context, tx pgx.Tx) error {
		out, seen = nil, 0
		var subs []*Subscription
		var times []time.Time
		// Real-time subscriptions first, then those of test clocks: each
		// query walks the index subscriptions_due.
		rows, err := tx.Query(ctx, `SELECT `+subscriptionColumns+` FROM subscriptions
			WHERE clock_id = '' AND next_at IS NOT NULL AND next_at <= $1 AND (lease_until IS NULL OR lease_until <= $1)
			ORDER BY next_at LIMIT $2 FOR UPDATE SKIP LOCKED`, now, limit)
		if err != nil {
			return fmt.Errorf("lease subscriptions: %w", err)
		}
		for rows.Next() {
			sub, err := scanSubscription(rows)
			if err != nil {
				rows.Close()
				return fmt.Errorf("lease subscriptions: %w", err)
			}
			subs, times = append(subs, sub), append(times, now)
		}
		if err := rows.Err(); err != nil {
			return fmt.Errorf("lease subscriptions: %w", err)
		}
		if left := limit - len(subs); left > 0 {
			rows, err := tx.Query(ctx, `SELECT `+subscriptionColumnsOf+`, c.now FROM test_clocks c
				JOIN subscriptions s ON s.clock_id = c.id
				WHERE s.next_at IS NOT NULL AND s.next_at <= c.now AND (s.lease_until IS NULL OR s.lease_until <= $1)
				ORDER BY s.next_at LIMIT $2 FOR UPDATE OF s SKIP LOCKED`, now, left)
			if err != nil {
				return fmt.Errorf("lease test clock subscriptions: %w", err)
			}
			for rows.Next() {
				var at time.Time
				sub, err := scanSubscription(rows, &at)
				if err != nil {
					rows.Close()
					return fmt.Errorf("lease test clock subscriptions: %w", err)
				}
				subs, times = append(subs, sub), append(times, at.UTC())
			}
			if err := rows.Err(); err != nil {
				return fmt.Errorf("lease test clock subscriptions: %w", err)
			}
		}
		seen = len(subs)
		if len(subs) == 0 {
			return nil
		}
		hist, err := cardHistory(ctx, tx, subs, since)
		if err != nil {
			return err
		}
		// Attempts in flight are driven again as they were recorded.
		var inFlight []*Subscription
		for _, sub := range subs {
			if sub.PendingKey != "" {
				inFlight = append(inFlight, sub)
			}
		}
		stored, err := chargesOf(ctx, tx, inFlight)
		if err != nil {
			return err
		}
		var w writes
		for i, sub := range subs {
			change, drive := fn(sub, times[i], hist[sub.CardKey])
			if drive {
				sub.LeaseID, sub.LeaseUntil = leaseID, leaseUntil
				c, redrive := change.Charge, change.Charge == nil
				if redrive {
					c = stored[sub.ID]
				}
				if c == nil || c.Key != sub.PendingKey {
					return fmt.Errorf("lease %s: the attempt in flight has no charge record", sub.ID)
				}
				out = append(out, Leased{Subscription: sub, Charge: c, ClockNow: times[i], Redrive: redrive})
			}
			queueSubscriptionWrite(&w, sub, change)
		}
		if err := w.send(ctx, tx); err != nil {
			return err
		}
		for _, l := range out {
			l.Subscription.Version++
		}
		return nil
	})
	return out, seen, err
}

// queueSubscriptionWrite queues the guarded update of sub and the writes
// of its change. A statement that changes no row is a subscription
// changed under us: ErrStale.
func queueSubscriptionWrite(w *writes, sub *Subscription, change SubscriptionChange) {
	w.queue(writeRow, `UPDATE subscriptions SET token_id = $3, card_key = $4, card_brand = $5, description = $6, email = $7,
		amount = $8, currency = $9, require_confirmation = $10, interval_unit = $11, period = $12, max_periods = $13,
		start_at = $14, end_at = $15, period_base = $16, status = $17, successful = $18, failed = $19, period_no = $20,
		attempt = $21, period_started_at = $22, pending_key = $23, next_at = $24, last_at = $25, last_reason_code = $26,
		rule = $27, retry_delay_s = $28, max_failures = $29, clock_id = $30, lease_id = $31, lease_until = $32,
		updated_at = $33, cancelled_at = $34, version = version + 1
		WHERE id = $1 AND version = $2`,
		sub.ID, sub.Version, sub.TokenID, sub.CardKey, sub.CardBrand, sub.Description, sub.Email,
		sub.Amount, sub.Currency, sub.RequireConfirmation, sub.Interval, sub.Period, sub.MaxPeriods,
		sub.StartAt, timePtr(sub.EndAt), sub.PeriodBase, string(sub.Status), sub.Successful, sub.Failed, sub.PeriodNo,
		sub.Attempt, timePtr(sub.PeriodStartedAt), sub.PendingKey, timePtr(sub.NextAt), timePtr(sub.LastAt), sub.LastReasonCode,
		sub.Rule, int64(sub.RetryDelay/time.Second), sub.MaxFailures, sub.ClockID, sub.LeaseID, timePtr(sub.LeaseUntil),
		sub.UpdatedAt, timePtr(sub.CancelledAt))
	if c := change.Charge; c != nil {
		w.queue(writeRow, `INSERT INTO subscription_charges (subscription_id, period_no, merchant_id, status, attempt, idem_key,
			payment_id, reason_code, due_at, amount, currency, two_stage, token_id, account_id, description, email,
			first_attempt_at, updated_at)
			VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15, $16, $17, $18)
			ON CONFLICT (subscription_id, period_no) DO UPDATE SET status = excluded.status, attempt = excluded.attempt,
				idem_key = excluded.idem_key,
				payment_id = CASE WHEN excluded.status = 'Abandoned' AND excluded.payment_id = '' THEN subscription_charges.payment_id ELSE excluded.payment_id END,
				reason_code = excluded.reason_code,
				amount = excluded.amount, currency = excluded.currency, two_stage = excluded.two_stage,
				token_id = excluded.token_id, account_id = excluded.account_id, description = excluded.description,
				email = excluded.email, updated_at = excluded.updated_at`,
			c.SubscriptionID, c.PeriodNo, c.MerchantID, string(c.Status), c.Attempt, c.Key,
			c.PaymentID, c.ReasonCode, c.DueAt, c.Amount, c.Currency, c.TwoStage, c.TokenID, c.AccountID, c.Description, c.Email,
			c.FirstAttemptAt, c.UpdatedAt)
	}
	for _, a := range change.CardAttempts {
		w.queue(writeRow, `INSERT INTO card_attempts (subscription_id, period_no, attempt, card_key, at, retry, outcome, reason_code)
			VALUES ($1, $2, $3, $4, $5, $6, $7, $8)
			ON CONFLICT (subscription_id, period_no, attempt) DO UPDATE SET outcome = excluded.outcome, reason_code = excluded.reason_code`,
			a.SubscriptionID, a.PeriodNo, a.Attempt, a.CardKey, a.At, a.Retry, string(a.Outcome), a.ReasonCode)
	}
	for _, m := range change.Outbox {
		w.queue(writeRow, insertOutboxSQL, outboxArgs(m)...)
	}
}

// writeRow reads the result of a subscription's write, which must change
// one row.
func writeRow(br pgx.BatchResults) error {
	tag, err := br.Exec()
	if err != nil {
		return fmt.Errorf("write subscriptions: %w", classify(err))
	}
	if tag.RowsAffected() == 0 {
		return ErrStale
	}
	return nil
}

// cardHistory reads the attempts at or after since of the subscriptions' cards.
func cardHistory(ctx context.Context, tx pgx.Tx, subs []*Subscription, since time.Time) (map[string][]CardAttempt, error) {
	keys := make([]string, 0, len(subs))
	seen := map[string]bool{}
	for _, s := range subs {
		if !seen[s.CardKey] {
			seen[s.CardKey] = true
			keys = append(keys, s.CardKey)
		}
	}
	out := map[string][]CardAttempt{}
	if len(keys) == 0 {
		return out, nil
	}
	rows, err := tx.Query(ctx, `SELECT subscription_id, period_no, attempt, card_key, at, retry, outcome, reason_code
		FROM card_attempts WHERE card_key = ANY($1) AND at >= $2 ORDER BY at, subscription_id, period_no, attempt`, keys, since)
	if err != nil {
		return nil, fmt.Errorf("read card history: %w", err)
	}
	list, err := scanRows(rows, scanCardAttempt)
	if err != nil {
		return nil, fmt.Errorf("read card history: %w", err)
	}
	for _, a := range list {
		out[a.CardKey] = append(out[a.CardKey], a)
	}
	return out, nil
}

func scanCardAttempt(row pgx.Row) (CardAttempt, error) {
	var a CardAttempt
	var outcome string
	err := row.Scan(&a.SubscriptionID, &a.PeriodNo, &a.Attempt, &a.CardKey, &a.At, &a.Retry, &outcome, &a.ReasonCode)
	a.At, a.Outcome = a.At.UTC(), AttemptOutcome(outcome)
	return a, err
}

// CardHistory reads a card's attempts at or after since, oldest first.
func (s *Store) CardHistory(ctx context.Context, cardKey string, since time.Time) ([]CardAttempt, error) {
	list, err := collect(ctx, s.db, scanCardAttempt, `SELECT subscription_id, period_no, attempt, card_key, at, retry, outcome, reason_code
		FROM card_attempts WHERE card_key = $1 AND at >= $2 ORDER BY at, subscription_id, period_no, attempt`, cardKey, since)
	if err != nil {
		return nil, fmt.Errorf("read card history: %w", err)
	}
	return list, nil
}

const chargeColumns = `subscription_id, period_no, merchant_id, status, attempt, idem_key, payment_id, reason_code,
	due_at, amount, currency, two_stage, token_id, account_id, description, email, first_attempt_at, updated_at`

func scanCharge(row pgx.Row) (*Charge, error) {
	var c Charge
	var status string
	err := row.Scan(&c.SubscriptionID, &c.PeriodNo, &c.MerchantID, &status, &c.Attempt, &c.Key, &c.PaymentID, &c.ReasonCode,
		&c.DueAt, &c.Amount, &c.Currency, &c.TwoStage, &c.TokenID, &c.AccountID, &c.Description, &c.Email, &c.FirstAttemptAt, &c.UpdatedAt)
	c.Status = ChargeStatus(status)
	c.DueAt, c.FirstAttemptAt, c.UpdatedAt = c.DueAt.UTC(), c.FirstAttemptAt.UTC(), c.UpdatedAt.UTC()
	return &c, err
}

// chargesOf reads the charges of the subscriptions' current periods.
func chargesOf(ctx context.Context, tx pgx.Tx, subs []*Subscription) (map[string]*Charge, error) {
	out := map[string]*Charge{}
	if len(subs) == 0 {
		return out, nil
	}
	ids, periods := make([]string, len(subs)), make([]int64, len(subs))
	for i, s := range subs {
		ids[i], periods[i] = s.ID, int64(s.PeriodNo)
	}
	rows, err := tx.Query(ctx, `SELECT `+chargeColumns+` FROM subscription_charges
		WHERE (subscription_id, period_no) IN (SELECT * FROM unnest($1::TEXT[], $2::INT8[]))`, ids, periods)
	if err != nil {
		return nil, fmt.Errorf("read charges: %w", err)
	}
	list, err := scanRows(rows, scanCharge)
	if err != nil {
		return nil, fmt.Errorf("read charges: %w", err)
	}
	for _, c := range list {
		out[c.SubscriptionID] = c
	}
	return out, nil
}

// Charges lists a subscription's billed periods, oldest first.
func (s *Store) Charges(ctx context.Context, subscriptionID string) ([]*Charge, error) {
	list, err := collect(ctx, s.db, scanCharge, `SELECT `+chargeColumns+` FROM subscription_charges
		WHERE subscription_id = $1 ORDER BY period_no`, subscriptionID)
	if err != nil {
		return nil, fmt.Errorf("list charges: %w", err)
	}
	return list, nil
}

// UnstartedPlans lists approved payments that asked for a recurrent plan,
// approved between since and before, of which no subscription was made
// (the hook that makes it failed, or the process died before it ran).
func (s *Store) UnstartedPlans(ctx context.Context, since, before time.Time, limit int) ([]*Payment, error) {
	return s.listPayments(ctx, `SELECT `+paymentColumns+` FROM payments p
		WHERE p.recurrent IS NOT NULL AND p.authorized_at >= $1 AND p.authorized_at < $2
			AND p.status IN ('Authorized', 'Completed') AND p.subscription_id = ''
			AND NOT EXISTS (SELECT 1 FROM subscriptions s WHERE s.merchant_id = p.merchant_id AND s.source_payment_id = p.id)
		ORDER BY p.authorized_at LIMIT $3`, since, before, limit)
}

const clockColumns = `id, merchant_id, name, now, created_at, updated_at`

func scanClock(row pgx.Row) (*TestClock, error) {
	var c TestClock
	if err := row.Scan(&c.ID, &c.MerchantID, &c.Name, &c.Now, &c.CreatedAt, &c.UpdatedAt); err != nil {
		return nil, classify(err)
	}
	c.Now, c.CreatedAt, c.UpdatedAt = c.Now.UTC(), c.CreatedAt.UTC(), c.UpdatedAt.UTC()
	return &c, nil
}

// CreateTestClock inserts a test clock.
func (s *Store) CreateTestClock(ctx context.Context, c *TestClock) error {
	_, err := s.db.Exec(ctx, `INSERT INTO test_clocks (`+clockColumns+`) VALUES ($1, $2, $3, $4, $5, $6)`,
		c.ID, c.MerchantID, c.Name, c.Now, c.CreatedAt, c.UpdatedAt)
	if err != nil {
		return fmt.Errorf("insert test clock: %w", classify(err))
	}
	return nil
}

// TestClock reads one of a merchant's test clocks.
func (s *Store) TestClock(ctx context.Context, merchantID, id string) (*TestClock, error) {
	return scanClock(s.db.QueryRow(ctx, `SELECT `+clockColumns+` FROM test_clocks WHERE id = $1 AND merchant_id = $2`, id, merchantID))
}

// AdvanceTestClock moves a merchant's test clock forward to `to`; a clock
// at or past it is left as it is (ErrStale).
func (s *Store) AdvanceTestClock(ctx context.Context, merchantID, id string, to, at time.Time) (*TestClock, error) {
	c, err := scanClock(s.db.QueryRow(ctx, `UPDATE test_clocks SET now = $3, updated_at = $4
		WHERE id = $1 AND merchant_id = $2 AND now < $3 RETURNING `+clockColumns, id, merchantID, to, at))
	if errors.Is(err, ErrNotFound) {
		if _, err := s.TestClock(ctx, merchantID, id); err != nil {
			return nil, err
		}
		return nil, ErrStale
	}
	return c, err
}

// TestClockBacklog counts the clock's subscriptions that are due by its
// time and not yet billed.
func (s *Store) TestClockBacklog(ctx context.Context, id string) (int, error) {
	var n int
	err := s.db.QueryRow(ctx, `SELECT count(*) FROM test_clocks c JOIN subscriptions s ON s.clock_id = c.id
		WHERE c.id = $1 AND s.next_at IS NOT NULL AND s.next_at <= c.now`, id).Scan(&n)
	if err != nil {
		return 0, fmt.Errorf("test clock backlog: %w", err)
	}
	return n, nil
}

// ImportSubscriptions inserts many subscriptions at once (COPY), without
// outbox messages: for migrations from another gateway and benchmarks.
func (s *Store) ImportSubscriptions(ctx context.Context, subs []*Subscription) error {
	rows := make([][]any, len(subs))
	for i, sub := range subs {
		rows[i] = subscriptionArgs(sub)
	}
	cols := strings.Split(strings.Join(strings.Fields(subscriptionColumns), ""), ",")
	if _, err := s.db.pool.CopyFrom(ctx, pgx.Identifier{"subscriptions"}, cols, pgx.CopyFromRows(rows)); err != nil {
		return fmt.Errorf("import subscriptions: %w", classify(err))
	}
	return nil
}
