package browsertest

import (
	"context"
	"strings"
	"testing"

	"connectrpc.com/connect"
	"github.com/chromedp/chromedp"

	altynv1 "github.com/altynpay/altyn/gen/altyn/v1"
)

// TestCardPays: a card without 3-D Secure pays through the widget on the
// merchant's page; the shop's onSuccess gets the payment, which is
// Completed in the database, and no request carried the card number.
func TestCardPays(t *testing.T) {
	const pan = "4000000000003055"
	tb := newTab(t, 1024, 768)
	f := tb.open("charge", tb.payment(nil))
	tb.screenshot("form-empty")
	tb.typeCard(f, pan, "1230", "123")
	if got := tb.value(f, "#number"); got != "4000 0000 0000 3055" {
		t.Errorf("the number field shows %q, want it grouped as 4000 0000 0000 3055", got)
	}
	if got := tb.value(f, "#expiry"); got != "12 / 30" {
		t.Errorf("the expiry field shows %q, want 12 / 30", got)
	}
	tb.poll(f, "#brand", func(s string) bool { return s == "Visa" })
	tb.screenshot("form-filled")
	tb.click(f, "#pay")
	title := tb.poll(f, "#result-title", func(s string) bool { return s != "" && !strings.Contains(s, "…") })
	tb.screenshot("result-success")
	if title != "Payment successful" {
		t.Errorf("the form says %q, want Payment successful", title)
	}
	r := tb.result()
	if !r.OK || !r.Result.Success || r.Result.PaymentID == "" || r.Result.TransactionID <= 0 {
		t.Fatalf("the shop's callback got %+v, want onSuccess with the payment", r)
	}
	status, amount := tb.paymentStatus(r.Result.PaymentID)
	if status != "Completed" || amount != 150050 {
		t.Errorf("payment %s in the database: %s %d, want Completed 150050", r.Result.PaymentID, status, amount)
	}
	if r.Result.CardMask != "400000******3055" {
		t.Errorf("the shop got card mask %q, want 400000******3055", r.Result.CardMask)
	}
	tb.net.assertNoPAN(t, pan)
	if strings.Contains(tb.env.Logs.String(), pan) {
		t.Error("the server's log holds the card number")
	}
	// Done closes the widget and gives the focus back to the page.
	tb.click(f, "#done")
	tb.do(chromedp.WaitNotPresent(chromedp.CSS(`[data-altyn="overlay"]`)))
}

// TestThreeDSecure: a 3-D Secure card shows the bank's page inside the
// widget, in a frame of at least 500 × 500; confirming there completes the
// payment without leaving the merchant's page.
func TestThreeDSecure(t *testing.T) {
	const pan = "4242424242424242"
	tb := newTab(t, 1280, 900)
	f := tb.open("charge", tb.payment(nil))
	tb.typeCard(f, pan, "1230", "123")
	tb.click(f, "#pay")
	tb.do(chromedp.WaitVisible(chromedp.CSS(`#acs[data-pages="1"]`), chromedp.FromNode(f)))
	acsNodes, err := chromedp.Run(tb.ctx, chromedp.Nodes(chromedp.CSS("#acs"), chromedp.FromNode(f)))
	if err != nil {
		t.Fatal(err)
	}
	acs := acsNodes[0]
	tb.do(chromedp.WaitVisible(chromedp.CSS(`button[value="confirm"]`), chromedp.FromNode(acs)))
	box, err := chromedp.Run(tb.ctx, chromedp.Dimensions(chromedp.CSS("#acs"), chromedp.FromNode(f)))
	if err != nil {
		t.Fatal(err)
	}
	if box.Width < 500 || box.Height < 500 {
		t.Errorf("the 3-D Secure frame is %d × %d, want at least 500 × 500", box.Width, box.Height)
	}
	tb.screenshot("threeds")
	url := eval[string](tb, "location.href")
	tb.click(acs, `button[value="confirm"]`)
	title := tb.poll(f, "#result-title", func(s string) bool {
		return s != "" && !strings.Contains(s, "…") && s != "Waiting for the bank's answer…"
	})
	tb.screenshot("threeds-result")
	if title != "Payment successful" {
		t.Errorf("after 3-D Secure the form says %q, want Payment successful", title)
	}
	r := tb.result()
	if status, _ := tb.paymentStatus(r.Result.PaymentID); !r.OK || status != "Completed" {
		t.Errorf("after 3-D Secure: callback %+v, database %s; want onSuccess and Completed", r, status)
	}
	if got := eval[string](tb, "location.href"); got != url {
		t.Errorf("the page went from %s to %s; the payment must complete without leaving it", url, got)
	}
	tb.net.assertNoPAN(t, pan)
}

// TestDeclinedCard: a declining card shows the decline message and calls
// onFail; the payer may try again.
func TestDeclinedCard(t *testing.T) {
	tb := newTab(t, 1024, 768)
	f := tb.open("charge", tb.payment(map[string]any{"language": "ru-RU"}))
	tb.typeCard(f, "4000056655665556", "1230", "123")
	tb.click(f, "#pay")
	title := tb.poll(f, "#result-title", func(s string) bool { return s != "" && !strings.Contains(s, "…") })
	text := tb.poll(f, "#result-text", func(s string) bool { return s != "" })
	tb.screenshot("result-declined-ru")
	if title != "Платёж отклонён" || !strings.Contains(text, "Недостаточно средств") {
		t.Errorf("the form says %q / %q, want the Russian decline and insufficient funds message", title, text)
	}
	r := tb.result()
	if r.OK || r.Result.ReasonCode != 5051 || r.Reason == "" {
		t.Errorf("the shop's callback got %+v, want onFail with reason code 5051 and the message", r)
	}
	if status, _ := tb.paymentStatus(r.Result.PaymentID); status != "Declined" {
		t.Errorf("payment in the database: %s, want Declined", status)
	}
	// Try again brings the form back with the number kept and the CVV empty.
	tb.click(f, "#retry")
	tb.do(chromedp.WaitVisible(chromedp.CSS("#number"), chromedp.FromNode(f)))
	if n, c := tb.value(f, "#number"), tb.value(f, "#cvv"); n != "4000 0566 5566 5556" || c != "" {
		t.Errorf("after Try again: number %q, CVV %q; want the number kept and the CVV empty", n, c)
	}
	tb.net.assertNoPAN(t, "4000056655665556")
}

// TestInvalidNumberSendsNothing: a number failing the Luhn check shows its
// error as soon as it is typed in full, and pressing Pay sends nothing.
func TestInvalidNumberSendsNothing(t *testing.T) {
	tb := newTab(t, 1024, 768)
	f := tb.open("charge", tb.payment(nil))
	// Wait until the core has loaded (the key is fetched), so that a
	// request sent by Pay would be seen below.
	tb.do(chromedp.WaitReady(chromedp.CSS(`iframe[data-altyn="form"][data-core="ready"]`)))
	tb.typeCard(f, "4000000000003056", "", "")
	msg := tb.poll(f, "#number-error", func(s string) bool { return s != "" })
	if msg != "Check the card number" {
		t.Errorf("number error %q, want Check the card number", msg)
	}
	before := tb.net.count("/altyn.v1.CheckoutService/Pay")
	tb.click(f, "#pay")
	tb.poll(f, "#expiry-error", func(s string) bool { return s == "Enter the expiry date" })
	tb.poll(f, "#cvv-error", func(s string) bool { return s == "Enter the CVC / CVV" })
	tb.screenshot("form-invalid")
	if after := tb.net.count("/altyn.v1.CheckoutService/Pay"); after != before {
		t.Errorf("Pay sent %d payment requests with an invalid card, want none", after-before)
	}
	invalid, err := chromedp.Run(tb.ctx, chromedp.AttributeValue(chromedp.CSS("#number"), "aria-invalid", chromedp.FromNode(f)))
	if err != nil || invalid.Value != "true" {
		t.Errorf("#number aria-invalid = %v, %v; want true", invalid, err)
	}
	var n int
	if err := tb.env.App.Store.Pool().QueryRow(context.Background(), `SELECT count(*) FROM payments`).Scan(&n); err != nil || n != 0 {
		t.Errorf("payments in the database: %d (%v), want 0", n, err)
	}
	tb.net.assertNoPAN(t, "4000000000003056")
}

// TestCheckoutScript: the merchant's own form; altyn.Checkout seals the
// card into a cryptogram, which the merchant's backend charges through the
// private API. An invalid card is refused field by field with
// CloudPayments' codes.
func TestCheckoutScript(t *testing.T) {
	const pan = "5205000000003055"
	tb := newTab(t, 1024, 768)
	tb.do(
		chromedp.SendKeys(chromedp.ID("cn"), "5205 0000 0000 3055"),
		chromedp.SendKeys(chromedp.ID("mm"), "12"),
		chromedp.SendKeys(chromedp.ID("yy"), "30"),
		chromedp.SendKeys(chromedp.ID("cvv"), "123"),
	)
	got := eval[struct {
		Cryptogram string `json:"cryptogram"`
	}](tb, `shop.ownForm()`)
	if !strings.HasPrefix(got.Cryptogram, "altyn1_") {
		t.Fatalf("createPaymentCryptogram gave %q, want a cryptogram", got.Cryptogram)
	}
	// The merchant's backend charges it.
	res, err := tb.env.Connect.Charge(context.Background(), connect.NewRequest(&altynv1.ChargeRequest{
		Amount: &altynv1.Money{Amount: 99900, Currency: "RUB"}, Cryptogram: got.Cryptogram, InvoiceId: "own-form-1",
	}))
	if err != nil {
		t.Fatalf("Charge with the checkout script's cryptogram: %v", err)
	}
	if p := res.Msg.Payment; p.Status != altynv1.PaymentStatus_PAYMENT_STATUS_COMPLETED || p.Card.GetLastFour() != "3055" {
		t.Errorf("the charge: %v card %v, want COMPLETED with the card", p.Status, p.Card)
	}
	if status, _ := tb.paymentStatus(res.Msg.Payment.Id); status != "Completed" {
		t.Errorf("in the database: %s, want Completed", status)
	}

	bad := eval[struct {
		Error map[string]string `json:"error"`
	}](tb, `shop.cryptogram({cardNumber: '4000000000003056', expDateMonth: '13', expDateYear: '30', cvv: ''})`)
	want := map[string]string{"CardNumber": "CardNumber_Invalid", "ExpDateMonth": "ExpDateMonth_Invalid", "Cvv": "Cvv_Empty"}
	for k, v := range want {
		if bad.Error[k] != v {
			t.Errorf("invalid card: rejected with %v, want %s: %s", bad.Error, k, v)
		}
	}
	tb.net.assertNoPAN(t, pan)
	tb.net.assertNoPAN(t, "4000000000003056")
}

// TestMerchantPageCannotReadForm: the card fields live in altyn's origin;
// the merchant's page cannot reach them, and they have no name attribute.
func TestMerchantPageCannotReadForm(t *testing.T) {
	tb := newTab(t, 1024, 768)
	f := tb.open("charge", tb.payment(nil))
	tb.typeCard(f, "4000000000003055", "1230", "123")
	blocked := eval[bool](tb, `(function () {
		var fr = document.querySelector('iframe[data-altyn="form"]');
		try { return fr.contentDocument === null && (function () { try { fr.contentWindow.document; return false; } catch (e) { return true; } })(); }
		catch (e) { return true; } })()`)
	if !blocked {
		t.Error("the merchant's page can read the form's document")
	}
	names, err := chromedp.Run(tb.ctx, chromedp.Nodes(chromedp.CSS("input[name]"), chromedp.FromNode(f), chromedp.AtLeast(0)))
	if err != nil {
		t.Fatal(err)
	}
	if len(names) != 0 {
		t.Errorf("%d inputs of the form have a name attribute, want none", len(names))
	}
}
