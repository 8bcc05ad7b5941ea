package invoices_test

import (
	"context"
	"encoding/json"
	"errors"
	"net/http"
	"net/url"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/altynpay/altyn/cryptogram"
	"github.com/altynpay/altyn/server/apptest"
	"github.com/altynpay/altyn/server/invoices"
	"github.com/altynpay/altyn/server/payments"
	"github.com/altynpay/altyn/store"
	"github.com/altynpay/altyn/store/storetest"
)

func TestMain(m *testing.M) { storetest.Main(m) }

func create(t *testing.T, env *apptest.Env, mod func(*invoices.CreateCommand)) *store.Invoice {
	t.Helper()
	cmd := invoices.CreateCommand{MerchantID: env.Merchant.ID, Amount: 250000, Currency: "RUB", Description: "Order 9",
		InvoiceID: "order-9", Email: "payer@example.com", SuccessURL: "https://shop.example/ok"}
	if mod != nil {
		mod(&cmd)
	}
	inv, err := env.App.Invoices.Create(context.Background(), cmd)
	if err != nil {
		t.Fatalf("Create: %v", err)
	}
	return inv
}

// seal makes a cryptogram of pan bound to the invoice's payment.
func seal(t *testing.T, env *apptest.Env, inv *store.Invoice, pan string) string {
	t.Helper()
	return env.SealCard(t, cryptogram.Card{PAN: pan, ExpMonth: 12, ExpYear: 2030, CVV: "123"},
		&cryptogram.Binding{Amount: inv.Amount, Currency: inv.Currency, InvoiceID: inv.InvoiceID})
}

func pay(env *apptest.Env, inv *store.Invoice, packet string) (*payments.Result, *store.Invoice, error) {
	return env.App.Invoices.Pay(context.Background(), invoices.PayCommand{ID: inv.ID, Cryptogram: packet, IPAddress: "203.0.113.9"})
}

func TestCreateGetCancel(t *testing.T) {
	t.Parallel()
	env := apptest.New(t)
	ctx := context.Background()
	inv := create(t, env, func(c *invoices.CreateCommand) { c.IdempotencyKey = "inv-key" })
	if !strings.HasPrefix(inv.ID, "inv_") || inv.Status != store.InvoiceCreated {
		t.Fatalf("new invoice %s in %s, want inv_… created", inv.ID, inv.Status)
	}
	if d := inv.ExpiresAt.Sub(inv.CreatedAt); d != invoices.DefaultTTL {
		t.Errorf("expires %v after creation, want the default %v", d, invoices.DefaultTTL)
	}
	if got := env.App.Invoices.PaymentURL(inv.ID); got != env.URL+"/pay/"+inv.ID {
		t.Errorf("PaymentURL = %s, want %s/pay/%s", got, env.URL, inv.ID)
	}
	again := create(t, env, func(c *invoices.CreateCommand) { c.IdempotencyKey = "inv-key" })
	if again.ID != inv.ID {
		t.Errorf("the same key made invoice %s, want the first, %s", again.ID, inv.ID)
	}
	_, err := env.App.Invoices.Create(ctx, invoices.CreateCommand{MerchantID: env.Merchant.ID, Amount: 1, Currency: "RUB", IdempotencyKey: "inv-key"})
	if !errors.Is(err, payments.ErrIdempotencyMismatch) {
		t.Errorf("the key with another amount: %v, want ErrIdempotencyMismatch", err)
	}
	for name, cmd := range map[string]invoices.CreateCommand{
		"zero amount":   {MerchantID: env.Merchant.ID, Amount: 0, Currency: "RUB"},
		"bad currency":  {MerchantID: env.Merchant.ID, Amount: 1, Currency: "rub"},
		"bad url":       {MerchantID: env.Merchant.ID, Amount: 1, Currency: "RUB", SuccessURL: "javascript:alert(1)"},
		"past expiry":   {MerchantID: env.Merchant.ID, Amount: 1, Currency: "RUB", ExpiresAt: env.Clock.Now().Add(-time.Minute)},
		"expiry far":    {MerchantID: env.Merchant.ID, Amount: 1, Currency: "RUB", ExpiresAt: env.Clock.Now().Add(100 * 24 * time.Hour)},
		"invalid email": {MerchantID: env.Merchant.ID, Amount: 1, Currency: "RUB", Email: "nope"},
	} {
		if _, err := env.App.Invoices.Create(ctx, cmd); !payments.IsKind(err, payments.KindInvalid) {
			t.Errorf("%s: err = %v, want InvalidArgument", name, err)
		}
	}
	got, err := env.App.Invoices.Get(ctx, env.Merchant.ID, inv.ID)
	if err != nil || got.ID != inv.ID {
		t.Fatalf("Get = %v, %v", got, err)
	}
	if _, err := env.App.Invoices.Get(ctx, "mer_other", inv.ID); !errors.Is(err, invoices.ErrNotFound) {
		t.Errorf("Get by another merchant: %v, want ErrNotFound", err)
	}
	c, err := env.App.Invoices.Cancel(ctx, env.Merchant.ID, inv.ID)
	if err != nil || c.Status != store.InvoiceCancelled || c.CancelledAt.IsZero() {
		t.Fatalf("Cancel = %v, %v; want cancelled", c, err)
	}
	if c, err := env.App.Invoices.Cancel(ctx, env.Merchant.ID, inv.ID); err != nil || c.Status != store.InvoiceCancelled {
		t.Errorf("second Cancel = %v, %v; want the cancelled invoice", c, err)
	}
	if _, _, err := pay(env, inv, seal(t, env, inv, "4000000000003055")); !errors.Is(err, invoices.ErrCancelled) {
		t.Errorf("Pay of a cancelled invoice: %v, want ErrCancelled", err)
	}
}

// TestPaidOnce: an approved payment makes the invoice processed, after
// which it cannot be paid again nor cancelled.
func TestPaidOnce(t *testing.T) {
	t.Parallel()
	env := apptest.New(t)
	inv := create(t, env, nil)
	res, got, err := pay(env, inv, seal(t, env, inv, "4000000000003055"))
	if err != nil {
		t.Fatalf("Pay: %v", err)
	}
	p := res.Payment
	if p.Status != store.StatusCompleted || p.Amount != inv.Amount || p.InvoiceID != "order-9" || p.Email != "payer@example.com" {
		t.Errorf("payment %s %d %q %q, want Completed with the invoice's amount, order and e-mail", p.Status, p.Amount, p.InvoiceID, p.Email)
	}
	if got.Status != store.InvoiceProcessed || got.PaymentID != p.ID || got.PaidAt.IsZero() {
		t.Errorf("invoice after payment: %s payment %s, want processed by %s", got.Status, got.PaymentID, p.ID)
	}
	if _, _, err := pay(env, inv, seal(t, env, inv, "4000000000003055")); !errors.Is(err, invoices.ErrPaid) {
		t.Errorf("second Pay: %v, want ErrPaid", err)
	}
	if _, err := env.App.Invoices.Cancel(context.Background(), env.Merchant.ID, inv.ID); !errors.Is(err, invoices.ErrPaid) {
		t.Errorf("Cancel of a paid invoice: %v, want ErrPaid", err)
	}

	// Refunds show in the invoice's status (SPEC.md §4), and a refunded
	// invoice still cannot be paid again.
	ctx := context.Background()
	for _, step := range []struct {
		amount int64
		want   store.InvoiceStatus
	}{{100000, store.InvoicePartiallyRefunded}, {150000, store.InvoiceRefunded}} {
		if _, err := env.App.Engine.Refund(ctx, payments.RefundCommand{MerchantID: env.Merchant.ID, PaymentID: p.ID, Amount: &step.amount}); err != nil {
			t.Fatalf("Refund %d: %v", step.amount, err)
		}
		got, err := env.App.Invoices.Get(ctx, env.Merchant.ID, inv.ID)
		if err != nil || got.Status != step.want {
			t.Errorf("invoice after refunding %d: %v (%v), want %s", step.amount, got.Status, err, step.want)
		}
	}
	if _, _, err := pay(env, inv, seal(t, env, inv, "4000000000003055")); !errors.Is(err, invoices.ErrPaid) {
		t.Errorf("Pay of a refunded invoice: %v, want ErrPaid", err)
	}
}

// TestDeclinedMayRetry: a declined attempt leaves the invoice payable; a
// cryptogram that does not open leaves it payable at once.
func TestDeclinedMayRetry(t *testing.T) {
	t.Parallel()
	env := apptest.New(t)
	inv := create(t, env, nil)
	res, got, err := pay(env, inv, seal(t, env, inv, "4000056655665556"))
	if err != nil || res.Payment.Status != store.StatusDeclined || got.Status != store.InvoiceCreated {
		t.Fatalf("declined attempt: %v, invoice %v, %v; want Declined and the invoice created", res, got, err)
	}
	// A cryptogram bound to another amount does not open.
	other := env.SealCard(t, cryptogram.Card{PAN: "4000000000003055", ExpMonth: 12, ExpYear: 2030, CVV: "123"},
		&cryptogram.Binding{Amount: 1, Currency: "RUB", InvoiceID: inv.InvoiceID})
	if _, _, err := pay(env, inv, other); !payments.IsKind(err, payments.KindInvalid) {
		t.Errorf("cryptogram for another amount: %v, want InvalidArgument", err)
	}
	if got, _ := env.App.Invoices.Get(context.Background(), env.Merchant.ID, inv.ID); got.Status != store.InvoiceCreated {
		t.Errorf("after a cryptogram that did not open the invoice is %s, want created", got.Status)
	}
	res, got, err = pay(env, inv, seal(t, env, inv, "4000000000003055"))
	if err != nil || res.Payment.Status != store.StatusCompleted || got.Status != store.InvoiceProcessed {
		t.Fatalf("retry: %v, invoice %v, %v; want Completed and processed", res, got, err)
	}
}

// TestConcurrentPays: of two (and then eight) payments of one invoice at
// the same moment, exactly one reaches the payment engine.
func TestConcurrentPays(t *testing.T) {
	t.Parallel()
	env := apptest.New(t)
	for _, n := range []int{2, 8} {
		inv := create(t, env, func(c *invoices.CreateCommand) { c.InvoiceID = "race-" + string(rune('0'+n)) })
		packets := make([]string, n)
		for i := range packets {
			packets[i] = seal(t, env, inv, "4000000000003055")
		}
		var wg sync.WaitGroup
		var mu sync.Mutex
		paid, refused := 0, 0
		start := make(chan struct{})
		for i := range n {
			wg.Go(func() {
				<-start
				res, _, err := pay(env, inv, packets[i])
				mu.Lock()
				defer mu.Unlock()
				switch {
				case err == nil && res.Payment.Status == store.StatusCompleted:
					paid++
				case errors.Is(err, invoices.ErrInProgress), errors.Is(err, invoices.ErrPaid):
					refused++
				default:
					t.Errorf("pay %d of %d: %v, %v", i, n, res, err)
				}
			})
		}
		close(start)
		wg.Wait()
		var payments int
		if err := env.App.Store.Pool().QueryRow(context.Background(),
			`SELECT count(*) FROM payments WHERE merchant_id = $1 AND invoice_id = $2`, env.Merchant.ID, inv.InvoiceID).Scan(&payments); err != nil {
			t.Fatal(err)
		}
		if paid != 1 || refused != n-1 || payments != 1 {
			t.Errorf("%d concurrent pays: %d paid, %d refused, %d payments in the database; want 1, %d, 1", n, paid, refused, payments, n-1)
		}
	}
}

// TestThreeDSInvoice: while 3-D Secure is under way the invoice is
// processing and refuses other attempts; the ACS's return completes the
// payment and the invoice.
func TestThreeDSInvoice(t *testing.T) {
	t.Parallel()
	env := apptest.New(t)
	inv := create(t, env, func(c *invoices.CreateCommand) { c.TwoStage = true })
	res, got, err := pay(env, inv, seal(t, env, inv, "4242424242424242"))
	if err != nil || res.Payment.Status != store.StatusAwaitingAuthentication || got.Status != store.InvoiceProcessing {
		t.Fatalf("3-D Secure attempt: %v, invoice %v, %v; want AwaitingAuthentication and processing", res, got, err)
	}
	if _, _, err := pay(env, inv, seal(t, env, inv, "4000000000003055")); !errors.Is(err, invoices.ErrInProgress) {
		t.Errorf("Pay during 3-D Secure: %v, want ErrInProgress", err)
	}
	p := res.Payment
	// The ACS (JSON mode), then the widget's TermUrl.
	form := url.Values{"PaReq": {p.PaReq}, "MD": {itoa(p.TransactionID)}, "choice": {"confirm"}, "format": {"json"}}
	resp, err := http.PostForm(env.URL+"/sandbox/acs", form)
	if err != nil {
		t.Fatal(err)
	}
	var acs struct{ MD, PaRes string }
	json.NewDecoder(resp.Body).Decode(&acs)
	resp.Body.Close()
	resp, err = http.PostForm(env.URL+"/widget/3ds", url.Values{"MD": {acs.MD}, "PaRes": {acs.PaRes}})
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("/widget/3ds answered %d", resp.StatusCode)
	}
	got, err = env.App.Invoices.Get(context.Background(), env.Merchant.ID, inv.ID)
	if err != nil || got.Status != store.InvoiceProcessed || got.PaymentID != p.ID {
		t.Errorf("after 3-D Secure: %v, %v; want processed by %s", got, err, p.ID)
	}
	var status string
	env.App.Store.Pool().QueryRow(context.Background(), `SELECT status FROM payments WHERE id = $1`, p.ID).Scan(&status)
	if status != string(store.StatusAuthorized) {
		t.Errorf("two-stage invoice's payment is %s, want Authorized", status)
	}
}

// TestExpiry: an invoice not paid in time expires and refuses payment.
func TestExpiry(t *testing.T) {
	t.Parallel()
	env := apptest.New(t)
	inv := create(t, env, func(c *invoices.CreateCommand) { c.ExpiresAt = env.Clock.Now().Add(time.Hour) })
	env.Clock.Advance(2 * time.Hour)
	got, err := env.App.Invoices.Get(context.Background(), env.Merchant.ID, inv.ID)
	if err != nil || got.Status != store.InvoiceExpired {
		t.Errorf("after its expiry: %v, %v; want expired", got, err)
	}
	if _, _, err := pay(env, inv, seal(t, env, inv, "4000000000003055")); !errors.Is(err, invoices.ErrExpired) {
		t.Errorf("Pay of an expired invoice: %v, want ErrExpired", err)
	}
	if _, err := env.App.Invoices.Cancel(context.Background(), env.Merchant.ID, inv.ID); !payments.IsKind(err, payments.KindPrecondition) {
		t.Errorf("Cancel of an expired invoice: %v, want FailedPrecondition", err)
	}
}

func itoa(n int64) string {
	b, _ := json.Marshal(n)
	return string(b)
}
