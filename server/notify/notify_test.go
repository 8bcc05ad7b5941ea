package notify_test

import (
	"bytes"
	"context"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"log/slog"
	"net/http"
	"net/url"
	"regexp"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"connectrpc.com/connect"
	"google.golang.org/protobuf/proto"

	altynv1 "github.com/altynpay/altyn/gen/altyn/v1"
	"github.com/altynpay/altyn/server/acquirer"
	"github.com/altynpay/altyn/server/apptest"
	"github.com/altynpay/altyn/server/merchants"
	"github.com/altynpay/altyn/server/notify"
	"github.com/altynpay/altyn/store"
)

const (
	panPlain    = "4000000000003055" // approves without 3-D Secure
	panDeclined = "4000056655665556" // declines 5051
)

// TestRetryUntilDelivered: a receiver that fails the first three times
// gets the notification on the fourth attempt, on CloudPayments' schedule
// (1, 2, 5 minutes), each attempt signed afresh and logged.
func TestRetryUntilDelivered(t *testing.T) {
	t.Parallel()
	rc := newReceiver(t, func(n int, r *http.Request) (int, string) {
		if n < 3 {
			return http.StatusInternalServerError, "down for maintenance"
		}
		return http.StatusOK, `{"code":0}`
	})
	env := apptest.New(t, apptest.WithNotifyConfig(testConfig()), apptest.WithNotifier())
	sendTo(t, env, notify.TypePay, rc.URL+"/pay", notify.FormatAltyn)
	p := chargeCard(t, env, panPlain, 150000, false)
	id := deliveryOf(t, env, p.Id, notify.TypePay)

	start := env.Clock.Now()
	for i, pause := range []time.Duration{time.Minute, 2 * time.Minute, 5 * time.Minute} {
		log := waitAttempts(t, env, id, i+1)
		d := log.Delivery
		if d.Status != altynv1.DeliveryStatus_DELIVERY_STATUS_PENDING || d.LastHttpStatus != 500 || d.LastError != "HTTP 500" {
			t.Fatalf("after attempt %d: status %v, HTTP %d, error %q; want pending after HTTP 500", i+1, d.Status, d.LastHttpStatus, d.LastError)
		}
		if due := d.NextAttemptAt.AsTime(); !due.Equal(env.Clock.Now().Add(pause)) {
			t.Errorf("after attempt %d: next attempt at %v, want %s later", i+1, due, pause)
		}
		// Nothing happens before the pause is over.
		env.Clock.Advance(pause - time.Second)
		time.Sleep(100 * time.Millisecond)
		if n := len(rc.requests()); n != i+1 {
			t.Fatalf("receiver got %d requests before the pause was over, want %d", n, i+1)
		}
		env.Clock.Advance(time.Second)
	}
	log := waitAttempts(t, env, id, 4)
	waitFor(t, "delivered", 5*time.Second, func() bool {
		log = deliveryLog(t, env, id)
		return log.Delivery.Status == altynv1.DeliveryStatus_DELIVERY_STATUS_DELIVERED
	})
	if env.Clock.Now().Sub(start) != 8*time.Minute {
		t.Errorf("delivered %s after the payment, want 8m", env.Clock.Now().Sub(start))
	}
	if len(log.Attempts) != 4 || log.Attempts[3].HttpStatus != 200 || log.Attempts[0].Error != "HTTP 500" || log.Delivery.DeliveredAt == nil {
		t.Errorf("attempt log: %v", log)
	}

	reqs := rc.requests()
	if len(reqs) != 4 {
		t.Fatalf("receiver got %d requests, want 4", len(reqs))
	}
	for i, r := range reqs {
		if got := r.Header.Get(notify.EventIDHeader); got != id {
			t.Errorf("request %d: event id %q, want %q", i, got, id)
		}
		// Each attempt is signed at its own time: a receiver checking the
		// time with a 5-minute tolerance accepts each when it arrives.
		sentAt := start.Add([]time.Duration{0, time.Minute, 3 * time.Minute, 8 * time.Minute}[i])
		if err := notify.Verify(env.Secret, r.Header.Get(notify.SignatureHeader), r.Body, 5*time.Minute, sentAt); err != nil {
			t.Errorf("request %d: signature %q: %v", i, r.Header.Get(notify.SignatureHeader), err)
		}
	}
	var ev struct {
		ID      string `json:"id"`
		Type    string `json:"type"`
		Payment struct {
			ID            string `json:"id"`
			TransactionID int64  `json:"transaction_id"`
			Status        string `json:"status"`
			Amount        struct {
				Amount   int64  `json:"amount"`
				Currency string `json:"currency"`
			} `json:"amount"`
			Card struct {
				Mask string `json:"mask"`
			} `json:"card"`
			InvoiceID string `json:"invoice_id"`
		} `json:"payment"`
	}
	if err := json.Unmarshal(reqs[3].Body, &ev); err != nil {
		t.Fatal(err)
	}
	if ev.ID != id || ev.Type != "Pay" || ev.Payment.ID != p.Id || ev.Payment.TransactionID != p.TransactionId ||
		ev.Payment.Status != "Completed" || ev.Payment.Amount.Amount != 150000 || ev.Payment.Amount.Currency != "RUB" ||
		ev.Payment.Card.Mask != "400000******3055" || ev.Payment.InvoiceID != "order-7" {
		t.Errorf("altyn body: %s", reqs[3].Body)
	}
}

// TestRestartBetweenAttempts: altyn stops after a failed attempt; a new
// altyn on the same database delivers the notification when it is due.
func TestRestartBetweenAttempts(t *testing.T) {
	t.Parallel()
	rc := newReceiver(t, func(n int, r *http.Request) (int, string) {
		if n == 0 {
			return http.StatusBadGateway, ""
		}
		return http.StatusOK, `{"code":0}`
	})
	env := apptest.New(t, apptest.WithNotifyConfig(testConfig()), apptest.WithNotifier())
	sendTo(t, env, notify.TypePay, rc.URL, notify.FormatCloudPayments)
	p := chargeCard(t, env, panPlain, 1000, false)
	id := deliveryOf(t, env, p.Id, notify.TypePay)
	waitAttempts(t, env, id, 1)
	env.Close()

	env2 := apptest.New(t, apptest.WithDatabase(env.DatabaseURL, env.Master), apptest.WithClock(env.Clock),
		apptest.WithNotifyConfig(testConfig()), apptest.WithNotifier())
	env.Clock.Advance(time.Minute)
	var logs []notify.DeliveryLog
	waitFor(t, "delivery by the restarted altyn", 10*time.Second, func() bool {
		var err error
		logs, err = env2.App.Notifier.Delivery(context.Background(), env.Merchant.ID, id)
		if err != nil {
			t.Fatal(err)
		}
		return len(logs) == 1 && logs[0].Delivery.Status == store.DeliveryDelivered
	})
	if n := len(rc.requests()); n != 2 || len(logs[0].Attempts) != 2 {
		t.Errorf("receiver got %d requests, log has %d attempts; want 2 and 2", n, len(logs[0].Attempts))
	}
}

// TestDeadWorkerLease: a worker that leased a delivery and died without a
// word holds it only until its lease runs out; then another delivers it.
func TestDeadWorkerLease(t *testing.T) {
	t.Parallel()
	rc := newReceiver(t, nil)
	cfg := testConfig()
	env := apptest.New(t, apptest.WithNotifyConfig(cfg))
	sendTo(t, env, notify.TypePay, rc.URL, notify.FormatAltyn)
	p := chargeCard(t, env, panPlain, 1000, false)
	id := deliveryOf(t, env, p.Id, notify.TypePay)
	ctx := context.Background()
	if _, err := env.App.Notifier.FanOut(ctx, true); err != nil {
		t.Fatal(err)
	}
	now := env.Clock.Now()
	lease := env.App.Notifier.Config().Lease
	dead, err := env.App.Store.LeaseDeliveries(ctx, now, now.Add(lease), "lse_dead", 10, nil)
	if err != nil || len(dead) != 1 || dead[0].OutboxID != id {
		t.Fatalf("the dead worker's lease: got %v (%v), want %s", dead, err, id)
	}

	env2 := apptest.New(t, apptest.WithDatabase(env.DatabaseURL, env.Master), apptest.WithClock(env.Clock),
		apptest.WithNotifyConfig(cfg), apptest.WithNotifier())
	time.Sleep(200 * time.Millisecond)
	if n := len(rc.requests()); n != 0 {
		t.Fatalf("receiver got %d requests while the lease held, want 0", n)
	}
	env.Clock.Advance(lease)
	waitFor(t, "delivery after the lease ran out", 10*time.Second, func() bool { return len(rc.requests()) == 1 })
	waitFor(t, "delivered", 5*time.Second, func() bool {
		logs, _ := env2.App.Notifier.Delivery(ctx, env.Merchant.ID, id)
		return len(logs) == 1 && logs[0].Delivery.Status == store.DeliveryDelivered
	})
}

// TestRacingWorkers: three workers with their own connections to one
// database deliver 300 notifications: each reaches the receiver exactly
// once, none is lost.
func TestRacingWorkers(t *testing.T) {
	t.Parallel()
	const n = 300
	var mu sync.Mutex
	count := map[string]int{}
	rc := newReceiver(t, func(_ int, r *http.Request) (int, string) {
		mu.Lock()
		count[r.Header.Get(notify.EventIDHeader)]++
		mu.Unlock()
		return http.StatusOK, `{"code":0}`
	})
	env := apptest.New(t, apptest.WithNotifyConfig(testConfig()))
	sendTo(t, env, notify.TypePay, rc.URL, notify.FormatAltyn)
	ctx := context.Background()
	var msgs []store.OutboxMessage
	for i := range n {
		msgs = append(msgs, payEvent(env.Merchant.ID, fmt.Sprintf("evt_race%04d", i), env.Clock.Now()))
	}
	if err := env.App.Store.InsertOutbox(ctx, msgs...); err != nil {
		t.Fatal(err)
	}

	cfg := testConfig()
	cfg.PerTarget, cfg.Concurrency = 16, 16
	wctx, stop := context.WithCancel(ctx)
	var wg sync.WaitGroup
	for range 3 {
		st, err := store.Open(ctx, env.DatabaseURL)
		if err != nil {
			t.Fatal(err)
		}
		defer st.Close()
		w := notify.New(st, merchants.New(st, env.Master, env.Clock.Now), cfg, env.Clock.Now, slog.New(slog.DiscardHandler))
		wg.Go(func() { w.Run(wctx) })
	}
	waitFor(t, "every notification", 30*time.Second, func() bool {
		mu.Lock()
		defer mu.Unlock()
		return len(count) == n
	})
	time.Sleep(200 * time.Millisecond) // room for a duplicate to show up
	stop()
	wg.Wait()
	mu.Lock()
	defer mu.Unlock()
	for _, m := range msgs {
		if count[m.ID] != 1 {
			t.Errorf("%s reached the receiver %d times, want once", m.ID, count[m.ID])
		}
	}
	list, _, err := env.App.Store.ListDeliveries(ctx, env.Merchant.ID, store.DeliveryFilter{Status: store.DeliveryDelivered, PageSize: 1000})
	if err != nil || len(list) != n {
		t.Errorf("%d deliveries recorded as delivered (%v), want %d", len(list), err, n)
	}
	if got := len(rc.requests()); got != n {
		t.Errorf("receiver got %d requests, want %d", got, n)
	}
}

// cpHMAC is CloudPayments' rule as a receiver writes it from their
// documentation: base64(HMAC-SHA256(API secret, message)).
func cpHMAC(secret, message string) string {
	mac := hmac.New(sha256.New, []byte(secret))
	mac.Write([]byte(message))
	return base64.StdEncoding.EncodeToString(mac.Sum(nil))
}

// verifyCloudPayments checks both CloudPayments signatures of a request
// the way a merchant's library does, and returns its fields as text.
func verifyCloudPayments(t *testing.T, secret string, r received) map[string]string {
	t.Helper()
	message := string(r.Body)
	if r.Method == http.MethodGet {
		message = r.Query
	}
	if got := r.Header.Get("Content-HMAC"); got != cpHMAC(secret, message) {
		t.Errorf("Content-HMAC %s does not sign %q", got, message)
	}
	fields := map[string]string{}
	if strings.HasPrefix(r.Header.Get("Content-Type"), "application/json") {
		if got := r.Header.Get("X-Content-HMAC"); got != cpHMAC(secret, message) {
			t.Errorf("X-Content-HMAC %s does not sign the JSON body", got)
		}
		var m map[string]any
		d := json.NewDecoder(strings.NewReader(message))
		d.UseNumber()
		if err := d.Decode(&m); err != nil {
			t.Fatalf("JSON body %s: %v", message, err)
		}
		for k, v := range m {
			switch v := v.(type) {
			case nil:
				fields[k] = ""
			case string:
				fields[k] = v
			case json.Number:
				fields[k] = v.String()
			default:
				t.Errorf("field %s is %T, want a string, number or null", k, v)
			}
		}
		return fields
	}
	decoded, err := url.QueryUnescape(message)
	if err != nil {
		t.Fatal(err)
	}
	if got := r.Header.Get("X-Content-HMAC"); got != cpHMAC(secret, decoded) {
		t.Errorf("X-Content-HMAC %s does not sign the URL-decoded %q", got, decoded)
	}
	values, err := url.ParseQuery(message)
	if err != nil {
		t.Fatal(err)
	}
	for k := range values {
		fields[k] = values.Get(k)
	}
	return fields
}

// TestCloudPaymentsFormat: Pay, Fail, Confirm, Refund and Cancel in
// CloudPayments' format, as form POST, JSON POST and GET, carry their
// field names and verify with an independent implementation of their
// signature rule.
func TestCloudPaymentsFormat(t *testing.T) {
	t.Parallel()
	for _, c := range []struct {
		name, format string
		method       altynv1.HttpMethod
	}{
		{"form", notify.FormatCloudPayments, altynv1.HttpMethod_HTTP_METHOD_POST},
		{"json", notify.FormatCloudPaymentsJSON, altynv1.HttpMethod_HTTP_METHOD_POST},
		{"get", notify.FormatCloudPayments, altynv1.HttpMethod_HTTP_METHOD_GET},
	} {
		t.Run(c.name, func(t *testing.T) {
			t.Parallel()
			rc := newReceiver(t, nil)
			env := apptest.New(t, apptest.WithNotifyConfig(testConfig()), apptest.WithNotifier())
			for _, typ := range []string{notify.TypePay, notify.TypeFail, notify.TypeConfirm, notify.TypeRefund, notify.TypeCancel} {
				configure(t, env, typ, &altynv1.NotificationSettings{Enabled: true, Url: rc.URL + "/" + typ + "?site=1",
					Format: formatProtos[c.format], Method: c.method})
			}
			ctx := context.Background()
			paid := chargeCard(t, env, panPlain, 123456, true)
			if _, err := env.Connect.Capture(ctx, connect.NewRequest(&altynv1.CaptureRequest{PaymentId: paid.Id, Amount: proto.Int64(100000)})); err != nil {
				t.Fatal(err)
			}
			refund, err := env.Connect.Refund(ctx, connect.NewRequest(&altynv1.RefundRequest{PaymentId: paid.Id, Amount: proto.Int64(2550)}))
			if err != nil {
				t.Fatal(err)
			}
			voided := chargeCard(t, env, panPlain, 500, true)
			if _, err := env.Connect.Void(ctx, connect.NewRequest(&altynv1.VoidRequest{PaymentId: voided.Id})); err != nil {
				t.Fatal(err)
			}
			failed := chargeCard(t, env, panDeclined, 700, false)
			waitFor(t, "6 notifications", 10*time.Second, func() bool { return len(rc.requests()) == 6 })

			byKey := map[string]map[string]string{}
			for _, r := range rc.requests() {
				if r.Method != c.method.String()[len("HTTP_METHOD_"):] {
					t.Errorf("method %s, want %s", r.Method, c.method)
				}
				f := verifyCloudPayments(t, env.Secret, r)
				byKey[r.Header.Get(notify.EventTypeHeader)+" "+f["TransactionId"]] = f
				if strings.Contains(string(r.Body)+r.Query, panPlain) || strings.Contains(string(r.Body)+r.Query, panDeclined) {
					t.Errorf("a notification carries a full card number: %s%s", r.Body, r.Query)
				}
			}
			dateTime := regexp.MustCompile(`^\d{4}-\d\d-\d\d \d\d:\d\d:\d\d$`)
			want := map[string]map[string]string{
				"Pay " + itoa64(paid.TransactionId): {"Amount": "1234.56", "Currency": "RUB", "PaymentAmount": "1234.56", "Status": "Authorized",
					"OperationType": "Payment", "CardFirstSix": "400000", "CardLastFour": "3055", "CardExpDate": "12/30", "CardType": "Visa",
					"TestMode": "1", "InvoiceId": "order-7", "AccountId": "user-7", "Email": "payer@example.com", "IpAddress": "203.0.113.7",
					"Description": "Order 7", "Name": "TEST PAYER", "GatewayName": "Test"},
				"Confirm " + itoa64(paid.TransactionId): {"Amount": "1000.00", "Status": "Completed"},
				"Refund " + itoa64(refund.Msg.Refund.TransactionId): {"Amount": "25.50", "PaymentTransactionId": itoa64(paid.TransactionId),
					"OperationType": "Refund", "InvoiceId": "order-7"},
				"Cancel " + itoa64(voided.TransactionId): {"Amount": "5.00", "Status": "Cancelled"},
				"Fail " + itoa64(failed.TransactionId):   {"Amount": "7.00", "Status": "Declined", "ReasonCode": "5051", "Reason": "InsufficientFunds"},
			}
			for key, fields := range want {
				got, ok := byKey[key]
				if !ok {
					t.Errorf("no %s notification among %v", key, keys(byKey))
					continue
				}
				for k, v := range fields {
					if got[k] != v {
						t.Errorf("%s: %s = %q, want %q", key, k, got[k], v)
					}
				}
				if !dateTime.MatchString(got["DateTime"]) {
					t.Errorf("%s: DateTime %q is not yyyy-MM-dd HH:mm:ss", key, got["DateTime"])
				}
			}
			if got := byKey["Pay "+itoa64(paid.TransactionId)]["AuthCode"]; got == "" {
				t.Errorf("Pay carries no AuthCode")
			}
		})
	}
}

func itoa64(n int64) string { return strconv.FormatInt(n, 10) }

func keys[V any](m map[string]V) []string {
	var out []string
	for k := range m {
		out = append(out, k)
	}
	return out
}

// TestEcommpayFormat: the callback carries ecommpay's shape, no nulls, and
// a signature over everything else by their rule.
func TestEcommpayFormat(t *testing.T) {
	t.Parallel()
	rc := newReceiver(t, func(int, *http.Request) (int, string) { return http.StatusOK, "OK" })
	env := apptest.New(t, apptest.WithNotifyConfig(testConfig()), apptest.WithNotifier())
	sendTo(t, env, notify.TypePay, rc.URL, notify.FormatEcommpay)
	sendTo(t, env, notify.TypeFail, rc.URL, notify.FormatEcommpay)
	paid := chargeCard(t, env, panPlain, 100050, false)
	failed := chargeCard(t, env, panDeclined, 700, false)
	waitFor(t, "2 callbacks", 10*time.Second, func() bool { return len(rc.requests()) == 2 })
	for _, r := range rc.requests() {
		if bytes.Contains(r.Body, []byte("null")) {
			t.Errorf("callback holds null: %s", r.Body)
		}
		var m map[string]any
		d := json.NewDecoder(bytes.NewReader(r.Body))
		d.UseNumber()
		if err := d.Decode(&m); err != nil {
			t.Fatal(err)
		}
		if got, want := m["signature"], notify.EcommpaySignature(env.Secret, m); got != want {
			t.Errorf("signature %v, want %s over %s", got, want, notify.EcommpayJoined(m))
		}
		op := m["operation"].(map[string]any)
		payment := m["payment"].(map[string]any)
		switch r.Header.Get(notify.EventTypeHeader) {
		case "Pay":
			if op["id"].(json.Number).String() != itoa64(paid.TransactionId) || op["type"] != "sale" || op["status"] != "success" ||
				payment["status"] != "success" || payment["id"] != "order-7" ||
				op["sum_initial"].(map[string]any)["amount"].(json.Number).String() != "100050" {
				t.Errorf("Pay callback: %s", r.Body)
			}
			if acc := m["account"].(map[string]any); acc["number"] != "400000******3055" || acc["expiry_month"] != "12" {
				t.Errorf("Pay callback account: %v", acc)
			}
		case "Fail":
			if op["id"].(json.Number).String() != itoa64(failed.TransactionId) || op["status"] != "decline" || op["code"] != "5051" ||
				payment["status"] != "decline" {
				t.Errorf("Fail callback: %s", r.Body)
			}
		default:
			t.Errorf("unexpected %s callback", r.Header.Get(notify.EventTypeHeader))
		}
	}
}

// TestCheck: the Check answer decides whether the acquirer is asked.
func TestCheck(t *testing.T) {
	t.Parallel()
	cases := []struct {
		name     string
		format   string
		answer   func(int, *http.Request) (int, string)
		url      string // instead of the receiver's
		accept   bool
		reason   string
		maxDelay time.Duration
	}{
		{name: "code 0 accepts", format: notify.FormatCloudPayments, answer: func(int, *http.Request) (int, string) { return 200, `{"code":0}` }, accept: true},
		{name: "code 12 declines", format: notify.FormatCloudPayments, answer: func(int, *http.Request) (int, string) { return 200, `{"code":12}` },
			reason: "Check refused: code 12 (wrong amount)"},
		{name: "code 13 in the altyn format", format: notify.FormatAltyn, answer: func(int, *http.Request) (int, string) { return 200, `{"code":"13"}` },
			reason: "Check refused: code 13 (payment cannot be accepted)"},
		{name: "HTTP 500 declines", format: notify.FormatCloudPaymentsJSON, answer: func(int, *http.Request) (int, string) { return 500, `{"code":0}` },
			reason: "Check failed: HTTP 500"},
		{name: "an answer without a code declines", format: notify.FormatAltyn, answer: func(int, *http.Request) (int, string) { return 200, `OK` },
			reason: "Check failed: answer without a code"},
		{name: "a hanging endpoint declines after the timeout", format: notify.FormatCloudPayments,
			answer: func(_ int, r *http.Request) (int, string) { <-r.Context().Done(); return 200, `{"code":0}` },
			reason: "Check failed: no answer within 300ms", maxDelay: 2 * time.Second},
		{name: "an unreachable endpoint declines", format: notify.FormatAltyn, url: "http://127.0.0.1:1/check",
			reason: "Check failed: unreachable"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			t.Parallel()
			cfg := testConfig()
			cfg.CheckTimeout = 300 * time.Millisecond
			rc := newReceiver(t, c.answer)
			fails := newReceiver(t, nil)
			env := apptest.New(t, apptest.WithNotifyConfig(cfg), apptest.WithNotifier())
			target := rc.URL + "/check"
			if c.url != "" {
				target = c.url
			}
			sendTo(t, env, notify.TypeCheck, target, c.format)
			sendTo(t, env, notify.TypeFail, fails.URL, notify.FormatAltyn)
			start := time.Now()
			p := chargeCard(t, env, panPlain, 150000, false)
			took := time.Since(start)
			if c.maxDelay > 0 && took > c.maxDelay {
				t.Errorf("the payment took %s, want under %s", took, c.maxDelay)
			}
			_, charged := env.App.Sandbox.Ledger(p.Id)
			if c.accept {
				if p.Status != altynv1.PaymentStatus_PAYMENT_STATUS_COMPLETED || !charged {
					t.Errorf("accepted: status %v, charged %v; want COMPLETED and charged", p.Status, charged)
				}
			} else {
				if p.Status != altynv1.PaymentStatus_PAYMENT_STATUS_DECLINED || p.ReasonCode != notify.CheckReasonCode || p.Reason != c.reason {
					t.Errorf("declined: status %v, reason %d %q; want DECLINED, %d %q", p.Status, p.ReasonCode, p.Reason, notify.CheckReasonCode, c.reason)
				}
				if charged {
					t.Errorf("the acquirer was asked for a payment the Check refused")
				}
				if want := acquirer.CardHolderMessage(acquirer.ReasonInvalidMerchant, "en"); p.CardholderMessage != want {
					t.Errorf("cardholder message %q, want %q", p.CardholderMessage, want)
				}
				waitFor(t, "the Fail notification", 5*time.Second, func() bool { return len(fails.requests()) == 1 })
				if body := string(fails.requests()[0].Body); !strings.Contains(body, c.reason) {
					t.Errorf("Fail notification does not carry the reason %q: %s", c.reason, body)
				}
			}
			if c.url != "" {
				return
			}
			reqs := rc.requests()
			if len(reqs) != 1 {
				t.Fatalf("Check endpoint got %d requests, want 1", len(reqs))
			}
			r := reqs[0]
			if r.Header.Get(notify.EventTypeHeader) != "Check" {
				t.Errorf("Check sent as %q", r.Header.Get(notify.EventTypeHeader))
			}
			switch c.format {
			case notify.FormatAltyn:
				if err := notify.Verify(env.Secret, r.Header.Get(notify.SignatureHeader), r.Body, time.Minute, env.Clock.Now()); err != nil {
					t.Errorf("Check signature: %v", err)
				}
			default:
				f := verifyCloudPayments(t, env.Secret, r)
				if f["TransactionId"] != itoa64(p.TransactionId) || f["Amount"] != "1500.00" || f["Status"] != "Completed" || f["CardLastFour"] != "3055" {
					t.Errorf("Check fields: %v", f)
				}
			}
		})
	}
}

// TestEmail: with an e-mail address set, each accepted payment is mailed to
// the merchant through the SMTP relay; a refusing relay is retried.
func TestEmail(t *testing.T) {
	t.Parallel()
	relay := newSMTPServer(t, 1)
	cfg := testConfig()
	cfg.SMTP = notify.SMTPConfig{Addr: relay.Addr(), From: "altyn@shop.example"}
	env := apptest.New(t, apptest.WithNotifyConfig(cfg), apptest.WithNotifier())
	configure(t, env, notify.TypePay, &altynv1.NotificationSettings{Enabled: true, Email: "owner@shop.example"})
	p := chargeCard(t, env, panPlain, 150000, false)
	id := deliveryOf(t, env, p.Id, notify.TypePay)

	var logs []notify.DeliveryLog
	waitFor(t, "the refused attempt", 10*time.Second, func() bool {
		logs, _ = env.App.Notifier.Delivery(context.Background(), env.Merchant.ID, id)
		return len(logs) == 1 && logs[0].Delivery.Attempts == 1
	})
	if d := logs[0].Delivery; d.Channel != store.ChannelEmail || !strings.Contains(d.LastError, "451") {
		t.Errorf("first attempt: channel %s, error %q; want email refused with 451", d.Channel, d.LastError)
	}
	env.Clock.Advance(time.Minute)
	waitFor(t, "the e-mail", 10*time.Second, func() bool { return len(relay.messages()) == 1 })
	m := relay.messages()[0]
	if m.From != "altyn@shop.example" || len(m.To) != 1 || m.To[0] != "owner@shop.example" {
		t.Errorf("envelope: from %q to %v", m.From, m.To)
	}
	for _, want := range []string{
		"Subject: [TEST] Payment accepted: 1500.00 RUB, order order-7",
		"Message-ID: <" + id + "@altyn>",
		"400000******3055",
		p.Id,
	} {
		if !strings.Contains(m.Data, want) {
			t.Errorf("e-mail lacks %q:\n%s", want, m.Data)
		}
	}
	if strings.Contains(m.Data, panPlain) {
		t.Errorf("e-mail carries the card number")
	}
	waitFor(t, "delivered", 5*time.Second, func() bool {
		logs, _ = env.App.Notifier.Delivery(context.Background(), env.Merchant.ID, id)
		return logs[0].Delivery.Status == store.DeliveryDelivered
	})
}

// TestSlowReceiverDoesNotDelayOthers: one merchant's endpoint hangs; another
// merchant's notifications still go out at once.
func TestSlowReceiverDoesNotDelayOthers(t *testing.T) {
	t.Parallel()
	release := make(chan struct{})
	var inFlight, most atomic.Int32
	slow := newReceiver(t, func(_ int, r *http.Request) (int, string) {
		k := inFlight.Add(1)
		defer inFlight.Add(-1)
		for {
			m := most.Load()
			if k <= m || most.CompareAndSwap(m, k) {
				break
			}
		}
		select {
		case <-release:
		case <-r.Context().Done():
		}
		return http.StatusOK, `{"code":0}`
	})
	defer close(release)
	fast := newReceiver(t, nil)
	cfg := testConfig()
	cfg.Timeout, cfg.PerTarget, cfg.Concurrency = 20*time.Second, 2, 8
	env := apptest.New(t, apptest.WithNotifyConfig(cfg), apptest.WithNotifier())
	sendTo(t, env, notify.TypePay, slow.URL, notify.FormatAltyn)

	ctx := context.Background()
	other, err := env.App.Merchants.Create(ctx, merchants.CreateOptions{Name: "Other shop", TestMode: true})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := env.App.Notifier.UpdateSettings(ctx, other.Merchant.ID, notify.Settings{Type: notify.TypePay, Enabled: true, URL: fast.URL}); err != nil {
		t.Fatal(err)
	}
	var slowMsgs, fastMsgs []store.OutboxMessage
	for i := range 20 {
		slowMsgs = append(slowMsgs, payEvent(env.Merchant.ID, fmt.Sprintf("evt_slow%02d", i), env.Clock.Now()))
	}
	for i := range 5 {
		fastMsgs = append(fastMsgs, payEvent(other.Merchant.ID, fmt.Sprintf("evt_fast%02d", i), env.Clock.Now()))
	}
	if err := env.App.Store.InsertOutbox(ctx, slowMsgs...); err != nil {
		t.Fatal(err)
	}
	waitFor(t, "the slow receiver to hang", 5*time.Second, func() bool { return inFlight.Load() == 2 })
	start := time.Now()
	if err := env.App.Store.InsertOutbox(ctx, fastMsgs...); err != nil {
		t.Fatal(err)
	}
	waitFor(t, "the other merchant's notifications", 3*time.Second, func() bool { return len(fast.requests()) == 5 })
	t.Logf("5 notifications to a fast receiver took %s while 20 waited for a hanging one", time.Since(start))
	if got := most.Load(); got != int32(cfg.PerTarget) {
		t.Errorf("the hanging receiver had at most %d requests in flight, want PerTarget = %d", got, cfg.PerTarget)
	}
}

// TestRecurrent: a Recurrent outbox row (as the subscriptions engine
// writes it) renders in every format; Resend sends it again with the
// settings as they are now.
func TestRecurrent(t *testing.T) {
	t.Parallel()
	rc := newReceiver(t, nil)
	env := apptest.New(t, apptest.WithNotifyConfig(testConfig()), apptest.WithNotifier())
	sendTo(t, env, notify.TypeRecurrent, rc.URL, notify.FormatAltyn)
	ctx := context.Background()
	at := env.Clock.Now()
	payload := `{"id":"evt_rec1","type":"Recurrent","created_at":"` + at.Format(time.RFC3339Nano) + `","subscription":{
		"ID":"sc_1","MerchantID":"` + env.Merchant.ID + `","AccountID":"user-1","Description":"Monthly box","Email":"payer@example.com",
		"Amount":100000,"Currency":"RUB","RequireConfirmation":false,"StartDate":"2026-01-01T00:00:00Z","Interval":"Month","Period":1,
		"MaxPeriods":6,"Status":"Active","SuccessfulTransactionsNumber":2,"FailedTransactionsNumber":0,
		"NextTransactionDate":"2026-03-01T00:00:00Z"}}`
	if err := env.App.Store.InsertOutbox(ctx, store.OutboxMessage{ID: "evt_rec1", MerchantID: env.Merchant.ID, Type: "Recurrent",
		SubjectID: "sc_1", Payload: []byte(payload), CreatedAt: at}); err != nil {
		t.Fatal(err)
	}
	waitFor(t, "the altyn Recurrent", 5*time.Second, func() bool { return len(rc.requests()) == 1 })
	var ev struct {
		Type         string `json:"type"`
		Subscription struct {
			ID        string `json:"id"`
			AccountID string `json:"account_id"`
			Amount    int64  `json:"amount"`
			Next      string `json:"next_transaction_date"`
		} `json:"subscription"`
	}
	if err := json.Unmarshal(rc.requests()[0].Body, &ev); err != nil || ev.Type != "Recurrent" || ev.Subscription.ID != "sc_1" ||
		ev.Subscription.AccountID != "user-1" || ev.Subscription.Amount != 100000 || ev.Subscription.Next != "2026-03-01T00:00:00Z" {
		t.Errorf("altyn Recurrent (%v): %s", err, rc.requests()[0].Body)
	}

	resend := func(format string) received {
		t.Helper()
		sendTo(t, env, notify.TypeRecurrent, rc.URL, format)
		before := len(rc.requests())
		recorded := func(n int) func() bool {
			return func() bool {
				logs, err := env.App.Notifier.Delivery(ctx, env.Merchant.ID, "evt_rec1")
				return err == nil && len(logs) == 1 && len(logs[0].Attempts) == n
			}
		}
		// The receiver has a body before the worker records its attempt:
		// resend only once the previous one is in the delivery log.
		waitFor(t, "the previous attempt in the delivery log", 5*time.Second, recorded(before))
		res, err := env.Notifications.ResendNotification(ctx, connect.NewRequest(&altynv1.ResendNotificationRequest{NotificationId: "evt_rec1"}))
		if err != nil {
			t.Fatal(err)
		}
		if d := res.Msg.Deliveries; len(d) != 1 || d[0].Status != altynv1.DeliveryStatus_DELIVERY_STATUS_PENDING {
			t.Errorf("resend answered %v", d)
		}
		waitFor(t, "the resent Recurrent in "+format, 5*time.Second, func() bool { return len(rc.requests()) == before+1 })
		waitFor(t, "the resent Recurrent's attempt in the delivery log", 5*time.Second, recorded(before+1))
		return rc.requests()[before]
	}
	f := verifyCloudPayments(t, env.Secret, resend(notify.FormatCloudPayments))
	for k, v := range map[string]string{"Id": "sc_1", "AccountId": "user-1", "Amount": "1000.00", "Currency": "RUB", "Status": "Active",
		"Interval": "Month", "Period": "1", "MaxPeriods": "6", "RequireConfirmation": "0", "SuccessfulTransactionsNumber": "2",
		"StartDate": "2026-01-01 00:00:00", "NextTransactionDate": "2026-03-01 00:00:00"} {
		if f[k] != v {
			t.Errorf("CloudPayments Recurrent: %s = %q, want %q", k, f[k], v)
		}
	}
	r := resend(notify.FormatEcommpay)
	var m map[string]any
	d := json.NewDecoder(bytes.NewReader(r.Body))
	d.UseNumber()
	if err := d.Decode(&m); err != nil {
		t.Fatal(err)
	}
	if m["signature"] != notify.EcommpaySignature(env.Secret, m) || m["recurring"].(map[string]any)["id"] != "sc_1" {
		t.Errorf("ecommpay Recurrent: %s", r.Body)
	}
}

// TestNoCardDataInNotifications: no format carries a full card number or
// a CVV, and neither does the server log.
func TestNoCardDataInNotifications(t *testing.T) {
	t.Parallel()
	rc := newReceiver(t, nil)
	env := apptest.New(t, apptest.WithNotifyConfig(testConfig()), apptest.WithNotifier())
	formats := []string{notify.FormatAltyn, notify.FormatCloudPayments, notify.FormatCloudPaymentsJSON, notify.FormatEcommpay}
	for i, typ := range []string{notify.TypePay, notify.TypeFail, notify.TypeRefund, notify.TypeConfirm} {
		sendTo(t, env, typ, rc.URL, formats[i])
	}
	ctx := context.Background()
	p := chargeCard(t, env, panPlain, 5000, true)
	env.Connect.Capture(ctx, connect.NewRequest(&altynv1.CaptureRequest{PaymentId: p.Id}))
	env.Connect.Refund(ctx, connect.NewRequest(&altynv1.RefundRequest{PaymentId: p.Id, Amount: proto.Int64(100)}))
	chargeCard(t, env, panDeclined, 5000, false)
	waitFor(t, "4 notifications", 10*time.Second, func() bool { return len(rc.requests()) == 4 })
	for _, r := range rc.requests() {
		text := strings.ToLower(string(r.Body) + r.Query)
		for _, bad := range []string{panPlain, panDeclined, "cvv", "cvc"} {
			if strings.Contains(text, bad) {
				t.Errorf("%s notification contains %q: %s", r.Header.Get(notify.EventTypeHeader), bad, text)
			}
		}
	}
	if logs := env.Logs.String(); strings.Contains(logs, panPlain) || strings.Contains(logs, panDeclined) {
		t.Errorf("the server log carries a card number")
	}
}
