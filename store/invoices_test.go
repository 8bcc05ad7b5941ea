package store_test

import (
	"context"
	"errors"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/altynpay/altyn/store"
)

func newInvoice(merchantID, id string, now time.Time) *store.Invoice {
	return &store.Invoice{
		ID: id, MerchantID: merchantID, Status: store.InvoiceCreated, Amount: 150000, Currency: "RUB",
		Description: "Order 7", InvoiceID: "order-7", AccountID: "user-7", Email: "payer@example.com",
		SuccessURL: "https://shop.example/ok", FailURL: "https://shop.example/fail", Data: []byte(`{"a": 1}`),
		CreatedAt: now, UpdatedAt: now, ExpiresAt: now.Add(time.Hour),
	}
}

func TestInvoiceCreateRead(t *testing.T) {
	t.Parallel()
	st, mid := merchantStore(t, "inv")
	ctx := t.Context()
	now := time.Now().UTC().Truncate(time.Microsecond)
	inv := newInvoice(mid, "inv_1", now)
	inv.IdempotencyKey, inv.RequestHash = "key-1", []byte{9}
	if err := st.CreateInvoice(ctx, inv); err != nil {
		t.Fatal(err)
	}
	got, err := st.Invoice(ctx, mid, "inv_1")
	if err != nil {
		t.Fatal(err)
	}
	if diff := cmp.Diff(inv, got); diff != "" {
		t.Errorf("Invoice read back differs (-wrote +read):\n%s", diff)
	}
	if _, err := st.Invoice(ctx, "mer_other", "inv_1"); !errors.Is(err, store.ErrNotFound) {
		t.Errorf("Invoice of another merchant: err = %v, want ErrNotFound", err)
	}
	if got, err := st.InvoiceByID(ctx, "inv_1"); err != nil || got.ID != "inv_1" {
		t.Errorf("InvoiceByID = %v, %v", got, err)
	}
	if got, err := st.InvoiceByIdempotencyKey(ctx, mid, "key-1"); err != nil || got.ID != "inv_1" {
		t.Errorf("InvoiceByIdempotencyKey = %v, %v", got, err)
	}
	again := newInvoice(mid, "inv_2", now)
	again.IdempotencyKey = "key-1"
	if err := st.CreateInvoice(ctx, again); !errors.Is(err, store.ErrInvoiceKeyUsed) {
		t.Errorf("second invoice with key-1: err = %v, want ErrInvoiceKeyUsed", err)
	}
	// Invoices without a key never collide on it.
	for _, id := range []string{"inv_3", "inv_4"} {
		if err := st.CreateInvoice(ctx, newInvoice(mid, id, now)); err != nil {
			t.Errorf("invoice %s without key: %v", id, err)
		}
	}
}

func TestModifyInvoice(t *testing.T) {
	t.Parallel()
	st, mid := merchantStore(t, "inv")
	ctx := t.Context()
	now := time.Now().UTC().Truncate(time.Microsecond)
	if err := st.CreateInvoice(ctx, newInvoice(mid, "inv_m", now)); err != nil {
		t.Fatal(err)
	}
	inv, err := st.ModifyInvoice(ctx, mid, "inv_m", func(inv *store.Invoice) error {
		inv.Status, inv.AttemptKey, inv.AttemptAt, inv.PaymentID = store.InvoiceProcessing, "attempt-1", now, "pay_1"
		return nil
	})
	if err != nil || inv.Status != store.InvoiceProcessing {
		t.Fatalf("claim: %v, %v", inv, err)
	}
	if got, err := st.InvoiceByPayment(ctx, mid, "pay_1"); err != nil || got.ID != "inv_m" || got.AttemptKey != "attempt-1" {
		t.Errorf("InvoiceByPayment = %v, %v", got, err)
	}
	// The schema refuses a processing invoice without an attempt key.
	_, err = st.ModifyInvoice(ctx, mid, "inv_m", func(inv *store.Invoice) error {
		inv.AttemptKey = ""
		return nil
	})
	if !errors.Is(err, store.ErrConstraint) {
		t.Errorf("processing without attempt key: err = %v, want ErrConstraint", err)
	}
	// An error from fn writes nothing.
	stop := errors.New("stop")
	if _, err := st.ModifyInvoice(ctx, mid, "inv_m", func(inv *store.Invoice) error {
		inv.Status = store.InvoiceCancelled
		return stop
	}); !errors.Is(err, stop) {
		t.Errorf("fn error: got %v, want it returned", err)
	}
	inv, err = st.ModifyInvoice(ctx, mid, "inv_m", func(inv *store.Invoice) error {
		inv.Status, inv.AttemptKey, inv.PaidAt = store.InvoiceProcessed, "", now
		return nil
	})
	if err != nil || inv.Status != store.InvoiceProcessed || !inv.PaidAt.Equal(now) {
		t.Fatalf("processed: %v, %v", inv, err)
	}
	if _, err := st.ModifyInvoice(ctx, mid, "inv_missing", func(*store.Invoice) error { return nil }); !errors.Is(err, store.ErrNotFound) {
		t.Errorf("missing invoice: err = %v, want ErrNotFound", err)
	}
}

// TestModifyInvoiceRace: of many concurrent claims of one created invoice,
// exactly one wins; the others see it processing.
func TestModifyInvoiceRace(t *testing.T) {
	t.Parallel()
	st, mid := merchantStore(t, "inv")
	ctx := context.Background()
	now := time.Now().UTC().Truncate(time.Microsecond)
	if err := st.CreateInvoice(ctx, newInvoice(mid, "inv_race", now)); err != nil {
		t.Fatal(err)
	}
	busy := errors.New("busy")
	const n = 12
	var won, lost atomic.Int32
	var wg sync.WaitGroup
	start := make(chan struct{})
	for i := range n {
		wg.Go(func() {
			<-start
			_, err := st.ModifyInvoice(ctx, mid, "inv_race", func(inv *store.Invoice) error {
				if inv.Status != store.InvoiceCreated {
					return busy
				}
				inv.Status, inv.AttemptKey, inv.AttemptAt = store.InvoiceProcessing, "attempt-"+string(rune('a'+i)), now
				return nil
			})
			switch {
			case err == nil:
				won.Add(1)
			case errors.Is(err, busy):
				lost.Add(1)
			default:
				t.Errorf("claim %d: %v", i, err)
			}
		})
	}
	close(start)
	wg.Wait()
	if won.Load() != 1 || lost.Load() != n-1 {
		t.Errorf("%d claims won and %d lost, want 1 and %d", won.Load(), lost.Load(), n-1)
	}
}
