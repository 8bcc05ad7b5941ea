// Package subscriptions is altyn's recurring billing: plans on a saved card
// (CloudPayments' subscriptions, IntellectMoney's scheduled operations),
// their schedules, the runner that bills them and the retry policy that
// keeps it within the card networks' rules.
//
// A period is billed at most once, also with many runners on many
// replicas: the runner claims the period's charge row (unique per
// subscription and period) in the transaction that leases the
// subscription, before it asks the payment engine, and the engine's
// idempotency key is derived from the subscription, the period and the
// attempt, so a runner that dies mid-batch leaves an attempt that the next
// runner drives to the same payment instead of making a second one.
//
// The package knows nothing of proto or HTTP; its errors are
// *payments.Error, which the API maps to Connect codes like the engine's.
package subscriptions

import (
	"bytes"
	"context"
	"crypto/rand"
	"crypto/sha256"
	"encoding/base32"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"strings"
	"time"

	"github.com/altynpay/altyn/server/merchants"
	"github.com/altynpay/altyn/server/payments"
	"github.com/altynpay/altyn/store"
)

// The subscription errors; all are *payments.Error so the API maps them.
var (
	ErrNotFound = &payments.Error{Kind: payments.KindNotFound, Reason: "SUBSCRIPTION_NOT_FOUND", Message: "subscription not found"}
	// ErrComplete: reactivating a plan that has nothing left to bill.
	ErrComplete = &payments.Error{Kind: payments.KindPrecondition, Reason: "SUBSCRIPTION_COMPLETE",
		Message: "the plan has nothing left to bill: raise max_periods or move end_date"}
	// ErrRejected: a rejected plan is reactivated only with another card.
	ErrRejected = &payments.Error{Kind: payments.KindPrecondition, Reason: "SUBSCRIPTION_REJECTED",
		Message: "the plan was rejected by the retry policy; update it with another card (token) to reactivate it"}
	ErrClockNotFound = &payments.Error{Kind: payments.KindNotFound, Reason: "TEST_CLOCK_NOT_FOUND", Message: "test clock not found"}
	ErrTestModeOnly  = &payments.Error{Kind: payments.KindPrecondition, Reason: "TEST_MODE_ONLY",
		Message: "test clocks are for merchants and subscriptions in test mode"}
	ErrClockBackwards = &payments.Error{Kind: payments.KindInvalid, Reason: "TEST_CLOCK_BACKWARDS", Message: "a test clock only moves forward"}
	ErrOtherClock     = &payments.Error{Kind: payments.KindPrecondition, Reason: "SUBSCRIPTION_ON_OTHER_CLOCK",
		Message: "the subscription runs by another test clock"}
)

// Service creates, reads, changes and cancels subscriptions, makes them of
// payments that ask for a recurrent plan, and runs test clocks.
type Service struct {
	store    *store.Store
	engine   *payments.Engine
	ms       *merchants.Service
	now      func() time.Time
	log      *slog.Logger
	validate *payments.Validator
	poke     chan struct{}
}

// New makes the service and registers its hooks with the engine: a
// payment's recurrent plan is read and checked before the payment is made,
// and turned into a subscription once it is approved.
func New(st *store.Store, engine *payments.Engine, ms *merchants.Service, now func() time.Time, log *slog.Logger) *Service {
	s := &Service{store: st, engine: engine, ms: ms, now: func() time.Time { return now().UTC() }, log: log, validate: payments.NewValidator(),
		poke: make(chan struct{}, 1)}
	engine.BeforePay(s.beforePay)
	engine.OnApproved(s.onApproved)
	return s
}

// wake asks this replica's runner to run at once (a test clock moved).
func (s *Service) wake() {
	select {
	case s.poke <- struct{}{}:
	default:
	}
}

// Settings are a plan's retry settings (zero = DefaultPolicy's).
type Settings struct {
	RetryDelay  time.Duration `json:"retry_delay" field:"retry.delay"`
	MaxFailures int           `json:"max_failures" field:"retry.max_failures" validate:"gte=0,lte=50"`
}

// CreateCommand asks for a subscription (CloudPayments' /subscriptions/create).
type CreateCommand struct {
	MerchantID          string    `json:"-" validate:"required"`
	Token               string    `json:"token" field:"token" validate:"required,max=64"`
	AccountID           string    `json:"account_id" field:"account_id" validate:"required,max=100"`
	Description         string    `json:"description" field:"description" validate:"required,max=1000"`
	Email               string    `json:"email" field:"email" validate:"omitempty,email,max=254"`
	Amount              int64     `json:"amount" field:"amount.amount" validate:"gt=0,lte=1000000000000"`
	Currency            string    `json:"currency" field:"amount.currency" validate:"required,iso4217"`
	RequireConfirmation bool      `json:"require_confirmation"`
	StartAt             time.Time `json:"start_at" field:"start_date"`
	Interval            Interval  `json:"interval" field:"interval" validate:"required,oneof=Day Week Month"`
	Period              int       `json:"period" field:"period" validate:"gt=0,lte=1000"`
	MaxPeriods          int       `json:"max_periods" field:"max_periods" validate:"gte=0,lte=100000"`
	EndAt               time.Time `json:"end_at" field:"end_date"`
	Retry               Settings  `json:"retry"`
	ClockID             string    `json:"clock_id" field:"test_clock_id" validate:"max=64"`
	IdempotencyKey      string    `json:"-" field:"idempotency_key" validate:"max=128"`
}

// Create makes an Active subscription on a saved card. With an idempotency
// key, a repeat gets the first subscription; the key with other parameters
// is payments.ErrIdempotencyMismatch.
func (s *Service) Create(ctx context.Context, cmd CreateCommand) (*store.Subscription, error) {
	if err := s.check(cmd); err != nil {
		return nil, err
	}
	if err := checkSettings(cmd.Retry); err != nil {
		return nil, err
	}
	hash := hashOf(cmd)
	if cmd.IdempotencyKey != "" {
		if sub, err := s.byKey(ctx, cmd.MerchantID, cmd.IdempotencyKey, hash); sub != nil || err != nil {
			return sub, err
		}
	}
	m, err := s.ms.ByID(ctx, cmd.MerchantID)
	if err != nil {
		return nil, fmt.Errorf("merchant: %w", err)
	}
	tok, err := s.token(ctx, cmd.MerchantID, cmd.AccountID, cmd.Token)
	if err != nil {
		return nil, err
	}
	now := s.now()
	if cmd.ClockID != "" {
		c, err := s.clock(ctx, m, cmd.ClockID)
		if err != nil {
			return nil, err
		}
		now = c.Now
	}
	start := cmd.StartAt.UTC()
	if start.IsZero() {
		return nil, invalid("start_date", "required", "start_date is required")
	}
	if start.Before(now.Add(-time.Minute)) {
		return nil, invalid("start_date", "future", "start_date must not be in the past")
	}
	if !cmd.EndAt.IsZero() && !cmd.EndAt.After(start) {
		return nil, invalid("end_date", "gtfield", "end_date must be after start_date")
	}
	sub := &store.Subscription{
		ID: newID("sub"), MerchantID: m.ID, AccountID: cmd.AccountID, TokenID: tok.ID,
		CardKey: cardKey(tok), CardBrand: tok.CardBrand, Description: cmd.Description, Email: cmd.Email,
		Amount: cmd.Amount, Currency: cmd.Currency, RequireConfirmation: cmd.RequireConfirmation,
		Interval: string(cmd.Interval), Period: cmd.Period, MaxPeriods: cmd.MaxPeriods,
		StartAt: start, EndAt: cmd.EndAt.UTC(), Status: store.SubscriptionActive, NextAt: start,
		RetryDelay: cmd.Retry.RetryDelay, MaxFailures: cmd.Retry.MaxFailures, ClockID: cmd.ClockID,
		IdempotencyKey: cmd.IdempotencyKey, RequestHash: hash, TestMode: m.TestMode,
		Version: 1, CreatedAt: s.now(), UpdatedAt: s.now(),
	}
	switch err := s.store.CreateSubscription(ctx, sub, nil); {
	case errors.Is(err, store.ErrKeyUsed):
		return s.byKey(ctx, cmd.MerchantID, cmd.IdempotencyKey, hash)
	case err != nil:
		return nil, fmt.Errorf("create subscription: %w", err)
	}
	s.wake()
	return sub, nil
}

// byKey answers a repeated Create: nil, nil when the key is new.
func (s *Service) byKey(ctx context.Context, merchantID, key string, hash []byte) (*store.Subscription, error) {
	sub, err := s.store.SubscriptionByKey(ctx, merchantID, key)
	switch {
	case errors.Is(err, store.ErrNotFound):
		return nil, nil
	case err != nil:
		return nil, err
	case !bytes.Equal(sub.RequestHash, hash):
		return nil, payments.ErrIdempotencyMismatch
	}
	return sub, nil
}

// token reads a live saved card of the merchant's account.
func (s *Service) token(ctx context.Context, merchantID, accountID, id string) (*store.Token, error) {
	tok, err := s.store.Token(ctx, id)
	if errors.Is(err, store.ErrNotFound) {
		tok, err = nil, nil
	}
	if err != nil {
		return nil, err
	}
	if err := payments.CheckToken(tok, merchantID, accountID); err != nil {
		return nil, err
	}
	return tok, nil
}

// cardKey is the unit the networks' retry rules count by: the merchant and
// the card (the token's fingerprint, so two tokens of one card count together).
func cardKey(t *store.Token) string {
	fp := t.Fingerprint
	if len(fp) > 16 {
		fp = fp[:16]
	}
	return t.MerchantID + ":" + hex.EncodeToString(fp)
}

// Get reads one of the merchant's subscriptions.
func (s *Service) Get(ctx context.Context, merchantID, id string) (*store.Subscription, error) {
	if id == "" || len(id) > 64 {
		return nil, invalid("id", "required", "id is required")
	}
	sub, err := s.store.Subscription(ctx, merchantID, id)
	if errors.Is(err, store.ErrNotFound) {
		return nil, ErrNotFound
	}
	return sub, err
}

// Find lists the merchant's subscriptions of an account, newest first.
func (s *Service) Find(ctx context.Context, merchantID, accountID string) ([]*store.Subscription, error) {
	if accountID == "" || len(accountID) > 100 {
		return nil, invalid("account_id", "required", "account_id is required (at most 100 characters)")
	}
	return s.store.SubscriptionsByAccount(ctx, merchantID, accountID)
}

// ByPayment reads the subscription that a payment's recurrent plan started.
func (s *Service) ByPayment(ctx context.Context, merchantID, paymentID string) (*store.Subscription, error) {
	sub, err := s.store.SubscriptionByPayment(ctx, merchantID, paymentID)
	if errors.Is(err, store.ErrNotFound) {
		return nil, ErrNotFound
	}
	return sub, err
}

// UpdateCommand changes a subscription; nil fields stay as they are.
type UpdateCommand struct {
	MerchantID          string     `validate:"required"`
	ID                  string     `field:"id" validate:"required,max=64"`
	Token               *string    `field:"token" validate:"omitnil,min=1,max=64"`
	Description         *string    `field:"description" validate:"omitnil,min=1,max=1000"`
	Email               *string    `field:"email" validate:"omitnil,omitempty,email,max=254"`
	Amount              *int64     `field:"amount.amount" validate:"omitnil,gt=0,lte=1000000000000"`
	Currency            *string    `field:"amount.currency" validate:"omitnil,iso4217"`
	RequireConfirmation *bool      `field:"require_confirmation"`
	StartAt             *time.Time `field:"start_date"`
	Interval            *Interval  `field:"interval" validate:"omitnil,oneof=Day Week Month"`
	Period              *int       `field:"period" validate:"omitnil,gt=0,lte=1000"`
	MaxPeriods          *int       `field:"max_periods" validate:"omitnil,gte=0,lte=100000"`
	EndAt               *time.Time `field:"end_date"` // a zero time removes the end date
	Retry               *Settings  `field:"retry"`
}

// Update changes a plan (CloudPayments' /subscriptions/update). A cancelled
// or expired plan that is updated becomes Active again, and so does a
// rejected one given another card; periods missed while it was inactive
// are not billed, and max_periods keeps counting what was paid. A new
// start date, interval or period re-anchors the schedule from the next
// period. Like CloudPayments, Update sends no notification.
func (s *Service) Update(ctx context.Context, cmd UpdateCommand) (*store.Subscription, error) {
	if err := s.check(cmd); err != nil {
		return nil, err
	}
	if cmd.Retry != nil {
		if err := checkSettings(*cmd.Retry); err != nil {
			return nil, err
		}
	}
	var tok *store.Token
	if cmd.Token != nil {
		cur, err := s.Get(ctx, cmd.MerchantID, cmd.ID)
		if err != nil {
			return nil, err
		}
		if tok, err = s.token(ctx, cmd.MerchantID, cur.AccountID, *cmd.Token); err != nil {
			return nil, err
		}
	}
	wall := s.now()
	sub, err := s.store.ModifySubscription(ctx, cmd.MerchantID, cmd.ID, func(sub *store.Subscription, clock *store.TestClock) (store.SubscriptionChange, error) {
		now := wall
		if clock != nil {
			now = clock.Now
		}
		return store.SubscriptionChange{}, update(sub, cmd, tok, now, wall)
	})
	if errors.Is(err, store.ErrNotFound) {
		return nil, ErrNotFound
	}
	if err != nil {
		return nil, err
	}
	s.wake()
	return sub, nil
}

// update applies an UpdateCommand to sub at its time now; it is pure.
func update(sub *store.Subscription, cmd UpdateCommand, tok *store.Token, now, wall time.Time) error {
	newCard := tok != nil && tok.ID != sub.TokenID
	if tok != nil {
		sub.TokenID, sub.CardKey, sub.CardBrand = tok.ID, cardKey(tok), tok.CardBrand
	}
	if cmd.Description != nil {
		sub.Description = *cmd.Description
	}
	if cmd.Email != nil {
		sub.Email = *cmd.Email
	}
	if cmd.Amount != nil {
		sub.Amount = *cmd.Amount
	}
	if cmd.Currency != nil {
		sub.Currency = *cmd.Currency
	}
	if cmd.RequireConfirmation != nil {
		sub.RequireConfirmation = *cmd.RequireConfirmation
	}
	if cmd.MaxPeriods != nil {
		sub.MaxPeriods = *cmd.MaxPeriods
	}
	if cmd.EndAt != nil {
		sub.EndAt = cmd.EndAt.UTC()
	}
	if cmd.Retry != nil {
		sub.RetryDelay, sub.MaxFailures = cmd.Retry.RetryDelay, cmd.Retry.MaxFailures
	}
	inFlight := sub.PendingKey != ""
	reactivate := false
	switch sub.Status {
	case store.SubscriptionCancelled, store.SubscriptionExpired:
		reactivate = true
	case store.SubscriptionRejected:
		if !newCard {
			return ErrRejected
		}
		reactivate = true
	}
	// The period under way (being retried, or in flight) keeps its course;
	// a schedule change or a reactivation applies from the next one.
	midPeriod := inFlight || sub.Attempt > 0
	if cmd.StartAt != nil || cmd.Interval != nil || cmd.Period != nil {
		start := sub.NextAt
		if cmd.StartAt != nil {
			start = cmd.StartAt.UTC()
			if start.Before(now.Add(-time.Minute)) {
				return invalid("start_date", "future", "start_date must not be in the past")
			}
		} else if start.IsZero() || start.Before(now) || midPeriod {
			start = now
		}
		if cmd.Interval != nil {
			sub.Interval = string(*cmd.Interval)
		}
		if cmd.Period != nil {
			sub.Period = *cmd.Period
		}
		base := sub.PeriodNo
		if midPeriod {
			base++
		}
		sub.StartAt, sub.PeriodBase = start, base
	}
	if !sub.EndAt.IsZero() && !sub.EndAt.After(sub.StartAt) {
		return invalid("end_date", "gtfield", "end_date must be after start_date")
	}
	if reactivate {
		sub.Status, sub.Failed, sub.CancelledAt, sub.Rule, sub.LastReasonCode = store.SubscriptionActive, 0, time.Time{}, "", 0
		if !inFlight {
			// Periods missed while the plan was inactive are not billed.
			next := scheduleOf(sub).FirstFrom(now)
			if sub.Attempt > 0 {
				next = max(next, sub.PeriodNo+1)
			}
			sub.PeriodNo, sub.Attempt, sub.PeriodStartedAt = max(next, sub.PeriodNo), 0, time.Time{}
		}
	}
	if billable(sub.Status) && !inFlight && sub.Attempt == 0 {
		sub.NextAt = scheduleOf(sub).Due(sub.PeriodNo)
		if complete(sub, sub.NextAt) {
			if reactivate {
				return ErrComplete
			}
			sub.Status, sub.NextAt = store.SubscriptionExpired, time.Time{}
		}
	}
	sub.UpdatedAt = wall
	return nil
}

// CancelCommand cancels a subscription.
type CancelCommand struct {
	MerchantID string `validate:"required"`
	ID         string `field:"id" validate:"required,max=64"`
}

// Cancel stops a plan (CloudPayments' /subscriptions/cancel). Cancelling a
// plan that is no longer billed (cancelled, rejected, expired) changes
// nothing. An attempt already in flight is still recorded when it ends.
func (s *Service) Cancel(ctx context.Context, cmd CancelCommand) (*store.Subscription, error) {
	if err := s.check(cmd); err != nil {
		return nil, err
	}
	wall := s.now()
	sub, err := s.store.ModifySubscription(ctx, cmd.MerchantID, cmd.ID, func(sub *store.Subscription, _ *store.TestClock) (store.SubscriptionChange, error) {
		if !billable(sub.Status) {
			return store.SubscriptionChange{}, errUnchanged
		}
		sub.Status, sub.CancelledAt, sub.UpdatedAt = store.SubscriptionCancelled, wall, wall
		if sub.PendingKey == "" {
			sub.NextAt = time.Time{}
		}
		return store.SubscriptionChange{Outbox: []store.OutboxMessage{recurrentEvent(sub, wall)}}, nil
	})
	switch {
	case errors.Is(err, errUnchanged):
		return s.Get(ctx, cmd.MerchantID, cmd.ID)
	case errors.Is(err, store.ErrNotFound):
		return nil, ErrNotFound
	}
	return sub, err
}

var errUnchanged = errors.New("unchanged")

// billable reports whether a plan in status st is billed.
func billable(st store.SubscriptionStatus) bool {
	return st == store.SubscriptionActive || st == store.SubscriptionPastDue
}

// complete reports whether a plan has nothing to bill at due: it was paid
// max_periods times, or due is past its end date.
func complete(sub *store.Subscription, due time.Time) bool {
	return sub.MaxPeriods > 0 && sub.Successful >= sub.MaxPeriods || !sub.EndAt.IsZero() && due.After(sub.EndAt)
}

func scheduleOf(sub *store.Subscription) Schedule {
	return Schedule{Start: sub.StartAt, Interval: Interval(sub.Interval), Period: sub.Period, Base: sub.PeriodBase}
}

func policyOf(sub *store.Subscription) Policy {
	return Policy{RetryDelay: sub.RetryDelay, MaxFailures: sub.MaxFailures}.withDefaults()
}

// Model is a subscription as the API and notifications show it: the fields
// of CloudPayments' subscription model, in altyn's snake_case.
type Model struct {
	ID                           string     `json:"id"`
	AccountID                    string     `json:"account_id"`
	Token                        string     `json:"token"`
	Description                  string     `json:"description"`
	Email                        string     `json:"email"`
	Amount                       int64      `json:"amount"`
	Currency                     string     `json:"currency"`
	RequireConfirmation          bool       `json:"require_confirmation"`
	StartDate                    time.Time  `json:"start_date"`
	Interval                     string     `json:"interval"`
	Period                       int        `json:"period"`
	MaxPeriods                   int        `json:"max_periods,omitempty"`
	EndDate                      *time.Time `json:"end_date,omitempty"`
	Status                       string     `json:"status"`
	StatusCode                   int        `json:"status_code"`
	SuccessfulTransactionsNumber int        `json:"successful_transactions_number"`
	FailedTransactionsNumber     int        `json:"failed_transactions_number"`
	LastTransactionDate          *time.Time `json:"last_transaction_date,omitempty"`
	NextTransactionDate          *time.Time `json:"next_transaction_date,omitempty"`
	LastReasonCode               int        `json:"last_reason_code,omitempty"`
	RetryRule                    string     `json:"retry_rule,omitempty"`
	TestClockID                  string     `json:"test_clock_id,omitempty"`
	PaymentID                    string     `json:"payment_id,omitempty"`
}

// statusCodes are CloudPayments' numeric subscription statuses.
var statusCodes = map[store.SubscriptionStatus]int{
	store.SubscriptionActive: 0, store.SubscriptionPastDue: 1, store.SubscriptionCancelled: 2,
	store.SubscriptionRejected: 3, store.SubscriptionExpired: 4,
}

// ModelOf is the subscription as the API shows it.
func ModelOf(sub *store.Subscription) Model {
	m := Model{
		ID: sub.ID, AccountID: sub.AccountID, Token: sub.TokenID, Description: sub.Description, Email: sub.Email,
		Amount: sub.Amount, Currency: sub.Currency, RequireConfirmation: sub.RequireConfirmation,
		StartDate: sub.StartAt, Interval: sub.Interval, Period: sub.Period, MaxPeriods: sub.MaxPeriods,
		Status: string(sub.Status), StatusCode: statusCodes[sub.Status],
		SuccessfulTransactionsNumber: sub.Successful, FailedTransactionsNumber: sub.Failed,
		LastReasonCode: sub.LastReasonCode, RetryRule: sub.Rule, TestClockID: sub.ClockID, PaymentID: sub.SourcePaymentID,
	}
	if !sub.EndAt.IsZero() {
		m.EndDate = &sub.EndAt
	}
	if !sub.LastAt.IsZero() {
		m.LastTransactionDate = &sub.LastAt
	}
	if billable(sub.Status) && !sub.NextAt.IsZero() {
		m.NextTransactionDate = &sub.NextAt
	}
	return m
}

// NextTransaction is when the plan charges next (zero if it does not).
func NextTransaction(sub *store.Subscription) time.Time {
	if billable(sub.Status) {
		return sub.NextAt
	}
	return time.Time{}
}

// recurrentEvent is the outbox message of a status change: the Recurrent
// notification, {"id", "type", "subscription", "created_at"}. It is pure,
// so it can run inside a transaction's closure.
func recurrentEvent(sub *store.Subscription, at time.Time) store.OutboxMessage {
	ev := struct {
		ID           string    `json:"id"`
		Type         string    `json:"type"`
		Subscription Model     `json:"subscription"`
		CreatedAt    time.Time `json:"created_at"`
	}{newID("evt"), payments.EventRecurrent, ModelOf(sub), at}
	payload, _ := json.Marshal(ev)
	return store.OutboxMessage{ID: ev.ID, MerchantID: sub.MerchantID, Type: payments.EventRecurrent,
		SubjectID: sub.ID, Payload: payload, CreatedAt: at}
}

// newID returns a random id with a type prefix, e.g. "sub_…".
func newID(prefix string) string {
	b := make([]byte, 15)
	rand.Read(b)
	return prefix + "_" + strings.ToLower(base32.StdEncoding.EncodeToString(b))
}

func hashOf(cmd any) []byte {
	b, _ := json.Marshal(cmd)
	h := sha256.Sum256(b)
	return h[:]
}

func checkSettings(st Settings) error {
	if st.RetryDelay != 0 && (st.RetryDelay < MinRetryDelay || st.RetryDelay > MaxRetryDelay) {
		return invalid("retry.delay", "range", "retry.delay must be between 1 hour and 30 days")
	}
	return nil
}

// check validates a command into one InvalidArgument listing every bad field.
func (s *Service) check(cmd any) error { return s.validate.Check(cmd) }

// invalid is an InvalidArgument about one field.
var invalid = payments.Invalid
