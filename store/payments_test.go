package store_test

import (
	"errors"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/altynpay/altyn/store"
)

func newPayment(merchantID, id string, now time.Time) *store.Payment {
	txid, _ := strconv.ParseInt(strings.TrimPrefix(id, "pay_"), 10, 64)
	return &store.Payment{ID: id, MerchantID: merchantID, TransactionID: 1000 + txid, Status: store.StatusPending,
		Amount: 150000, Currency: "RUB", CardFirstSix: "400000", CardLastFour: "3055", CardBrand: "Visa",
		CardExpMonth: 12, CardExpYear: 2030, TestMode: true, CreatedAt: now, UpdatedAt: now}
}

// TestCreatePaymentOnce: the payment, its cryptogram digest and its
// idempotency claim are written together or not at all, and a reused
// digest or key is told apart.
func TestCreatePaymentOnce(t *testing.T) {
	t.Parallel()
	st, mid := merchantStore(t, "pay")
	ctx := t.Context()
	now := time.Now().UTC().Truncate(time.Microsecond)
	claim := func(key, paymentID string) *store.Idempotency {
		return &store.Idempotency{MerchantID: mid, Key: key, Operation: "charge", RequestHash: []byte{1}, PaymentID: paymentID}
	}
	if err := st.CreatePayment(ctx, newPayment(mid, "pay_1", now), claim("k1", "pay_1"), []byte("digest-1")); err != nil {
		t.Fatal(err)
	}
	got, err := st.Payment(ctx, mid, "pay_1")
	if err != nil {
		t.Fatal(err)
	}
	if diff := cmp.Diff(newPayment(mid, "pay_1", now), got); diff != "" {
		t.Errorf("payment read back differs (-wrote +read):\n%s", diff)
	}
	if err := st.CreatePayment(ctx, newPayment(mid, "pay_2", now), claim("k2", "pay_2"), []byte("digest-1")); !errors.Is(err, store.ErrCryptogramUsed) {
		t.Errorf("a used cryptogram: got %v, want ErrCryptogramUsed", err)
	}
	if err := st.CreatePayment(ctx, newPayment(mid, "pay_3", now), claim("k1", "pay_3"), []byte("digest-3")); !errors.Is(err, store.ErrKeyUsed) {
		t.Errorf("a used idempotency key: got %v, want ErrKeyUsed", err)
	}
	// Neither refused payment left anything behind: their digests and keys
	// are still free.
	for _, id := range []string{"pay_2", "pay_3"} {
		if _, err := st.Payment(ctx, mid, id); !errors.Is(err, store.ErrNotFound) {
			t.Errorf("%s after its refusal: %v, want ErrNotFound", id, err)
		}
	}
	if err := st.CreatePayment(ctx, newPayment(mid, "pay_4", now), claim("k2", "pay_4"), []byte("digest-3")); err != nil {
		t.Errorf("the refused payments' key and digest are not free: %v", err)
	}
}

// TestModifyPaymentFrom: a snapshot as written skips the read; one the
// row has moved on from is not written over, fn runs on the current row.
func TestModifyPaymentFrom(t *testing.T) {
	t.Parallel()
	st, mid := merchantStore(t, "pay")
	ctx := t.Context()
	now := time.Now().UTC().Truncate(time.Microsecond)
	snap := newPayment(mid, "pay_1", now)
	if err := st.CreatePayment(ctx, snap, nil, nil); err != nil {
		t.Fatal(err)
	}
	later := now.Add(time.Second)
	approve := func(p *store.Payment) (store.Effects, error) {
		p.Status, p.AuthCode, p.UpdatedAt = store.StatusCompleted, "A1", later
		p.AuthorizedAmount, p.CapturedAmount = p.Amount, p.Amount
		return store.Effects{}, nil
	}
	out, err := st.ModifyPaymentFrom(ctx, snap, approve)
	if err != nil || out.Status != store.StatusCompleted {
		t.Fatalf("ModifyPaymentFrom a fresh snapshot: %v, %v", out, err)
	}
	if snap.Status != store.StatusPending {
		t.Errorf("fn changed the caller's snapshot")
	}

	// The same snapshot again: the row is no longer as it was, so fn sees
	// the row as it is now.
	var seen store.PaymentStatus
	_, err = st.ModifyPaymentFrom(ctx, snap, func(p *store.Payment) (store.Effects, error) {
		seen = p.Status
		return store.Effects{}, errors.New("stop")
	})
	if seen != store.StatusCompleted || err == nil || err.Error() != "stop" {
		t.Errorf("a stale snapshot: fn saw %q (%v), want the current row, Completed", seen, err)
	}

	// A snapshot with the right status but an older updated_at is stale too.
	p2 := newPayment(mid, "pay_2", now)
	if err := st.CreatePayment(ctx, p2, nil, nil); err != nil {
		t.Fatal(err)
	}
	if _, err := st.ModifyPayment(ctx, mid, "pay_2", func(p *store.Payment) (store.Effects, error) {
		p.UpdatedAt = later // same status, newer row
		return store.Effects{}, nil
	}); err != nil {
		t.Fatal(err)
	}
	var seenAt time.Time
	if _, err := st.ModifyPaymentFrom(ctx, p2, func(p *store.Payment) (store.Effects, error) {
		seenAt = p.UpdatedAt
		return store.Effects{}, nil
	}); err != nil {
		t.Fatal(err)
	}
	if !seenAt.Equal(later) {
		t.Errorf("a snapshot with an old updated_at: fn saw updated_at %v, want the row's %v", seenAt, later)
	}
}
