package api_test

import (
	"encoding/json"
	"errors"
	"slices"
	"strings"
	"testing"
	"time"

	"connectrpc.com/connect"
	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/types/known/durationpb"
	"google.golang.org/protobuf/types/known/structpb"
	"google.golang.org/protobuf/types/known/timestamppb"

	"github.com/altynpay/altyn/cryptogram"
	altynv1 "github.com/altynpay/altyn/gen/altyn/v1"
	"github.com/altynpay/altyn/gen/altyn/v1/altynv1connect"
	"github.com/altynpay/altyn/server/apptest"
	"github.com/altynpay/altyn/server/merchants"
	"github.com/altynpay/altyn/store"
)

// saveCard pays 1.00 with a card for an account and returns the token.
func saveCard(t *testing.T, env *apptest.Env, pan, account string) string {
	t.Helper()
	p := charge1(t, env, &altynv1.ChargeRequest{Amount: rub(100), Cryptogram: env.Seal(t, pan), AccountId: account})
	wantStatus(t, p, altynv1.PaymentStatus_PAYMENT_STATUS_COMPLETED)
	if p.Token == "" {
		t.Fatalf("payment with account %s saved no card", account)
	}
	return p.Token
}

// newClock makes a test clock at `at`.
func newClock(t *testing.T, env *apptest.Env, at time.Time) string {
	t.Helper()
	res, err := env.TestClocks.CreateTestClock(t.Context(), connect.NewRequest(&altynv1.CreateTestClockRequest{
		Name: t.Name(), FrozenTime: timestamppb.New(at)}))
	if err != nil {
		t.Fatalf("CreateTestClock: %v", err)
	}
	return res.Msg.TestClock.Id
}

// advance moves a test clock to `to` and waits until the runners have
// billed everything that fell due.
func advance(t *testing.T, env *apptest.Env, clock string, to time.Time) {
	t.Helper()
	ctx := t.Context()
	res, err := env.TestClocks.AdvanceTestClock(ctx, connect.NewRequest(&altynv1.AdvanceTestClockRequest{Id: clock, FrozenTime: timestamppb.New(to)}))
	if err != nil {
		t.Fatalf("AdvanceTestClock(%v): %v", to, err)
	}
	c := res.Msg.TestClock
	for deadline := time.Now().Add(30 * time.Second); c.Status != altynv1.TestClockStatus_TEST_CLOCK_STATUS_READY; {
		if time.Now().After(deadline) {
			t.Fatalf("test clock still %v with %d due subscriptions after 30 s", c.Status, c.DueSubscriptions)
		}
		time.Sleep(20 * time.Millisecond)
		got, err := env.TestClocks.GetTestClock(ctx, connect.NewRequest(&altynv1.GetTestClockRequest{Id: clock}))
		if err != nil {
			t.Fatal(err)
		}
		c = got.Msg.TestClock
	}
}

func getSub(t *testing.T, env *apptest.Env, id string) *altynv1.Subscription {
	t.Helper()
	res, err := env.Subscriptions.GetSubscription(t.Context(), connect.NewRequest(&altynv1.GetSubscriptionRequest{Id: id}))
	if err != nil {
		t.Fatalf("GetSubscription(%s): %v", id, err)
	}
	return res.Msg.Subscription
}

// subPayments lists the payments a subscription made, oldest first.
func subPayments(t *testing.T, env *apptest.Env, subID string) []*store.Payment {
	t.Helper()
	rows, err := env.App.Store.Pool().Query(t.Context(), `SELECT id FROM payments WHERE subscription_id = $1 ORDER BY created_at, id`, subID)
	if err != nil {
		t.Fatal(err)
	}
	var out []*store.Payment
	for rows.Next() {
		var id string
		if err := rows.Scan(&id); err != nil {
			t.Fatal(err)
		}
		p, err := env.App.Store.Payment(t.Context(), env.Merchant.ID, id)
		if err != nil {
			t.Fatal(err)
		}
		out = append(out, p)
	}
	return out
}

// recurrentEvents lists the statuses of a subscription's Recurrent
// notifications in the outbox, sorted.
func recurrentEvents(t *testing.T, env *apptest.Env, subID string) []string {
	t.Helper()
	msgs, err := env.App.Store.Outbox(t.Context(), env.Merchant.ID, 10000)
	if err != nil {
		t.Fatal(err)
	}
	var out []string
	for _, m := range msgs {
		if m.Type != "Recurrent" || m.SubjectID != subID {
			continue
		}
		var ev struct {
			ID           string `json:"id"`
			Subscription struct {
				ID     string `json:"id"`
				Status string `json:"status"`
			} `json:"subscription"`
		}
		if err := json.Unmarshal(m.Payload, &ev); err != nil || ev.ID != m.ID || ev.Subscription.ID != subID {
			t.Errorf("Recurrent message %s: payload %s does not describe it (%v)", m.ID, m.Payload, err)
		}
		out = append(out, ev.Subscription.Status)
	}
	slices.Sort(out) // the test's App clock stands still: created_at does not order them
	return out
}

// TestInstalments is seed 000's instalment plan from the widget: 6000 now,
// then 6 × 1000 monthly, then Expired; the plan comes in the payment's
// data as CloudPayments' widget sends it (amounts in roubles).
func TestInstalments(t *testing.T) {
	t.Parallel()
	env := apptest.New(t, apptest.WithRunner())
	ctx := t.Context()
	data, _ := structpb.NewStruct(map[string]any{"cloudPayments": map[string]any{
		"recurrent": map[string]any{"interval": "Month", "period": 1, "amount": 1000, "maxPeriods": 6}}})
	req := &altynv1.ChargeRequest{Amount: rub(600000), Cryptogram: env.Seal(t, "4000000000003055"),
		AccountId: "student-1", Description: "Course", Data: data, IdempotencyKey: "course-1"}
	first := charge1(t, env, req)
	wantStatus(t, first, altynv1.PaymentStatus_PAYMENT_STATUS_COMPLETED)
	if first.SubscriptionId == "" {
		t.Fatal("the payment with a recurrent plan started no subscription")
	}
	if again := charge1(t, env, req); again.Id != first.Id || again.SubscriptionId != first.SubscriptionId {
		t.Errorf("the repeated request answered payment %s with subscription %q, want %s with %s",
			again.Id, again.SubscriptionId, first.Id, first.SubscriptionId)
	}
	sub := getSub(t, env, first.SubscriptionId)
	paidAt := first.AuthorizedAt.AsTime()
	if sub.Status != altynv1.SubscriptionStatus_SUBSCRIPTION_STATUS_ACTIVE || sub.Amount.GetAmount() != 100000 || sub.MaxPeriods != 6 ||
		sub.PaymentId != first.Id || sub.Token != first.Token || !sub.NextTransactionDate.AsTime().Equal(paidAt.AddDate(0, 1, 0)) {
		t.Fatalf("subscription of the first payment: %v", sub)
	}

	clock := newClock(t, env, env.Clock.Now())
	if _, err := env.TestClocks.AttachTestClock(ctx, connect.NewRequest(&altynv1.AttachTestClockRequest{SubscriptionId: sub.Id, TestClockId: clock})); err != nil {
		t.Fatal(err)
	}
	for month := 1; month <= 7; month++ {
		advance(t, env, clock, paidAt.AddDate(0, month, 1))
		sub = getSub(t, env, sub.Id)
		want := min(month, 6)
		if int(sub.SuccessfulTransactions) != want {
			t.Fatalf("after %d months: %d successful charges, want %d", month, sub.SuccessfulTransactions, want)
		}
	}
	if sub.Status != altynv1.SubscriptionStatus_SUBSCRIPTION_STATUS_EXPIRED || sub.NextTransactionDate != nil {
		t.Errorf("after the sixth instalment the plan is %v (next %v), want EXPIRED", sub.Status, sub.NextTransactionDate)
	}
	pays := subPayments(t, env, sub.Id)
	var total int64
	for i, p := range pays {
		total += p.Amount
		if p.ID != first.Id && (p.Amount != 100000 || p.Status != store.StatusCompleted || p.TokenID != first.Token) {
			t.Errorf("instalment %d: %d %s token %s", i, p.Amount, p.Status, p.TokenID)
		}
		if l, ok := env.App.Sandbox.Ledger(p.ID); !ok || l.Captured != p.Amount {
			t.Errorf("instalment %d: sandbox ledger %+v, want %d captured", i, l, p.Amount)
		}
	}
	if len(pays) != 7 || total != 1200000 {
		t.Errorf("the plan's payments: %d of %d in all, want 7 of 1200000 (6000 + 6 × 1000)", len(pays), total)
	}
	if got := recurrentEvents(t, env, sub.Id); !slices.Equal(got, []string{"Expired"}) {
		t.Errorf("Recurrent notifications: %v, want [Expired]", got)
	}
}

// createSub creates a subscription through the API.
func createSub(t *testing.T, env *apptest.Env, req *altynv1.CreateSubscriptionRequest) *altynv1.Subscription {
	t.Helper()
	res, err := env.Subscriptions.CreateSubscription(t.Context(), connect.NewRequest(req))
	if err != nil {
		t.Fatalf("CreateSubscription: %v", err)
	}
	return res.Msg.Subscription
}

// TestMonthlyPlanOnTestClock bills a monthly plan anchored on the 31st
// over a year in one move of a test clock, then cancels it, skips two
// months and reactivates it with Update.
func TestMonthlyPlanOnTestClock(t *testing.T) {
	t.Parallel()
	env := apptest.New(t, apptest.WithRunner())
	ctx := t.Context()
	tok := saveCard(t, env, "5205000000003055", "member-31")
	start := time.Date(2031, time.January, 31, 9, 30, 0, 0, time.UTC)
	clock := newClock(t, env, start.Add(-24*time.Hour))
	sub := createSub(t, env, &altynv1.CreateSubscriptionRequest{Token: tok, AccountId: "member-31", Description: "Gym",
		Amount: rub(250000), StartDate: timestamppb.New(start), Interval: altynv1.Interval_INTERVAL_MONTH, Period: 1, TestClockId: clock})
	if sub.Status != altynv1.SubscriptionStatus_SUBSCRIPTION_STATUS_ACTIVE || !sub.NextTransactionDate.AsTime().Equal(start) {
		t.Fatalf("new subscription: %v", sub)
	}

	advance(t, env, clock, time.Date(2032, time.January, 31, 12, 0, 0, 0, time.UTC))
	charges, err := env.App.Store.Charges(ctx, sub.Id)
	if err != nil {
		t.Fatal(err)
	}
	var got []string
	for _, c := range charges {
		if c.Status != store.ChargePaid || c.Attempt != 1 {
			t.Errorf("period %d: %s after %d attempts", c.PeriodNo, c.Status, c.Attempt)
		}
		got = append(got, c.DueAt.Format("2006-01-02"))
	}
	want := "2031-01-31 2031-02-28 2031-03-31 2031-04-30 2031-05-31 2031-06-30 2031-07-31 2031-08-31 2031-09-30 2031-10-31 2031-11-30 2031-12-31 2032-01-31"
	if strings.Join(got, " ") != want {
		t.Errorf("billed periods due on\n%s\nwant\n%s", strings.Join(got, " "), want)
	}
	sub = getSub(t, env, sub.Id)
	if sub.SuccessfulTransactions != 13 || !sub.NextTransactionDate.AsTime().Equal(time.Date(2032, time.February, 29, 9, 30, 0, 0, time.UTC)) {
		t.Errorf("after a year: %d successful, next %v; want 13 and 2032-02-29 (leap year)", sub.SuccessfulTransactions, sub.NextTransactionDate.AsTime())
	}
	if n := len(subPayments(t, env, sub.Id)); n != 13 {
		t.Errorf("%d payments, want 13", n)
	}

	// Cancelled, it is not billed; updated, it is Active again from the
	// next date of its schedule (the missed months are not billed), and
	// max_periods counts what was paid.
	if _, err := env.Subscriptions.CancelSubscription(ctx, connect.NewRequest(&altynv1.CancelSubscriptionRequest{Id: sub.Id})); err != nil {
		t.Fatal(err)
	}
	advance(t, env, clock, time.Date(2032, time.April, 15, 0, 0, 0, 0, time.UTC))
	if s := getSub(t, env, sub.Id); s.Status != altynv1.SubscriptionStatus_SUBSCRIPTION_STATUS_CANCELLED || s.SuccessfulTransactions != 13 || s.NextTransactionDate != nil {
		t.Fatalf("cancelled plan: %v", s)
	}
	upd, err := env.Subscriptions.UpdateSubscription(ctx, connect.NewRequest(&altynv1.UpdateSubscriptionRequest{Id: sub.Id, MaxPeriods: proto.Int32(15)}))
	if err != nil {
		t.Fatal(err)
	}
	if s := upd.Msg.Subscription; s.Status != altynv1.SubscriptionStatus_SUBSCRIPTION_STATUS_ACTIVE ||
		!s.NextTransactionDate.AsTime().Equal(time.Date(2032, time.April, 30, 9, 30, 0, 0, time.UTC)) {
		t.Fatalf("reactivated plan: %v, want ACTIVE next on 2032-04-30", s)
	}
	advance(t, env, clock, time.Date(2032, time.December, 1, 0, 0, 0, 0, time.UTC))
	s := getSub(t, env, sub.Id)
	if s.Status != altynv1.SubscriptionStatus_SUBSCRIPTION_STATUS_EXPIRED || s.SuccessfulTransactions != 15 {
		t.Errorf("after reactivation with max_periods 15: %v, want EXPIRED after 15 charges", s)
	}
	charges, _ = env.App.Store.Charges(ctx, sub.Id)
	if n := len(charges); n != 15 || charges[13].DueAt.Format("2006-01-02") != "2032-04-30" || charges[14].DueAt.Format("2006-01-02") != "2032-05-31" {
		t.Errorf("%d periods billed; after reactivation the periods due %v and %v, want 2032-04-30 and 2032-05-31",
			n, charges[min(13, n-1)].DueAt, charges[n-1].DueAt)
	}
	// Expired with nothing left, an update that adds nothing is refused.
	_, err = env.Subscriptions.UpdateSubscription(ctx, connect.NewRequest(&altynv1.UpdateSubscriptionRequest{Id: sub.Id, Description: proto.String("Gym+")}))
	if connect.CodeOf(err) != connect.CodeFailedPrecondition || reasonOf(err) != "SUBSCRIPTION_COMPLETE" {
		t.Errorf("reactivating a plan with nothing to bill: %v, want FailedPrecondition SUBSCRIPTION_COMPLETE", err)
	}
	if got := recurrentEvents(t, env, sub.Id); !slices.Equal(got, []string{"Cancelled", "Expired"}) {
		t.Errorf("Recurrent notifications: %v, want [Cancelled Expired] (Update sends none)", got)
	}
}

// TestRetriesThenRejected drives CloudPayments' default policy with the
// sandbox card 4111 1111 1111 1111, which pays once by cryptogram and then
// declines 5051 on every merchant-initiated token payment: retried the
// next day, PastDue after the first and second failure, Rejected at the
// third.
func TestRetriesThenRejected(t *testing.T) {
	t.Parallel()
	env := apptest.New(t, apptest.WithRunner())
	tok := saveCard(t, env, "4111111111111111", "subscriber-4111")
	start := env.Clock.Now().Add(time.Hour).Truncate(time.Second)
	clock := newClock(t, env, env.Clock.Now())
	sub := createSub(t, env, &altynv1.CreateSubscriptionRequest{Token: tok, AccountId: "subscriber-4111", Description: "News",
		Amount: rub(49900), StartDate: timestamppb.New(start), Interval: altynv1.Interval_INTERVAL_MONTH, Period: 1, TestClockId: clock})

	steps := []struct {
		at        time.Time
		status    altynv1.SubscriptionStatus
		failed    int32
		rule      string
		next      time.Time
		attempts  int
		abandoned bool
	}{
		{start, altynv1.SubscriptionStatus_SUBSCRIPTION_STATUS_PAST_DUE, 1, "retry", start.Add(24 * time.Hour), 1, false},
		{start.Add(24 * time.Hour), altynv1.SubscriptionStatus_SUBSCRIPTION_STATUS_PAST_DUE, 2, "retry", start.Add(48 * time.Hour), 2, false},
		{start.Add(48 * time.Hour), altynv1.SubscriptionStatus_SUBSCRIPTION_STATUS_REJECTED, 3, "consecutive_failures", time.Time{}, 3, true},
	}
	for i, st := range steps {
		// Half a day early nothing happens; at the time, the attempt.
		if i > 0 {
			advance(t, env, clock, st.at.Add(-12*time.Hour))
			if s := getSub(t, env, sub.Id); int(s.FailedTransactions) != i {
				t.Fatalf("step %d: charged early (%d failures)", i, s.FailedTransactions)
			}
		}
		advance(t, env, clock, st.at)
		s := getSub(t, env, sub.Id)
		if s.Status != st.status || s.FailedTransactions != st.failed || s.RetryRule != st.rule || s.LastReasonCode != 5051 ||
			s.RetryRuleDescription == "" || s.SuccessfulTransactions != 0 {
			t.Fatalf("step %d: %v failed %d rule %q (%q) code %d; want %v, %d, %q", i, s.Status, s.FailedTransactions, s.RetryRule,
				s.RetryRuleDescription, s.LastReasonCode, st.status, st.failed, st.rule)
		}
		if (s.NextTransactionDate == nil) != st.next.IsZero() || s.NextTransactionDate != nil && !s.NextTransactionDate.AsTime().Equal(st.next) {
			t.Errorf("step %d: next %v, want %v", i, s.NextTransactionDate.AsTime(), st.next)
		}
		charges, _ := env.App.Store.Charges(t.Context(), sub.Id)
		if len(charges) != 1 || charges[0].Attempt != st.attempts || (charges[0].Status == store.ChargeAbandoned) != st.abandoned {
			t.Errorf("step %d: charges %+v", i, charges)
		}
	}
	pays := subPayments(t, env, sub.Id)
	if len(pays) != 3 {
		t.Fatalf("%d payments, want 3 attempts", len(pays))
	}
	for _, p := range pays {
		if p.Status != store.StatusDeclined || p.ReasonCode != 5051 {
			t.Errorf("attempt %s: %s %d", p.ID, p.Status, p.ReasonCode)
		}
	}
	// Nothing more happens to a rejected plan.
	advance(t, env, clock, start.AddDate(0, 3, 0))
	if n := len(subPayments(t, env, sub.Id)); n != 3 {
		t.Errorf("a rejected plan was charged again: %d payments", n)
	}
	if got := recurrentEvents(t, env, sub.Id); !slices.Equal(got, []string{"PastDue", "Rejected"}) {
		t.Errorf("Recurrent notifications: %v, want [PastDue Rejected]", got)
	}
	// Rejected, it is reactivated only with another card; then it is billed.
	_, err := env.Subscriptions.UpdateSubscription(t.Context(), connect.NewRequest(&altynv1.UpdateSubscriptionRequest{Id: sub.Id, Amount: rub(39900)}))
	if reasonOf(err) != "SUBSCRIPTION_REJECTED" {
		t.Errorf("reactivating a rejected plan with its card: %v", err)
	}
	good := saveCard(t, env, "4000000000003055", "subscriber-4111")
	upd, err := env.Subscriptions.UpdateSubscription(t.Context(), connect.NewRequest(&altynv1.UpdateSubscriptionRequest{Id: sub.Id, Token: &good}))
	if err != nil || upd.Msg.Subscription.Status != altynv1.SubscriptionStatus_SUBSCRIPTION_STATUS_ACTIVE || upd.Msg.Subscription.FailedTransactions != 0 {
		t.Fatalf("update with another card: %v %v", upd.Msg.GetSubscription(), err)
	}
	// The clock stands on the date of period 3: it is due now, and period 4 a month later.
	advance(t, env, clock, start.AddDate(0, 4, 1))
	if s := getSub(t, env, sub.Id); s.SuccessfulTransactions != 2 || s.Status != altynv1.SubscriptionStatus_SUBSCRIPTION_STATUS_ACTIVE {
		t.Errorf("with the new card: %v", s)
	}
}

// TestFinalDeclineRejectsAtOnce: a card that has expired since it was
// saved declines 5054, which the networks call final: no retry.
func TestFinalDeclineRejectsAtOnce(t *testing.T) {
	t.Parallel()
	env := apptest.New(t)
	ctx := t.Context()
	now := env.Clock.Now()
	card := env.SealCard(t, cryptogramCard("4000000000003055", int(now.Month()), now.Year()), nil)
	p := charge1(t, env, &altynv1.ChargeRequest{Amount: rub(100), Cryptogram: card, AccountId: "expiring"})
	wantStatus(t, p, altynv1.PaymentStatus_PAYMENT_STATUS_COMPLETED)
	sub := createSub(t, env, &altynv1.CreateSubscriptionRequest{Token: p.Token, AccountId: "expiring", Description: "Box",
		Amount: rub(99000), StartDate: timestamppb.New(now.AddDate(0, 1, 0)), Interval: altynv1.Interval_INTERVAL_MONTH, Period: 1})
	env.Clock.Advance(45 * 24 * time.Hour) // the card's month is over
	if _, err := env.App.Runner.RunOnce(ctx, env.Clock.Now()); err != nil {
		t.Fatal(err)
	}
	s := getSub(t, env, sub.Id)
	if s.Status != altynv1.SubscriptionStatus_SUBSCRIPTION_STATUS_REJECTED || s.LastReasonCode != 5054 || s.RetryRule != "final_decline" ||
		s.FailedTransactions != 1 || s.NextTransactionDate != nil {
		t.Errorf("after an expired-card decline: %v", s)
	}
	env.Clock.Advance(48 * time.Hour)
	env.App.Runner.RunOnce(ctx, env.Clock.Now())
	if n := len(subPayments(t, env, sub.Id)); n != 1 {
		t.Errorf("%d attempts, want 1: a final decline is never retried", n)
	}
}

func cryptogramCard(pan string, month, year int) cryptogram.Card {
	return cryptogram.Card{PAN: pan, ExpMonth: month, ExpYear: year, CVV: "123", Name: "TEST PAYER"}
}

// TestNetworkCeilingsOverrideSettings: a merchant asks for hourly retries
// and 20 failures before rejection; on a Mastercard that declines 5051 the
// networks' rules still apply: two soft declines block the card for 24
// hours, and one debit gets at most 4 attempts, after which the period is
// given up (the plan stays PastDue and tries the next period).
func TestNetworkCeilingsOverrideSettings(t *testing.T) {
	t.Parallel()
	env := apptest.New(t, apptest.WithRunner())
	tok := saveCard(t, env, "5200828282828210", "mc-1")
	start := env.Clock.Now().Add(time.Hour).Truncate(time.Second)
	clock := newClock(t, env, env.Clock.Now())
	sub := createSub(t, env, &altynv1.CreateSubscriptionRequest{Token: tok, AccountId: "mc-1", Description: "Hosting",
		Amount: rub(150000), StartDate: timestamppb.New(start), Interval: altynv1.Interval_INTERVAL_MONTH, Period: 1,
		TestClockId: clock, Retry: &altynv1.RetrySettings{Delay: durationpb.New(time.Hour), MaxFailures: 20}})
	h := time.Hour
	steps := []struct {
		at     time.Time
		failed int32
		rule   string
		next   time.Time
	}{
		{start, 1, "retry", start.Add(h)},
		{start.Add(h), 2, "soft_decline_block", start.Add(25 * h)}, // second soft decline: blocked 24 h
		{start.Add(25 * h), 3, "retry", start.Add(26 * h)},
		{start.Add(26 * h), 4, "soft_decline_4_attempts", start.AddDate(0, 1, 0)}, // fourth attempt: the period is given up
	}
	for i, st := range steps {
		advance(t, env, clock, st.at)
		s := getSub(t, env, sub.Id)
		if s.Status != altynv1.SubscriptionStatus_SUBSCRIPTION_STATUS_PAST_DUE || s.FailedTransactions != st.failed || s.RetryRule != st.rule ||
			s.NextTransactionDate == nil || !s.NextTransactionDate.AsTime().Equal(st.next) {
			t.Fatalf("step %d: %v failed %d rule %q next %v; want PAST_DUE %d %q %v", i, s.Status, s.FailedTransactions, s.RetryRule,
				s.NextTransactionDate.AsTime(), st.failed, st.rule, st.next)
		}
	}
	charges, _ := env.App.Store.Charges(t.Context(), sub.Id)
	if len(charges) != 1 || charges[0].Status != store.ChargeAbandoned || charges[0].Attempt != 4 {
		t.Errorf("the first period: %+v, want abandoned after 4 attempts", charges)
	}
	if n := len(subPayments(t, env, sub.Id)); n != 4 {
		t.Errorf("%d attempts, want 4", n)
	}
}

// TestRecurrentField starts a two-stage plan with the typed recurrent field
// of a payment that passes 3-D Secure: the subscription follows the
// approval, and its charges are authorizations.
func TestRecurrentField(t *testing.T) {
	t.Parallel()
	env := apptest.New(t)
	ctx := t.Context()
	start := env.Clock.Now().AddDate(0, 0, 7).Truncate(time.Second)
	res, err := env.Connect.Authorize(ctx, connect.NewRequest(&altynv1.AuthorizeRequest{Amount: rub(30000),
		Cryptogram: env.Seal(t, "4242424242424242"), AccountId: "weekly", Description: "Flowers",
		Recurrent: &altynv1.RecurrentPlan{Interval: altynv1.Interval_INTERVAL_WEEK, Period: 2, StartDate: timestamppb.New(start), Amount: rub(25000)}}))
	if err != nil {
		t.Fatal(err)
	}
	p := res.Msg.Payment
	wantStatus(t, p, altynv1.PaymentStatus_PAYMENT_STATUS_AWAITING_AUTHENTICATION)
	if p.SubscriptionId != "" {
		t.Fatalf("a payment awaiting 3-D Secure started subscription %s", p.SubscriptionId)
	}
	done, err := env.Connect.Complete3DS(ctx, connect.NewRequest(&altynv1.Complete3DSRequest{PaymentId: p.Id, PaRes: acs(t, env, p, "confirm")}))
	if err != nil {
		t.Fatal(err)
	}
	wantStatus(t, done.Msg.Payment, altynv1.PaymentStatus_PAYMENT_STATUS_AUTHORIZED)
	if done.Msg.Payment.SubscriptionId == "" {
		t.Fatal("the approved payment shows no subscription")
	}
	got, err := env.Connect.GetPayment(ctx, connect.NewRequest(&altynv1.GetPaymentRequest{PaymentId: p.Id}))
	if err != nil || got.Msg.Payment.SubscriptionId != done.Msg.Payment.SubscriptionId {
		t.Fatalf("GetPayment: subscription %q, %v", got.Msg.GetPayment().GetSubscriptionId(), err)
	}
	sub := getSub(t, env, done.Msg.Payment.SubscriptionId)
	if !sub.RequireConfirmation || sub.Amount.GetAmount() != 25000 || sub.Interval != altynv1.Interval_INTERVAL_WEEK || sub.Period != 2 ||
		!sub.NextTransactionDate.AsTime().Equal(start) {
		t.Fatalf("subscription: %v", sub)
	}
	env.Clock.Advance(7*24*time.Hour + time.Minute)
	if _, err := env.App.Runner.RunOnce(ctx, env.Clock.Now()); err != nil {
		t.Fatal(err)
	}
	pays := subPayments(t, env, sub.Id)
	if len(pays) != 2 || pays[1].ID == p.Id && pays[0].Status != store.StatusAuthorized || pays[0].ID == p.Id && pays[1].Status != store.StatusAuthorized {
		t.Errorf("after a week: payments %v, want the first and one authorization", pays)
	}
	if s := getSub(t, env, sub.Id); s.SuccessfulTransactions != 1 || !s.NextTransactionDate.AsTime().Equal(start.AddDate(0, 0, 14)) {
		t.Errorf("after the first charge: %v", s)
	}
}

// TestRecurrentPlanChecked: a payment with a plan that cannot be made is
// refused before any money moves.
func TestRecurrentPlanChecked(t *testing.T) {
	t.Parallel()
	env := apptest.New(t)
	ctx := t.Context()
	plan := func(m map[string]any) *structpb.Struct {
		s, err := structpb.NewStruct(map[string]any{"recurrent": m})
		if err != nil {
			t.Fatal(err)
		}
		return s
	}
	cases := []struct {
		name   string
		req    *altynv1.ChargeRequest
		fields string
	}{
		{"no account", &altynv1.ChargeRequest{Data: plan(map[string]any{"interval": "Month"})}, "account_id"},
		{"bad interval", &altynv1.ChargeRequest{AccountId: "a", Data: plan(map[string]any{"interval": "Year"})}, "data.recurrent.interval"},
		{"bad amount", &altynv1.ChargeRequest{AccountId: "a", Data: plan(map[string]any{"interval": "Day", "amount": "10.001"})}, "data.recurrent.amount"},
		{"past start", &altynv1.ChargeRequest{AccountId: "a", Data: plan(map[string]any{"interval": "Day", "startDate": "2020-01-01"})}, "data.recurrent.start_date"},
		{"both", &altynv1.ChargeRequest{AccountId: "a", Data: plan(map[string]any{"interval": "Day"}),
			Recurrent: &altynv1.RecurrentPlan{Interval: altynv1.Interval_INTERVAL_DAY}}, "recurrent"},
		{"typed without interval", &altynv1.ChargeRequest{AccountId: "a", Recurrent: &altynv1.RecurrentPlan{Period: 1}}, "recurrent.interval"},
		{"typed other currency", &altynv1.ChargeRequest{AccountId: "a", Recurrent: &altynv1.RecurrentPlan{Interval: altynv1.Interval_INTERVAL_DAY,
			Amount: &altynv1.Money{Amount: 100, Currency: "USD"}}}, "recurrent.amount.currency"},
	}
	for _, c := range cases {
		c.req.Amount, c.req.Cryptogram = rub(1000), env.Seal(t, "4000000000003055")
		_, err := env.Connect.Charge(ctx, connect.NewRequest(c.req))
		var ce *connect.Error
		if connect.CodeOf(err) != connect.CodeInvalidArgument || !errors.As(err, &ce) || !hasField(ce, c.fields) {
			t.Errorf("%s: %v, want InvalidArgument naming %s", c.name, err, c.fields)
		}
	}
	if n := countPayments(t, env); n != 0 {
		t.Errorf("%d payments made with refused plans", n)
	}
}

// TestSubscriptionService covers the service's rules: CloudPayments' code
// 6025 for another merchant's token, validation, idempotent Create, Find,
// Cancel, and test clocks for merchants in test mode only.
func TestSubscriptionService(t *testing.T) {
	t.Parallel()
	env := apptest.New(t)
	ctx := t.Context()
	tok := saveCard(t, env, "4000000000003055", "acc-1")
	start := timestamppb.New(env.Clock.Now().Add(time.Hour))
	valid := func() *altynv1.CreateSubscriptionRequest {
		return &altynv1.CreateSubscriptionRequest{Token: tok, AccountId: "acc-1", Description: "Plan", Amount: rub(1000),
			StartDate: start, Interval: altynv1.Interval_INTERVAL_DAY, Period: 1}
	}
	other, _ := env.App.Merchants.Create(ctx, merchants.CreateOptions{Name: "Other", TestMode: false})
	otherSubs := altynv1connect.NewSubscriptionServiceClient(env.HTTP, env.URL, connect.WithInterceptors(apptest.BasicAuth(other.Merchant.PublicID, other.Secret)))
	_, err := otherSubs.CreateSubscription(ctx, connect.NewRequest(valid()))
	if connect.CodeOf(err) != connect.CodePermissionDenied || reasonOf(err) != "TOKEN_OF_ANOTHER_MERCHANT" {
		t.Errorf("another merchant's token: %v, want PermissionDenied TOKEN_OF_ANOTHER_MERCHANT (6025)", err)
	}
	otherClocks := altynv1connect.NewTestClockServiceClient(env.HTTP, env.URL, connect.WithInterceptors(apptest.BasicAuth(other.Merchant.PublicID, other.Secret)))
	if _, err := otherClocks.CreateTestClock(ctx, connect.NewRequest(&altynv1.CreateTestClockRequest{})); reasonOf(err) != "TEST_MODE_ONLY" {
		t.Errorf("test clock of a live merchant: %v", err)
	}

	bad := []struct {
		name  string
		edit  func(r *altynv1.CreateSubscriptionRequest)
		field string
	}{
		{"no interval", func(r *altynv1.CreateSubscriptionRequest) { r.Interval = 0 }, "interval"},
		{"no description", func(r *altynv1.CreateSubscriptionRequest) { r.Description = "" }, "description"},
		{"zero period", func(r *altynv1.CreateSubscriptionRequest) { r.Period = 0 }, "period"},
		{"no amount", func(r *altynv1.CreateSubscriptionRequest) { r.Amount = nil }, "amount.amount"},
		{"past start", func(r *altynv1.CreateSubscriptionRequest) {
			r.StartDate = timestamppb.New(env.Clock.Now().Add(-time.Hour))
		}, "start_date"},
		{"end before start", func(r *altynv1.CreateSubscriptionRequest) { r.EndDate = timestamppb.New(env.Clock.Now()) }, "end_date"},
		{"retry too often", func(r *altynv1.CreateSubscriptionRequest) {
			r.Retry = &altynv1.RetrySettings{Delay: durationpb.New(time.Minute)}
		}, "retry.delay"},
		{"too many failures", func(r *altynv1.CreateSubscriptionRequest) { r.Retry = &altynv1.RetrySettings{MaxFailures: 51} }, "retry.max_failures"},
	}
	for _, b := range bad {
		r := valid()
		b.edit(r)
		_, err := env.Subscriptions.CreateSubscription(ctx, connect.NewRequest(r))
		var ce *connect.Error
		if connect.CodeOf(err) != connect.CodeInvalidArgument || !errors.As(err, &ce) || !hasField(ce, b.field) {
			t.Errorf("%s: %v, want InvalidArgument naming %s", b.name, err, b.field)
		}
	}
	r := valid()
	r.AccountId = "acc-2"
	if _, err := env.Subscriptions.CreateSubscription(ctx, connect.NewRequest(r)); reasonOf(err) != "TOKEN_ACCOUNT_MISMATCH" {
		t.Errorf("token of another account: %v", err)
	}

	r = valid()
	r.IdempotencyKey = "plan-1"
	a := createSub(t, env, r)
	b := createSub(t, env, r)
	if a.Id != b.Id {
		t.Errorf("the same idempotency key made %s and %s", a.Id, b.Id)
	}
	r.Amount = rub(2000)
	if _, err := env.Subscriptions.CreateSubscription(ctx, connect.NewRequest(r)); reasonOf(err) != "IDEMPOTENCY_KEY_REUSED" {
		t.Errorf("the key with another amount: %v", err)
	}
	createSub(t, env, valid())
	found, err := env.Subscriptions.FindSubscriptions(ctx, connect.NewRequest(&altynv1.FindSubscriptionsRequest{AccountId: "acc-1"}))
	if err != nil || len(found.Msg.Subscriptions) != 2 {
		t.Errorf("FindSubscriptions: %d, %v; want 2", len(found.Msg.GetSubscriptions()), err)
	}
	if _, err := env.Subscriptions.GetSubscription(ctx, connect.NewRequest(&altynv1.GetSubscriptionRequest{Id: "sub_nope"})); connect.CodeOf(err) != connect.CodeNotFound {
		t.Errorf("GetSubscription of no subscription: %v", err)
	}
	if _, err := otherSubs.GetSubscription(ctx, connect.NewRequest(&altynv1.GetSubscriptionRequest{Id: a.Id})); connect.CodeOf(err) != connect.CodeNotFound {
		t.Errorf("another merchant read a subscription: %v", err)
	}
	c1, err := env.Subscriptions.CancelSubscription(ctx, connect.NewRequest(&altynv1.CancelSubscriptionRequest{Id: a.Id}))
	if err != nil || c1.Msg.Subscription.Status != altynv1.SubscriptionStatus_SUBSCRIPTION_STATUS_CANCELLED || c1.Msg.Subscription.CancelledAt == nil {
		t.Fatalf("Cancel: %v %v", c1.Msg.GetSubscription(), err)
	}
	if c2, err := env.Subscriptions.CancelSubscription(ctx, connect.NewRequest(&altynv1.CancelSubscriptionRequest{Id: a.Id})); err != nil ||
		c2.Msg.Subscription.Status != altynv1.SubscriptionStatus_SUBSCRIPTION_STATUS_CANCELLED {
		t.Errorf("Cancel again: %v", err)
	}
	if got := recurrentEvents(t, env, a.Id); !slices.Equal(got, []string{"Cancelled"}) {
		t.Errorf("Recurrent notifications: %v, want one Cancelled", got)
	}

	clock := newClock(t, env, env.Clock.Now().Add(time.Hour))
	if _, err := env.TestClocks.AdvanceTestClock(ctx, connect.NewRequest(&altynv1.AdvanceTestClockRequest{Id: clock,
		FrozenTime: timestamppb.New(env.Clock.Now())})); reasonOf(err) != "TEST_CLOCK_BACKWARDS" {
		t.Errorf("moving a clock back: %v", err)
	}
	if _, err := env.TestClocks.AttachTestClock(ctx, connect.NewRequest(&altynv1.AttachTestClockRequest{SubscriptionId: b.Id, TestClockId: "clk_nope"})); connect.CodeOf(err) != connect.CodeNotFound {
		t.Errorf("attaching an unknown clock: %v", err)
	}
}

// TestLostHookIsSwept: if the subscription of an approved payment's plan
// was not made (the hook failed, or the process died after the approval),
// the runner's sweep makes it, once.
func TestLostHookIsSwept(t *testing.T) {
	t.Parallel()
	env := apptest.New(t)
	ctx := t.Context()
	p := charge1(t, env, &altynv1.ChargeRequest{Amount: rub(5000), Cryptogram: env.Seal(t, "4000000000003055"), AccountId: "lost",
		Recurrent: &altynv1.RecurrentPlan{Interval: altynv1.Interval_INTERVAL_MONTH}})
	pool := env.App.Store.Pool()
	// As if the hook had never run.
	for _, q := range []string{`DELETE FROM subscriptions WHERE source_payment_id = $1`, `UPDATE payments SET subscription_id = '' WHERE id = $1`} {
		if _, err := pool.Exec(ctx, q, p.Id); err != nil {
			t.Fatal(err)
		}
	}
	if _, err := env.App.Runner.RunOnce(ctx, env.Clock.Now()); err != nil {
		t.Fatal(err)
	}
	count := func() int {
		var n int
		pool.QueryRow(ctx, `SELECT count(*) FROM subscriptions WHERE source_payment_id = $1`, p.Id).Scan(&n)
		return n
	}
	if n := count(); n != 0 {
		t.Fatalf("swept a payment approved a moment ago (its hook may be running): %d", n)
	}
	env.Clock.Advance(time.Minute)
	for range 2 {
		st, err := env.App.Runner.RunOnce(ctx, env.Clock.Now())
		if err != nil {
			t.Fatal(err)
		}
		_ = st
	}
	if n := count(); n != 1 {
		t.Fatalf("after the sweep: %d subscriptions of the payment, want 1", n)
	}
	got, _ := env.Connect.GetPayment(ctx, connect.NewRequest(&altynv1.GetPaymentRequest{PaymentId: p.Id}))
	if got.Msg.GetPayment().GetSubscriptionId() == "" {
		t.Error("the swept payment does not name its subscription")
	}
}

// TestDeletedCardRejects: a plan whose saved card was deleted is rejected
// at its next charge, and no payment is made.
func TestDeletedCardRejects(t *testing.T) {
	t.Parallel()
	env := apptest.New(t)
	ctx := t.Context()
	tok := saveCard(t, env, "4000000000003055", "leaving")
	sub := createSub(t, env, &altynv1.CreateSubscriptionRequest{Token: tok, AccountId: "leaving", Description: "Plan",
		Amount: rub(1000), StartDate: timestamppb.New(env.Clock.Now().Add(time.Hour)), Interval: altynv1.Interval_INTERVAL_DAY, Period: 1})
	tokens := altynv1connect.NewTokenServiceClient(env.HTTP, env.URL, connect.WithInterceptors(apptest.BasicAuth(env.Merchant.PublicID, env.Secret)))
	if _, err := tokens.DeleteToken(ctx, connect.NewRequest(&altynv1.DeleteTokenRequest{Token: tok})); err != nil {
		t.Fatal(err)
	}
	env.Clock.Advance(2 * time.Hour)
	st, err := env.App.Runner.RunOnce(ctx, env.Clock.Now())
	if err != nil || st.Rejected != 1 {
		t.Fatalf("RunOnce: %+v, %v", st, err)
	}
	s := getSub(t, env, sub.Id)
	if s.Status != altynv1.SubscriptionStatus_SUBSCRIPTION_STATUS_REJECTED || s.RetryRule != "card_removed" {
		t.Errorf("plan on a deleted card: %v", s)
	}
	if n := len(subPayments(t, env, sub.Id)); n != 0 {
		t.Errorf("%d payments on a deleted card", n)
	}
}

// TestSubscriptionsOverGRPC runs a plan's life through gRPC clients.
func TestSubscriptionsOverGRPC(t *testing.T) {
	t.Parallel()
	env := apptest.New(t)
	ctx := t.Context()
	auth := connect.WithInterceptors(apptest.BasicAuth(env.Merchant.PublicID, env.Secret))
	subs := altynv1connect.NewSubscriptionServiceClient(env.HTTP, env.URL, auth, connect.WithGRPC())
	clocks := altynv1connect.NewTestClockServiceClient(env.HTTP, env.URL, auth, connect.WithGRPC())
	tok := saveCard(t, env, "2202000000003055", "mir-1")
	clock, err := clocks.CreateTestClock(ctx, connect.NewRequest(&altynv1.CreateTestClockRequest{Name: "grpc"}))
	if err != nil {
		t.Fatal(err)
	}
	created, err := subs.CreateSubscription(ctx, connect.NewRequest(&altynv1.CreateSubscriptionRequest{Token: tok, AccountId: "mir-1",
		Description: "Plan", Amount: rub(1000), StartDate: timestamppb.New(env.Clock.Now().Add(time.Hour)),
		Interval: altynv1.Interval_INTERVAL_WEEK, Period: 1, MaxPeriods: 2, TestClockId: clock.Msg.TestClock.Id}))
	if err != nil {
		t.Fatal(err)
	}
	id := created.Msg.Subscription.Id
	if _, err := clocks.AdvanceTestClock(ctx, connect.NewRequest(&altynv1.AdvanceTestClockRequest{Id: clock.Msg.TestClock.Id,
		FrozenTime: timestamppb.New(env.Clock.Now().AddDate(0, 0, 10))})); err != nil {
		t.Fatal(err)
	}
	if c, _ := clocks.GetTestClock(ctx, connect.NewRequest(&altynv1.GetTestClockRequest{Id: clock.Msg.TestClock.Id})); c.Msg.GetTestClock().GetDueSubscriptions() != 1 ||
		c.Msg.TestClock.Status != altynv1.TestClockStatus_TEST_CLOCK_STATUS_ADVANCING {
		t.Errorf("clock with a due plan and no runner: %v", c.Msg.GetTestClock())
	}
	if _, err := env.App.Runner.RunOnce(ctx, env.Clock.Now()); err != nil {
		t.Fatal(err)
	}
	got, err := subs.GetSubscription(ctx, connect.NewRequest(&altynv1.GetSubscriptionRequest{Id: id}))
	if err != nil || got.Msg.Subscription.SuccessfulTransactions != 2 || got.Msg.Subscription.Status != altynv1.SubscriptionStatus_SUBSCRIPTION_STATUS_EXPIRED {
		t.Fatalf("after 10 days of a weekly plan of 2: %v, %v", got.Msg.GetSubscription(), err)
	}
	upd, err := subs.UpdateSubscription(ctx, connect.NewRequest(&altynv1.UpdateSubscriptionRequest{Id: id, MaxPeriods: proto.Int32(3),
		Interval: altynv1.Interval_INTERVAL_DAY, StartDate: timestamppb.New(env.Clock.Now().AddDate(0, 0, 12))}))
	if err != nil || upd.Msg.Subscription.Status != altynv1.SubscriptionStatus_SUBSCRIPTION_STATUS_ACTIVE ||
		upd.Msg.Subscription.Interval != altynv1.Interval_INTERVAL_DAY {
		t.Fatalf("reactivating update: %v, %v", upd.Msg.GetSubscription(), err)
	}
	c, err := subs.CancelSubscription(ctx, connect.NewRequest(&altynv1.CancelSubscriptionRequest{Id: id}))
	if err != nil || c.Msg.Subscription.Status != altynv1.SubscriptionStatus_SUBSCRIPTION_STATUS_CANCELLED {
		t.Errorf("cancel: %v, %v", c.Msg.GetSubscription(), err)
	}
}
