package payments

import (
	"context"
	"encoding/json"
	"time"

	"github.com/altynpay/altyn/store"
)

// The notification types (CloudPayments' names).
const (
	EventPay       = "Pay"       // a payment was approved (charged or authorized)
	EventFail      = "Fail"      // a payment was declined
	EventConfirm   = "Confirm"   // an authorization was captured
	EventRefund    = "Refund"    // a refund was made
	EventCancel    = "Cancel"    // an authorization was voided
	EventRecurrent = "Recurrent" // a subscription changed status
)

// Event is the payload of an outbox message: the payment as the change left
// it, and the refund for Refund events.
type Event struct {
	ID        string         `json:"id"`
	Type      string         `json:"type"`
	Payment   *store.Payment `json:"payment"`
	Refund    *store.Refund  `json:"refund,omitempty"`
	CreatedAt time.Time      `json:"created_at"`
}

// event builds the outbox message of a change; it is pure, so it can run
// inside a transaction's closure.
func event(typ string, p *store.Payment, r *store.Refund, now time.Time) store.OutboxMessage {
	ev := Event{ID: newID("evt"), Type: typ, Payment: p, Refund: r, CreatedAt: now}
	payload, _ := json.Marshal(ev)
	m := store.OutboxMessage{ID: ev.ID, MerchantID: p.MerchantID, Type: typ, PaymentID: p.ID, Payload: payload, CreatedAt: now}
	if r != nil {
		m.SubjectID = r.ID
	}
	return m
}

// authorizationEvent is the event of a payment's authorization outcome, if any.
func authorizationEvent(p *store.Payment, now time.Time) []store.OutboxMessage {
	switch p.Status {
	case store.StatusCompleted, store.StatusAuthorized:
		return []store.OutboxMessage{event(EventPay, p, nil, now)}
	case store.StatusDeclined:
		return []store.OutboxMessage{event(EventFail, p, nil, now)}
	}
	return nil
}

// Checker asks the merchant whether to accept a payment before the acquirer
// is asked (CloudPayments' Check notification). The notifier implements it.
type Checker interface {
	// Check answers whether to go on. A refusal, an unreachable or a slow
	// merchant all come back as Accept false with the reason to record.
	Check(ctx context.Context, p *store.Payment) CheckResult
}

// CheckResult is the merchant's answer to a Check.
type CheckResult struct {
	Accept     bool
	ReasonCode int    // the decline code recorded when not accepted
	Reason     string // e.g. "CheckRefused: 12 (wrong amount)"
}
