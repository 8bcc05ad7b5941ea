package store_test

import (
	"errors"
	"fmt"
	"sync"
	"testing"
	"time"

	"github.com/altynpay/altyn/store"
)

func newSubscription(id, merchantID string, next time.Time) *store.Subscription {
	return &store.Subscription{
		ID: id, MerchantID: merchantID, AccountID: "acc", TokenID: "tok_1", CardKey: merchantID + ":card", CardBrand: "Visa",
		Description: "plan", Amount: 1000, Currency: "RUB", Interval: "Month", Period: 1, StartAt: next,
		Status: store.SubscriptionActive, NextAt: next, TestMode: true, Version: 1, CreatedAt: next, UpdatedAt: next,
	}
}

func TestSubscriptionCreateAndRead(t *testing.T) {
	t.Parallel()
	st, mid := merchantStore(t, "sub")
	ctx := t.Context()
	now := time.Now().UTC().Truncate(time.Microsecond)
	a := newSubscription("sub_a", mid, now)
	a.IdempotencyKey, a.RequestHash, a.EndAt, a.RetryDelay = "key-1", []byte{1}, now.AddDate(1, 0, 0), 6*time.Hour
	if err := st.CreateSubscription(ctx, a, nil); err != nil {
		t.Fatal(err)
	}
	got, err := st.Subscription(ctx, mid, "sub_a")
	if err != nil || got.ID != "sub_a" || !got.EndAt.Equal(a.EndAt) || got.RetryDelay != 6*time.Hour || !got.NextAt.Equal(now) || got.Version != 1 {
		t.Fatalf("Subscription = %+v, %v", got, err)
	}
	if _, err := st.Subscription(ctx, "mer_other", "sub_a"); !errors.Is(err, store.ErrNotFound) {
		t.Errorf("another merchant's subscription: %v", err)
	}
	dup := newSubscription("sub_b", mid, now)
	dup.IdempotencyKey = "key-1"
	if err := st.CreateSubscription(ctx, dup, nil); !errors.Is(err, store.ErrKeyUsed) {
		t.Errorf("the same idempotency key again: %v, want ErrKeyUsed", err)
	}
	if k, err := st.SubscriptionByKey(ctx, mid, "key-1"); err != nil || k.ID != "sub_a" {
		t.Errorf("SubscriptionByKey: %v %v", k, err)
	}
	p1, p2 := newSubscription("sub_p1", mid, now), newSubscription("sub_p2", mid, now)
	p1.SourcePaymentID, p2.SourcePaymentID = "pay_1", "pay_1"
	if err := st.CreateSubscription(ctx, p1, nil); err != nil {
		t.Fatal(err)
	}
	if err := st.CreateSubscription(ctx, p2, nil); !errors.Is(err, store.ErrSourcePaymentUsed) {
		t.Errorf("a second subscription of one payment: %v, want ErrSourcePaymentUsed", err)
	}
	if s, err := st.SubscriptionByPayment(ctx, mid, "pay_1"); err != nil || s.ID != "sub_p1" {
		t.Errorf("SubscriptionByPayment: %v %v", s, err)
	}
	list, err := st.SubscriptionsByAccount(ctx, mid, "acc")
	if err != nil || len(list) != 2 {
		t.Errorf("SubscriptionsByAccount: %d, %v", len(list), err)
	}
}

// TestModifySubscriptionRace: concurrent read-modify-writes of one
// subscription all land (the retried transaction re-reads).
func TestModifySubscriptionRace(t *testing.T) {
	t.Parallel()
	st, mid := merchantStore(t, "sub")
	ctx := t.Context()
	now := time.Now().UTC()
	if err := st.CreateSubscription(ctx, newSubscription("sub_race", mid, now), nil); err != nil {
		t.Fatal(err)
	}
	const n = 20
	var wg sync.WaitGroup
	for range n {
		wg.Go(func() {
			if _, err := st.ModifySubscription(ctx, mid, "sub_race", func(s *store.Subscription, _ *store.TestClock) (store.SubscriptionChange, error) {
				s.Successful++
				return store.SubscriptionChange{}, nil
			}); err != nil {
				t.Error(err)
			}
		})
	}
	wg.Wait()
	got, _ := st.Subscription(ctx, mid, "sub_race")
	if got.Successful != n || got.Version != n+1 {
		t.Errorf("after %d increments: successful %d, version %d", n, got.Successful, got.Version)
	}
}

// TestLeaseDue: concurrent leases share out the due subscriptions without
// overlap; leased ones are left alone until the lease ends, and then come
// back with the charge claimed for them.
func TestLeaseDue(t *testing.T) {
	t.Parallel()
	st, mid := merchantStore(t, "sub")
	ctx := t.Context()
	now := time.Now().UTC().Truncate(time.Microsecond)
	const n = 60
	for i := range n {
		s := newSubscription(fmt.Sprintf("sub_%02d", i), mid, now.Add(-time.Duration(i)*time.Second))
		if err := st.CreateSubscription(ctx, s, nil); err != nil {
			t.Fatal(err)
		}
	}
	if err := st.CreateSubscription(ctx, newSubscription("sub_later", mid, now.Add(time.Hour)), nil); err != nil {
		t.Fatal(err)
	}
	claim := func(s *store.Subscription, at time.Time, _ []store.CardAttempt) (store.SubscriptionChange, bool) {
		if s.PendingKey != "" {
			return store.SubscriptionChange{}, true
		}
		s.Attempt++
		s.PendingKey = fmt.Sprintf("%s:%d:%d", s.ID, s.PeriodNo, s.Attempt)
		return store.SubscriptionChange{Charge: &store.Charge{SubscriptionID: s.ID, PeriodNo: s.PeriodNo, MerchantID: s.MerchantID,
			Status: store.ChargePending, Attempt: s.Attempt, Key: s.PendingKey, DueAt: s.NextAt, Amount: s.Amount, Currency: s.Currency,
			TokenID: s.TokenID, AccountID: s.AccountID, FirstAttemptAt: at, UpdatedAt: at}}, true
	}
	var mu sync.Mutex
	seen := map[string]int{}
	var wg sync.WaitGroup
	for r := range 4 {
		wg.Go(func() {
			for {
				leased, found, err := st.LeaseDue(ctx, now, 7, fmt.Sprintf("run_%d", r), now.Add(time.Minute), now.Add(-time.Hour), claim)
				if err != nil {
					t.Error(err)
					return
				}
				if found == 0 {
					return
				}
				mu.Lock()
				for _, l := range leased {
					seen[l.Subscription.ID]++
					if l.Redrive || l.Charge.Key != l.Subscription.PendingKey || l.Subscription.LeaseID != fmt.Sprintf("run_%d", r) {
						t.Errorf("leased %+v with charge %+v", l.Subscription, l.Charge)
					}
				}
				mu.Unlock()
			}
		})
	}
	wg.Wait()
	if len(seen) != n {
		t.Errorf("%d subscriptions leased, want %d", len(seen), n)
	}
	for id, k := range seen {
		if k != 1 {
			t.Errorf("%s leased %d times", id, k)
		}
	}
	// Leased: nothing is due until the lease ends; then each comes back
	// with its stored charge, to be driven again.
	if leased, found, err := st.LeaseDue(ctx, now.Add(30*time.Second), 100, "run_x", now.Add(time.Hour), now, claim); err != nil || found != 0 || len(leased) != 0 {
		t.Errorf("during the leases: %d found, %v", found, err)
	}
	leased, _, err := st.LeaseDue(ctx, now.Add(2*time.Minute), 100, "run_x", now.Add(time.Hour), now, claim)
	if err != nil || len(leased) != n {
		t.Fatalf("after the leases: %d leased, %v", len(leased), err)
	}
	for _, l := range leased {
		if !l.Redrive || l.Charge.Key != l.Subscription.PendingKey || l.Charge.Attempt != 1 {
			t.Errorf("re-leased %s: redrive %v, charge %+v", l.Subscription.ID, l.Redrive, l.Charge)
		}
	}
	charges, err := st.Charges(ctx, "sub_00")
	if err != nil || len(charges) != 1 || charges[0].Status != store.ChargePending {
		t.Errorf("Charges: %+v, %v", charges, err)
	}
}

// TestLeaseTestClocks: a subscription on a test clock is due by the
// clock's time, not the runner's.
func TestLeaseTestClocks(t *testing.T) {
	t.Parallel()
	st, mid := merchantStore(t, "sub")
	ctx := t.Context()
	now := time.Now().UTC().Truncate(time.Microsecond)
	c := &store.TestClock{ID: "clk_1", MerchantID: mid, Now: now, CreatedAt: now, UpdatedAt: now}
	if err := st.CreateTestClock(ctx, c); err != nil {
		t.Fatal(err)
	}
	s := newSubscription("sub_clock", mid, now.AddDate(0, 1, 0))
	s.ClockID = c.ID
	if err := st.CreateSubscription(ctx, s, nil); err != nil {
		t.Fatal(err)
	}
	var at time.Time
	lease := func() int {
		leased, _, err := st.LeaseDue(ctx, now, 10, "run", now.Add(time.Minute), now.Add(-time.Hour),
			func(s *store.Subscription, clockNow time.Time, _ []store.CardAttempt) (store.SubscriptionChange, bool) {
				at = clockNow
				s.NextAt = s.NextAt.AddDate(0, 1, 0) // billed: due next month
				return store.SubscriptionChange{}, false
			})
		if err != nil {
			t.Fatal(err)
		}
		return len(leased)
	}
	lease()
	if !at.IsZero() {
		t.Fatal("a subscription due next month on the clock was leased now")
	}
	if n, _ := st.TestClockBacklog(ctx, c.ID); n != 0 {
		t.Errorf("backlog %d before the clock moved", n)
	}
	if _, err := st.AdvanceTestClock(ctx, mid, c.ID, now.AddDate(0, 1, 1), now); err != nil {
		t.Fatal(err)
	}
	if _, err := st.AdvanceTestClock(ctx, mid, c.ID, now, now); !errors.Is(err, store.ErrStale) {
		t.Errorf("moving the clock back: %v, want ErrStale", err)
	}
	if n, _ := st.TestClockBacklog(ctx, c.ID); n != 1 {
		t.Errorf("backlog %d after the clock moved, want 1", n)
	}
	lease()
	if !at.Equal(now.AddDate(0, 1, 1)) {
		t.Errorf("leased at %v, want the clock's time", at)
	}
	if n, _ := st.TestClockBacklog(ctx, c.ID); n != 0 {
		t.Errorf("backlog %d after billing", n)
	}
}

// TestChargeAndCardHistory: ModifySubscriptions writes a batch with the
// charges and card history the function names, skipping those it leaves.
func TestChargeAndCardHistory(t *testing.T) {
	t.Parallel()
	st, mid := merchantStore(t, "sub")
	ctx := t.Context()
	now := time.Now().UTC().Truncate(time.Microsecond)
	for _, id := range []string{"sub_x", "sub_y"} {
		if err := st.CreateSubscription(ctx, newSubscription(id, mid, now), nil); err != nil {
			t.Fatal(err)
		}
	}
	err := st.ModifySubscriptions(ctx, []string{"sub_x", "sub_y"}, now.Add(-time.Hour), func(s *store.Subscription, hist []store.CardAttempt) (store.SubscriptionChange, bool) {
		if s.ID == "sub_y" {
			return store.SubscriptionChange{}, false
		}
		s.Failed = 1
		return store.SubscriptionChange{
			Charge: &store.Charge{SubscriptionID: s.ID, PeriodNo: 0, MerchantID: mid, Status: store.ChargeDeclined, Attempt: 1, Key: "k",
				PaymentID: "pay_x", ReasonCode: 5051, DueAt: now, Amount: 1000, Currency: "RUB", TokenID: "tok_1", AccountID: "acc",
				FirstAttemptAt: now, UpdatedAt: now},
			CardAttempts: []store.CardAttempt{{SubscriptionID: s.ID, PeriodNo: 0, Attempt: 1, CardKey: s.CardKey, At: now,
				Outcome: store.AttemptDeclined, ReasonCode: 5051}},
			Outbox: []store.OutboxMessage{{ID: "evt_x", MerchantID: mid, Type: "Recurrent", SubjectID: s.ID, Payload: []byte(`{}`), CreatedAt: now}},
		}, true
	})
	if err != nil {
		t.Fatal(err)
	}
	x, _ := st.Subscription(ctx, mid, "sub_x")
	y, _ := st.Subscription(ctx, mid, "sub_y")
	if x.Failed != 1 || x.Version != 2 || y.Version != 1 {
		t.Errorf("x failed %d version %d, y version %d", x.Failed, x.Version, y.Version)
	}
	hist, err := st.CardHistory(ctx, mid+":card", now.Add(-time.Minute))
	if err != nil || len(hist) != 1 || hist[0].ReasonCode != 5051 || hist[0].Outcome != store.AttemptDeclined {
		t.Errorf("CardHistory: %+v, %v", hist, err)
	}
	// The charge's payment id survives its abandonment.
	err = st.ModifySubscriptions(ctx, []string{"sub_x"}, now, func(s *store.Subscription, hist []store.CardAttempt) (store.SubscriptionChange, bool) {
		if len(hist) != 1 {
			t.Errorf("history given to the function: %+v", hist)
		}
		return store.SubscriptionChange{Charge: &store.Charge{SubscriptionID: s.ID, PeriodNo: 0, MerchantID: mid, Status: store.ChargeAbandoned,
			Attempt: 1, Key: "k", DueAt: now, Amount: 1000, Currency: "RUB", TokenID: "tok_1", AccountID: "acc", FirstAttemptAt: now, UpdatedAt: now}}, true
	})
	if err != nil {
		t.Fatal(err)
	}
	charges, _ := st.Charges(ctx, "sub_x")
	if len(charges) != 1 || charges[0].Status != store.ChargeAbandoned || charges[0].PaymentID != "pay_x" {
		t.Errorf("abandoned charge: %+v", charges)
	}
	msgs, _ := st.Outbox(ctx, mid, 10)
	if len(msgs) != 1 || msgs[0].SubjectID != "sub_x" {
		t.Errorf("outbox: %+v", msgs)
	}
}

// TestCreatePaymentsBatch: a batch inserts the payments whose idempotency
// keys are new and leaves out those whose keys exist; ModifyPayments
// writes each guarded by its status and reports a function's refusal.
func TestCreatePaymentsBatch(t *testing.T) {
	t.Parallel()
	st, mid := merchantStore(t, "sub")
	ctx := t.Context()
	now := time.Now().UTC().Truncate(time.Microsecond)
	mk := func(i int) (*store.Payment, *store.Idempotency) {
		p := &store.Payment{ID: fmt.Sprintf("pay_b%d", i), MerchantID: mid, TransactionID: int64(1000 + i), Status: store.StatusPending,
			Amount: 100, Currency: "RUB", TestMode: true, CreatedAt: now, UpdatedAt: now}
		return p, &store.Idempotency{MerchantID: mid, Key: fmt.Sprintf("key-%d", i), Operation: "charge", RequestHash: []byte{1}, PaymentID: p.ID}
	}
	p0, c0 := mk(0)
	if got, err := st.CreatePayments(ctx, []*store.Payment{p0}, []*store.Idempotency{c0}); err != nil || !got[0] {
		t.Fatalf("CreatePayments: %v %v", got, err)
	}
	p1, c1 := mk(1)
	p2, c2 := mk(2)
	again := &store.Payment{ID: "pay_again", MerchantID: mid, TransactionID: 2000, Status: store.StatusPending, Amount: 100, Currency: "RUB", CreatedAt: now, UpdatedAt: now}
	c0again := &store.Idempotency{MerchantID: mid, Key: "key-0", Operation: "charge", RequestHash: []byte{1}, PaymentID: again.ID}
	got, err := st.CreatePayments(ctx, []*store.Payment{p1, again, p2}, []*store.Idempotency{c1, c0again, c2})
	if err != nil || !got[0] || got[1] || !got[2] {
		t.Fatalf("CreatePayments with a used key: %v %v, want [true false true]", got, err)
	}
	if _, err := st.Payment(ctx, mid, "pay_again"); !errors.Is(err, store.ErrNotFound) {
		t.Errorf("the payment of a used key was inserted: %v", err)
	}
	refuse := errors.New("refused")
	written, failed, err := st.ModifyPayments(ctx, []string{"pay_b1", "pay_b2"}, func(p *store.Payment) (store.Effects, error) {
		if p.ID == "pay_b2" {
			return store.Effects{}, refuse
		}
		p.Status, p.CapturedAmount, p.AuthorizedAmount = store.StatusCompleted, 100, 100
		return store.Effects{Answer: &store.Idempotency{MerchantID: mid, Key: "key-1", Response: []byte(`{}`)},
			Outbox: []store.OutboxMessage{{ID: "evt_b1", MerchantID: mid, Type: "Pay", PaymentID: p.ID, Payload: []byte(`{}`), CreatedAt: now}}}, nil
	})
	if err != nil || written["pay_b1"] == nil || !errors.Is(failed["pay_b2"], refuse) {
		t.Fatalf("ModifyPayments: %v %v %v", written, failed, err)
	}
	b1, _ := st.Payment(ctx, mid, "pay_b1")
	b2, _ := st.Payment(ctx, mid, "pay_b2")
	k1, _ := st.Idempotency(ctx, mid, "key-1")
	if b1.Status != store.StatusCompleted || b2.Status != store.StatusPending || string(k1.Response) != "{}" {
		t.Errorf("after ModifyPayments: %s %s %q", b1.Status, b2.Status, k1.Response)
	}
}
