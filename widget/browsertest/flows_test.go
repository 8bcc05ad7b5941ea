package browsertest

import (
	"context"
	"strings"
	"sync"
	"testing"
	"time"

	"connectrpc.com/connect"
	"github.com/chromedp/cdproto/fetch"
	"github.com/chromedp/chromedp"

	"github.com/altynpay/altyn/cryptogram"
	altynv1 "github.com/altynpay/altyn/gen/altyn/v1"
	"github.com/altynpay/altyn/gen/altyn/v1/altynv1connect"
	"github.com/altynpay/altyn/server/apptest"
)

// TestTwoStage: auth() holds the amount; the payment is Authorized.
func TestTwoStage(t *testing.T) {
	tb := newTab(t, 1024, 768)
	f := tb.open("auth", tb.payment(map[string]any{"amount": 5000}))
	tb.typeCard(f, "5205000000003055", "1230", "123")
	tb.click(f, "#pay")
	title := tb.poll(f, "#result-title", func(s string) bool { return s != "" && !strings.Contains(s, "…") })
	if title != "Payment authorized" {
		t.Errorf("the form says %q, want Payment authorized", title)
	}
	r := tb.result()
	if status, amount := tb.paymentStatus(r.Result.PaymentID); status != "Authorized" || amount != 500000 {
		t.Errorf("payment in the database: %s %d, want Authorized 500000", status, amount)
	}
	tb.net.assertNoPAN(t, "5205000000003055")
}

// TestMobile: on a 360 px wide screen the form fits without scrolling
// sideways, in Russian.
func TestMobile(t *testing.T) {
	tb := newTab(t, 360, 740)
	f := tb.open("charge", tb.payment(map[string]any{"language": "ru-RU", "amount": 12000}))
	tb.typeCard(f, "2200000022222222", "1230", "123")
	tb.poll(f, "#brand", func(s string) bool { return s == "МИР" })
	if got := tb.poll(f, "#pay", func(s string) bool { return s != "" }); got != "Оплатить 12 000,00 ₽" {
		t.Errorf("the Pay button says %q, want Оплатить 12 000,00 ₽", got)
	}
	fits, err := chromedp.Run(tb.ctx, chromedp.Evaluate[bool](`(function () {
		var fr = document.querySelector('iframe[data-altyn="form"]').getBoundingClientRect();
		return fr.left >= 0 && fr.right <= window.innerWidth && document.documentElement.scrollWidth <= window.innerWidth; })()`))
	if err != nil || !fits {
		t.Errorf("the widget's frame does not fit a 360 px screen (%v)", err)
	}
	inner, err := chromedp.Run(tb.ctx, chromedp.Poll[bool](`document.documentElement.scrollWidth <= document.documentElement.clientWidth`,
		chromedp.WithPollingInFrame(f), chromedp.WithPollingTimeout(5*time.Second)))
	if err != nil || !inner {
		t.Errorf("the form scrolls sideways inside its frame (%v)", err)
	}
	tb.screenshot("mobile-360-form")
	tb.click(f, "#pay")
	tb.poll(f, "#result-title", func(s string) bool { return s == "Оплата прошла успешно" })
	tb.screenshot("mobile-360-result")
}

// TestKeyboard: the fields come in order with Tab, the focus stays in the
// dialog, and Escape closes it (onFail "User has cancelled").
func TestKeyboard(t *testing.T) {
	tb := newTab(t, 1024, 768)
	f := tb.open("charge", tb.payment(nil))
	focused := func(want string) {
		t.Helper()
		_, err := chromedp.Run(tb.ctx, chromedp.Poll[bool](`document.activeElement && document.activeElement.id === `+jsString(want),
			chromedp.WithPollingInFrame(f), chromedp.WithPollingTimeout(5*time.Second)))
		if err != nil {
			got, _ := chromedp.Run(tb.ctx, chromedp.Evaluate[string](`document.activeElement.tagName`))
			t.Fatalf("focus: want #%s (page's active element %s): %v", want, got, err)
		}
	}
	focused("number")
	for _, next := range []string{"expiry", "cvv", "pay", "close", "number"} {
		tb.do(chromedp.KeyEvent("\t"))
		focused(next)
	}
	tb.do(chromedp.KeyEvent("\x1b")) // Escape
	tb.do(chromedp.WaitNotPresent(chromedp.CSS(`[data-altyn="overlay"]`)))
	if r := tb.result(); r.OK || r.Reason != "User has cancelled" {
		t.Errorf("after Escape the shop got %+v, want onFail User has cancelled", r)
	}
}

// TestStartPromise: start() resolves with the outcome.
func TestStartPromise(t *testing.T) {
	tb := newTab(t, 1024, 768)
	eval[chromedp.Void](tb, `shop.start({publicId: `+jsString(tb.env.Merchant.PublicID)+`, amount: 99.9, currency: 'RUB', description: 'Start', paymentSchema: 'Single'}); 0`)
	f := tb.frame()
	tb.typeCard(f, "4000000000003055", "1230", "123")
	tb.click(f, "#pay")
	tb.poll(f, "#result-title", func(s string) bool { return s == "Payment successful" })
	tb.click(f, "#done")
	got, err := chromedp.Run(tb.ctx, chromedp.Poll[string](`window.results.length > 0 && window.results[0].start && window.results[0].start.status`,
		chromedp.WithPollingTimeout(10*time.Second)))
	if err != nil || got != "success" {
		t.Errorf("start() resolved with status %q (%v), want success", got, err)
	}
}

// TestPayBeforeWasmReady: the form shows and takes the card while the
// WebAssembly core is still loading; Pay pressed then waits for the core
// and pays as soon as it is ready.
func TestPayBeforeWasmReady(t *testing.T) {
	tb := newTab(t, 1024, 768)
	// Hold every request for the wasm until the card is typed and Pay pressed.
	paused := chromedp.Events(tb.ctx, fetch.RequestPaused)
	if _, err := chromedp.Call(tb.ctx, fetch.Enable, fetch.EnableParams{Patterns: []*fetch.RequestPattern{{URLPattern: "*altyn.wasm*"}}}); err != nil {
		t.Fatal(err)
	}
	release := make(chan struct{})
	var held sync.WaitGroup
	go func() {
		for ev, err := range paused {
			if err != nil {
				return
			}
			held.Go(func() {
				select {
				case <-release:
				case <-tb.ctx.Done():
				}
				chromedp.Call(tb.ctx, fetch.ContinueRequest, fetch.ContinueRequestParams{RequestID: ev.RequestID})
			})
		}
	}()
	eval[chromedp.Void](tb, "shop.open('charge', "+`{publicId: `+jsString(tb.env.Merchant.PublicID)+`, amount: 10, currency: 'RUB', description: 'Early'}); 0`)
	f := tb.frame()
	tb.typeCard(f, "4000 0000 0000 3055", "12/30", "123")
	tb.click(f, "#pay")
	if got := tb.poll(f, "#pay", func(s string) bool { return s != "" }); got != "Preparing the secure form…" {
		t.Errorf("Pay before the core loaded says %q, want Preparing the secure form…", got)
	}
	if n := tb.net.count("CheckoutService/Pay"); n != 0 {
		t.Errorf("%d payment requests before the core loaded", n)
	}
	tb.screenshot("form-before-wasm")
	close(release)
	tb.poll(f, "#result-title", func(s string) bool { return s == "Payment successful" })
	r := tb.result()
	if status, _ := tb.paymentStatus(r.Result.PaymentID); status != "Completed" {
		t.Errorf("payment %s, want Completed", status)
	}
	tb.net.assertNoPAN(t, "4000000000003055")
}

// TestHostedInvoice: an invoice made with the private API is paid on its
// hosted page /pay/{id}, after which the page and the API refuse to take
// it again.
func TestHostedInvoice(t *testing.T) {
	const pan = "4000000000003055"
	tb := newTab(t, 1024, 768)
	ctx := context.Background()
	invoices := altynv1connect.NewInvoiceServiceClient(tb.env.HTTP, tb.env.URL,
		connect.WithInterceptors(apptest.BasicAuth(tb.env.Merchant.PublicID, tb.env.Secret)))
	created, err := invoices.CreateInvoice(ctx, connect.NewRequest(&altynv1.CreateInvoiceRequest{
		Amount: &altynv1.Money{Amount: 245000, Currency: "RUB"}, Description: "Invoice for order 314", InvoiceId: "order-314",
		Email: "payer@example.com", SuccessUrl: tb.shop + "?paid=314", FailUrl: tb.shop + "?failed=314",
	}))
	if err != nil {
		t.Fatal(err)
	}
	inv := created.Msg.Invoice
	tb.do(chromedp.Navigate(inv.PaymentUrl + "?lang=en"))
	tb.do(chromedp.WaitReady(chromedp.CSS("#number")))
	if got := tb.poll(nil, "#pay", func(s string) bool { return strings.Contains(s, "2,450.00") }); got != "Pay RUB 2,450.00" {
		t.Errorf("Pay button %q, want Pay RUB 2,450.00", got)
	}
	tb.screenshot("hosted-form")
	tb.do(
		chromedp.SendKeys(chromedp.ID("number"), pan),
		chromedp.SendKeys(chromedp.ID("expiry"), "1230"),
		chromedp.SendKeys(chromedp.ID("cvv"), "123"),
		chromedp.Click(chromedp.ID("pay")),
	)
	tb.poll(nil, "#result-title", func(s string) bool { return s == "Payment successful" })
	back, err := chromedp.Run(tb.ctx, chromedp.AttributeValue(chromedp.ID("back"), "href"))
	if err != nil || back.Value != tb.shop+"?paid=314" {
		t.Errorf("return link %v (%v), want the success URL", back, err)
	}
	tb.screenshot("hosted-result")
	got, err := invoices.GetInvoice(ctx, connect.NewRequest(&altynv1.GetInvoiceRequest{Id: inv.Id}))
	if err != nil || got.Msg.Invoice.Status != altynv1.InvoiceStatus_INVOICE_STATUS_PROCESSED {
		t.Fatalf("invoice after payment: %v, %v; want PROCESSED", got.Msg.GetInvoice(), err)
	}
	if status, amount := tb.paymentStatus(got.Msg.Invoice.PaymentId); status != "Completed" || amount != 245000 {
		t.Errorf("the invoice's payment: %s %d, want Completed 245000", status, amount)
	}
	// The page no longer offers the form; the API refuses another payment.
	tb.do(chromedp.Navigate(inv.PaymentUrl + "?lang=en"))
	if s := tb.poll(nil, "#status", func(s string) bool { return s != "" }); s != "This invoice has been paid." {
		t.Errorf("the paid invoice's page says %q", s)
	}
	tb.screenshot("hosted-paid")
	checkout := altynv1connect.NewCheckoutServiceClient(tb.env.HTTP, tb.env.URL)
	_, err = checkout.PayInvoice(ctx, connect.NewRequest(&altynv1.PayInvoiceRequest{Id: inv.Id,
		Cryptogram: tb.env.SealCard(t, cryptogram.Card{PAN: pan, ExpMonth: 12, ExpYear: 2030, CVV: "123"},
			&cryptogram.Binding{Amount: 245000, Currency: "RUB", InvoiceID: "order-314"})}))
	if connect.CodeOf(err) != connect.CodeFailedPrecondition {
		t.Errorf("paying the paid invoice again: %v, want FailedPrecondition", err)
	}
	tb.net.assertNoPAN(t, pan)
}

// TestHostedInvoice3DS: an invoice paid with a 3-D Secure card on its page.
func TestHostedInvoice3DS(t *testing.T) {
	tb := newTab(t, 1024, 900)
	ctx := context.Background()
	invoices := altynv1connect.NewInvoiceServiceClient(tb.env.HTTP, tb.env.URL,
		connect.WithInterceptors(apptest.BasicAuth(tb.env.Merchant.PublicID, tb.env.Secret)))
	created, err := invoices.CreateInvoice(ctx, connect.NewRequest(&altynv1.CreateInvoiceRequest{
		Amount: &altynv1.Money{Amount: 50000, Currency: "RUB"}, Description: "Invoice 3DS", InvoiceId: "order-3ds",
	}))
	if err != nil {
		t.Fatal(err)
	}
	tb.do(chromedp.Navigate(created.Msg.Invoice.PaymentUrl+"?lang=ru"), chromedp.WaitReady(chromedp.CSS("#number")),
		chromedp.SendKeys(chromedp.ID("number"), "5555555555554444"),
		chromedp.SendKeys(chromedp.ID("expiry"), "1230"),
		chromedp.SendKeys(chromedp.ID("cvv"), "123"),
		chromedp.Click(chromedp.ID("pay")),
		chromedp.WaitVisible(chromedp.CSS(`#acs[data-pages="1"]`)),
	)
	acs, err := chromedp.Run(tb.ctx, chromedp.Nodes(chromedp.ID("acs")))
	if err != nil {
		t.Fatal(err)
	}
	tb.screenshot("hosted-threeds")
	tb.click(acs[0], `button[value="confirm"]`)
	tb.poll(nil, "#result-title", func(s string) bool { return s == "Оплата прошла успешно" })
	got, err := invoices.GetInvoice(ctx, connect.NewRequest(&altynv1.GetInvoiceRequest{Id: created.Msg.Invoice.Id}))
	if err != nil || got.Msg.Invoice.Status != altynv1.InvoiceStatus_INVOICE_STATUS_PROCESSED {
		t.Errorf("invoice after 3-D Secure: %v, %v; want PROCESSED", got.Msg.GetInvoice(), err)
	}
	tb.net.assertNoPAN(t, "5555555555554444")
}

// TestDemoShop: the demo's instalment plan pays the first 6000 and starts
// the subscription of six monthly payments of 1000, and the form says so.
func TestDemoShop(t *testing.T) {
	tb := newTab(t, 1280, 900)
	tb.do(chromedp.Navigate(tb.env.URL+"/demo?publicId="+tb.env.Merchant.PublicID), chromedp.WaitReady(chromedp.ID("instalments")))
	tb.screenshot("demo")
	tb.do(chromedp.SetValue(chromedp.ID("lang"), "en-US"), chromedp.Click(chromedp.ID("plan-later")), chromedp.Click(chromedp.ID("instalments")))
	f := tb.frame()
	if got := tb.poll(f, "#pay", func(s string) bool { return s != "" }); got != "Pay RUB 6,000.00" {
		t.Errorf("instalments: Pay button %q, want the first payment, RUB 6,000.00", got)
	}
	tb.typeCard(f, "4000000000003055", "1230", "123")
	tb.click(f, "#pay")
	tb.poll(f, "#result-title", func(s string) bool { return s == "Payment successful" })
	note := tb.poll(f, "#result-note", func(s string) bool { return s != "" })
	if note != "Regular payments are set up on this card." {
		t.Errorf("the result's note is %q, want it to say the schedule was made", note)
	}
	tb.screenshot("demo-instalments-result")
	tb.click(f, "#done")
	logText := tb.poll(nil, "#log", func(s string) bool { return s != "" })
	if !strings.Contains(logText, "onSuccess") || !strings.Contains(logText, "subscription sub_") {
		t.Errorf("the demo's log says %q, want onSuccess with the subscription", logText)
	}
	var amount, maxPeriods int64
	var interval, status string
	if err := tb.env.App.Store.Pool().QueryRow(context.Background(), `SELECT s.amount, s.max_periods, s.interval_unit, s.status
		FROM subscriptions s JOIN payments p ON p.id = s.source_payment_id WHERE p.merchant_id = $1 AND p.amount = 600000`,
		tb.env.Merchant.ID).Scan(&amount, &maxPeriods, &interval, &status); err != nil {
		t.Fatalf("the instalments' subscription: %v", err)
	}
	if amount != 100000 || maxPeriods != 6 || interval != "Month" || status != "Active" {
		t.Errorf("subscription %d × %d per %s, %s; want 100000 × 6 per Month, Active", amount, maxPeriods, interval, status)
	}

	// The internet provider's top-up with monthly auto-pay from next month,
	// one day early: CloudPayments' startDate, a JavaScript Date.
	tb.do(chromedp.Click(chromedp.ID("isp-auto")), chromedp.Click(chromedp.ID("isp")))
	f = tb.frame()
	tb.typeCard(f, "4000000000003055", "1230", "123")
	tb.click(f, "#pay")
	tb.poll(f, "#result-note", func(s string) bool { return s == "Regular payments are set up on this card." })
	tb.screenshot("demo-autopay-result")
	var start time.Time
	if err := tb.env.App.Store.Pool().QueryRow(context.Background(), `SELECT s.start_at, s.amount FROM subscriptions s
		JOIN payments p ON p.id = s.source_payment_id WHERE p.merchant_id = $1 AND p.account_id = '100-2345'`,
		tb.env.Merchant.ID).Scan(&start, &amount); err != nil {
		t.Fatalf("the top-up's subscription: %v", err)
	}
	if d := time.Until(start); amount != 75000 || d < 20*24*time.Hour || d > 32*24*time.Hour {
		t.Errorf("auto-pay of %d starting in %v, want 75000 in about a month", amount, d)
	}
}
