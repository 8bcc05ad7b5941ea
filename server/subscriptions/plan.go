package subscriptions

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"strconv"
	"strings"
	"time"

	"github.com/altynpay/altyn/server/money"
	"github.com/altynpay/altyn/server/payments"
	"github.com/altynpay/altyn/store"
)

// Plan is the recurrent plan a payment asks for: once the payment is
// approved, a subscription on its saved card follows it (CloudPayments'
// data.cloudPayments.recurrent; the widget's recurrent option). It is
// stored with the payment as JSON in this form.
type Plan struct {
	Interval Interval `json:"interval"`
	Period   int      `json:"period"`
	// StartAt is the first scheduled charge; nil means one period after
	// the payment.
	StartAt *time.Time `json:"start_at,omitempty"`
	// Amount of each scheduled charge in minor units; 0 means the
	// payment's amount. The currency is the payment's.
	Amount     int64      `json:"amount,omitempty"`
	MaxPeriods int        `json:"max_periods,omitempty"`
	EndAt      *time.Time `json:"end_at,omitempty"`
}

// check validates a plan; field names are prefixed with prefix.
func (p Plan) check(prefix string, now time.Time) error {
	switch {
	case !p.Interval.Valid():
		return invalid(prefix+"interval", "oneof", prefix+"interval must be Day, Week or Month")
	case p.Period < 1 || p.Period > 1000:
		return invalid(prefix+"period", "range", prefix+"period must be between 1 and 1000")
	case p.Amount < 0 || p.Amount > payments.MaxAmount:
		return invalid(prefix+"amount", "range", prefix+"amount must be between 0 (the payment's) and 10^12 minor units")
	case p.MaxPeriods < 0 || p.MaxPeriods > 100000:
		return invalid(prefix+"max_periods", "range", prefix+"max_periods must be between 0 (no limit) and 100000")
	case p.StartAt != nil && p.StartAt.Before(now.Add(-time.Minute)):
		return invalid(prefix+"start_date", "future", prefix+"start_date must not be in the past")
	case p.EndAt != nil && !p.EndAt.After(now):
		return invalid(prefix+"end_date", "future", prefix+"end_date must be in the future")
	case p.EndAt != nil && p.StartAt != nil && !p.EndAt.After(*p.StartAt):
		return invalid(prefix+"end_date", "gtfield", prefix+"end_date must be after start_date")
	}
	return nil
}

// beforePay reads and checks the plan a payment asks for, before the
// payment is made: the API's typed field (already a Plan) or the data's
// "recurrent" or "cloudPayments.recurrent" (as the widget sends it:
// amounts in major units of the payment's currency). The plan is stored
// with the payment as a Plan.
func (s *Service) beforePay(_ context.Context, cmd *payments.PayCommand) error {
	fromData, err := planInData(cmd.Data, cmd.Currency)
	if err != nil {
		return err
	}
	var p Plan
	prefix := "recurrent."
	switch {
	case len(cmd.Recurrent) > 0 && fromData != nil:
		return invalid("recurrent", "excluded_with", "give the recurrent plan either as the recurrent field or in data, not both")
	case len(cmd.Recurrent) > 0:
		if err := json.Unmarshal(cmd.Recurrent, &p); err != nil {
			return invalid("recurrent", "json", "recurrent is not a plan")
		}
	case fromData != nil:
		p, prefix = *fromData, "data.recurrent."
	default:
		return nil
	}
	if err := p.check(prefix, s.now()); err != nil {
		return err
	}
	if cmd.AccountID == "" {
		return invalid("account_id", "required", "account_id is required with a recurrent plan: the card is saved for the account")
	}
	b, err := json.Marshal(p)
	if err != nil {
		return fmt.Errorf("encode plan: %w", err)
	}
	cmd.Recurrent = b
	return nil
}

// planInData finds a plan in a payment's data: data.recurrent,
// data.cloudPayments.recurrent or data.CloudPayments.recurrent.
func planInData(data json.RawMessage, currency string) (*Plan, error) {
	if len(data) == 0 || !bytes.Contains(data, []byte("ecurrent")) {
		return nil, nil
	}
	var d map[string]json.RawMessage
	if err := json.Unmarshal(data, &d); err != nil {
		return nil, nil // not an object: the engine's validation speaks of it
	}
	raw := d["recurrent"]
	for _, k := range []string{"cloudPayments", "CloudPayments", "cloudpayments"} {
		if len(raw) > 0 {
			break
		}
		var cp map[string]json.RawMessage
		if json.Unmarshal(d[k], &cp) == nil {
			raw = cp["recurrent"]
		}
	}
	if len(raw) == 0 || string(raw) == "null" {
		return nil, nil
	}
	var r map[string]any
	dec := json.NewDecoder(bytes.NewReader(raw))
	dec.UseNumber()
	if err := dec.Decode(&r); err != nil {
		return nil, invalid("data.recurrent", "json", "data.recurrent must be an object")
	}
	field := func(names ...string) (any, bool) {
		for k, v := range r {
			for _, n := range names {
				if strings.EqualFold(strings.ReplaceAll(k, "_", ""), n) && v != nil {
					return v, true
				}
			}
		}
		return nil, false
	}
	p := &Plan{Period: 1}
	if v, ok := field("interval"); ok {
		str, _ := v.(string)
		for _, i := range []Interval{Day, Week, Month} {
			if strings.EqualFold(str, string(i)) {
				p.Interval = i
			}
		}
		if p.Interval == "" {
			return nil, invalid("data.recurrent.interval", "oneof", "data.recurrent.interval must be Day, Week or Month")
		}
	} else {
		return nil, invalid("data.recurrent.interval", "required", "data.recurrent.interval is required")
	}
	integer := func(name string, v any) (int, error) {
		n, err := strconv.Atoi(strings.TrimSpace(fmt.Sprint(v)))
		if err != nil {
			return 0, invalid("data.recurrent."+name, "integer", "data.recurrent."+name+" must be a whole number")
		}
		return n, nil
	}
	var err error
	if v, ok := field("period"); ok {
		if p.Period, err = integer("period", v); err != nil {
			return nil, err
		}
	}
	if v, ok := field("maxPeriods"); ok {
		if p.MaxPeriods, err = integer("max_periods", v); err != nil {
			return nil, err
		}
	}
	if v, ok := field("amount"); ok {
		if p.Amount, err = money.Parse(fmt.Sprint(v), currency); err != nil {
			return nil, invalid("data.recurrent.amount", "decimal", "data.recurrent.amount must be an amount in "+currency+" such as 1000 or 1000.50")
		}
	}
	for _, f := range []struct {
		names []string
		dst   **time.Time
		name  string
	}{{[]string{"startDate", "startAt"}, &p.StartAt, "start_date"}, {[]string{"endDate", "endAt"}, &p.EndAt, "end_date"}} {
		if v, ok := field(f.names...); ok {
			t, err := parseDate(fmt.Sprint(v))
			if err != nil {
				return nil, invalid("data.recurrent."+f.name, "date", "data.recurrent."+f.name+" must be a date such as 2030-01-31T10:00:00Z")
			}
			*f.dst = &t
		}
	}
	return p, nil
}

// parseDate reads the dates merchants' pages send: RFC 3339 (a JavaScript
// Date in JSON), or a UTC date-time or date without zone (CloudPayments).
func parseDate(s string) (time.Time, error) {
	for _, layout := range []string{time.RFC3339Nano, "2006-01-02T15:04:05", "2006-01-02 15:04:05", "2006-01-02"} {
		if t, err := time.Parse(layout, strings.TrimSpace(s)); err == nil {
			return t.UTC(), nil
		}
	}
	return time.Time{}, errors.New("not a date")
}

// onApproved makes the subscription of an approved payment that asked for
// a plan. A failure is logged and left to the runner's sweep, which finds
// approved payments with a plan and no subscription (startUnstarted).
func (s *Service) onApproved(ctx context.Context, p *store.Payment) {
	if len(p.Recurrent) == 0 || p.SubscriptionID != "" {
		return
	}
	sub, err := s.startPlan(ctx, p)
	if err != nil {
		s.log.ErrorContext(ctx, "subscription of an approved payment not made; the runner's sweep retries it", "payment", p.ID, "err", err)
		return
	}
	p.SubscriptionID = sub.ID // the caller's answer shows it
}

// startPlan makes the subscription of an approved payment's plan, once:
// repeated (a replayed hook, the sweep) it returns the one made first.
func (s *Service) startPlan(ctx context.Context, p *store.Payment) (*store.Subscription, error) {
	var plan Plan
	if err := json.Unmarshal(p.Recurrent, &plan); err != nil {
		return nil, fmt.Errorf("decode plan: %w", err)
	}
	if p.TokenID == "" {
		return nil, errors.New("the payment saved no card")
	}
	tok, err := s.store.Token(ctx, p.TokenID)
	if err != nil {
		return nil, fmt.Errorf("read token: %w", err)
	}
	approved := p.AuthorizedAt
	if approved.IsZero() {
		approved = s.now()
	}
	amount := plan.Amount
	if amount == 0 {
		amount = p.Amount
	}
	// The first charge: the plan's start date, or one period after the
	// payment. A start date that passed while the payer was at 3-D Secure
	// moves to the schedule's next date, never to "now": the payer has
	// just paid.
	sched := Schedule{Start: approved, Interval: plan.Interval, Period: plan.Period}
	start := sched.Due(1)
	if plan.StartAt != nil {
		sched.Start = plan.StartAt.UTC()
		start = sched.Due(sched.FirstFrom(approved))
	}
	sub := &store.Subscription{
		ID: newID("sub"), MerchantID: p.MerchantID, AccountID: p.AccountID, TokenID: tok.ID,
		CardKey: cardKey(tok), CardBrand: tok.CardBrand, Description: p.Description, Email: p.Email,
		Amount: amount, Currency: p.Currency, RequireConfirmation: p.TwoStage,
		Interval: string(plan.Interval), Period: plan.Period, MaxPeriods: plan.MaxPeriods,
		StartAt: start, Status: store.SubscriptionActive, NextAt: start,
		SourcePaymentID: p.ID, TestMode: p.TestMode, Version: 1, CreatedAt: s.now(), UpdatedAt: s.now(),
	}
	if plan.EndAt != nil {
		sub.EndAt = plan.EndAt.UTC()
	}
	if complete(sub, start) {
		// The end date passed before the first charge: the plan is over
		// before it began, and the merchant is told so.
		sub.Status, sub.NextAt = store.SubscriptionExpired, time.Time{}
	}
	var events []store.OutboxMessage
	if sub.Status != store.SubscriptionActive {
		events = append(events, recurrentEvent(sub, s.now()))
	}
	switch err := s.store.CreateSubscription(ctx, sub, events); {
	case errors.Is(err, store.ErrSourcePaymentUsed):
		return s.store.SubscriptionByPayment(ctx, p.MerchantID, p.ID)
	case err != nil:
		return nil, err
	}
	s.wake()
	return sub, nil
}

// startUnstarted makes the subscriptions whose creation after approval
// failed or never ran (the process died in between).
func (s *Service) startUnstarted(ctx context.Context, now time.Time) (int, error) {
	list, err := s.store.UnstartedPlans(ctx, now.Add(-7*24*time.Hour), now.Add(-30*time.Second), 100)
	if err != nil {
		return 0, err
	}
	n := 0
	for _, p := range list {
		if _, err := s.startPlan(ctx, p); err != nil {
			s.log.ErrorContext(ctx, "subscription of an approved payment not made", "payment", p.ID, "err", err)
			continue
		}
		n++
	}
	return n, nil
}
