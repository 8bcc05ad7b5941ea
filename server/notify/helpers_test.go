package notify_test

import (
	"bufio"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"connectrpc.com/connect"

	altynv1 "github.com/altynpay/altyn/gen/altyn/v1"
	"github.com/altynpay/altyn/server/apptest"
	"github.com/altynpay/altyn/server/notify"
	"github.com/altynpay/altyn/server/payments"
	"github.com/altynpay/altyn/store"
	"github.com/altynpay/altyn/store/storetest"
)

func TestMain(m *testing.M) { storetest.Main(m) }

// testConfig is the notifier's configuration in tests: CloudPayments'
// retry schedule (tests move the clock), short timeouts, fast polling.
func testConfig() notify.Config {
	c := notify.DefaultConfig
	c.PollInterval = 20 * time.Millisecond
	c.Timeout = 3 * time.Second
	c.CheckTimeout = 2 * time.Second
	c.ShutdownGrace = time.Second
	return c
}

// received is one request a receiver got.
type received struct {
	Method string
	Header http.Header
	Query  string
	Body   []byte
	At     time.Time
}

// receiver is a merchant's endpoint: it records every request and answers
// as answer says (by default HTTP 200 {"code":0}).
type receiver struct {
	*httptest.Server
	mu     sync.Mutex
	got    []received
	answer func(n int, r *http.Request) (status int, body string)
}

func newReceiver(t *testing.T, answer func(n int, r *http.Request) (int, string)) *receiver {
	t.Helper()
	rc := &receiver{answer: answer}
	rc.Server = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		body, _ := io.ReadAll(r.Body)
		rc.mu.Lock()
		n := len(rc.got)
		rc.got = append(rc.got, received{Method: r.Method, Header: r.Header.Clone(), Query: r.URL.RawQuery, Body: body, At: time.Now()})
		rc.mu.Unlock()
		status, answer := http.StatusOK, `{"code":0}`
		if rc.answer != nil {
			status, answer = rc.answer(n, r)
		}
		w.Header().Set("Content-Type", "application/json")
		w.WriteHeader(status)
		io.WriteString(w, answer)
	}))
	t.Cleanup(rc.Close)
	return rc
}

func (rc *receiver) requests() []received {
	rc.mu.Lock()
	defer rc.mu.Unlock()
	return append([]received(nil), rc.got...)
}

// waitFor polls cond until it holds or the time runs out.
func waitFor(t *testing.T, what string, timeout time.Duration, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(timeout)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out after %s waiting for %s", timeout, what)
		}
		time.Sleep(10 * time.Millisecond)
	}
}

var formatProtos = map[string]altynv1.NotificationFormat{
	notify.FormatAltyn:             altynv1.NotificationFormat_NOTIFICATION_FORMAT_ALTYN,
	notify.FormatCloudPayments:     altynv1.NotificationFormat_NOTIFICATION_FORMAT_CLOUDPAYMENTS,
	notify.FormatCloudPaymentsJSON: altynv1.NotificationFormat_NOTIFICATION_FORMAT_CLOUDPAYMENTS_JSON,
	notify.FormatEcommpay:          altynv1.NotificationFormat_NOTIFICATION_FORMAT_ECOMMPAY,
}

var typeProtos = map[string]altynv1.NotificationType{
	notify.TypeCheck: altynv1.NotificationType_NOTIFICATION_TYPE_CHECK, notify.TypePay: altynv1.NotificationType_NOTIFICATION_TYPE_PAY,
	notify.TypeFail: altynv1.NotificationType_NOTIFICATION_TYPE_FAIL, notify.TypeConfirm: altynv1.NotificationType_NOTIFICATION_TYPE_CONFIRM,
	notify.TypeRefund: altynv1.NotificationType_NOTIFICATION_TYPE_REFUND, notify.TypeCancel: altynv1.NotificationType_NOTIFICATION_TYPE_CANCEL,
	notify.TypeRecurrent: altynv1.NotificationType_NOTIFICATION_TYPE_RECURRENT,
}

// configure sets one notification type's settings through the API.
func configure(t *testing.T, env *apptest.Env, typ string, s *altynv1.NotificationSettings) {
	t.Helper()
	s.Type = typeProtos[typ]
	if _, err := env.Notifications.UpdateNotificationSettings(context.Background(),
		connect.NewRequest(&altynv1.UpdateNotificationSettingsRequest{Settings: s})); err != nil {
		t.Fatalf("configure %s: %v", typ, err)
	}
}

// sendTo points a type at url in format.
func sendTo(t *testing.T, env *apptest.Env, typ, url, format string) {
	t.Helper()
	configure(t, env, typ, &altynv1.NotificationSettings{Enabled: true, Url: url, Format: formatProtos[format]})
}

// chargeCard charges amount RUB to pan through the API.
func chargeCard(t *testing.T, env *apptest.Env, pan string, amount int64, twoStage bool) *altynv1.Payment {
	t.Helper()
	ctx := context.Background()
	cryptogram := env.Seal(t, pan)
	var p *altynv1.Payment
	if twoStage {
		res, err := env.Connect.Authorize(ctx, connect.NewRequest(&altynv1.AuthorizeRequest{
			Amount: &altynv1.Money{Amount: amount, Currency: "RUB"}, Cryptogram: cryptogram, InvoiceId: "order-7",
			AccountId: "user-7", Email: "payer@example.com", Description: "Order 7", IpAddress: "203.0.113.7"}))
		if err != nil {
			t.Fatalf("authorize %s: %v", pan[len(pan)-4:], err)
		}
		p = res.Msg.Payment
	} else {
		res, err := env.Connect.Charge(ctx, connect.NewRequest(&altynv1.ChargeRequest{
			Amount: &altynv1.Money{Amount: amount, Currency: "RUB"}, Cryptogram: cryptogram, InvoiceId: "order-7",
			AccountId: "user-7", Email: "payer@example.com", Description: "Order 7", IpAddress: "203.0.113.7"}))
		if err != nil {
			t.Fatalf("charge %s: %v", pan[len(pan)-4:], err)
		}
		p = res.Msg.Payment
	}
	return p
}

// deliveryOf waits for the notification of type typ about payment and
// returns its id.
func deliveryOf(t *testing.T, env *apptest.Env, paymentID, typ string) string {
	t.Helper()
	id := ""
	waitFor(t, typ+" outbox row of "+paymentID, 5*time.Second, func() bool {
		msgs, err := env.App.Store.Outbox(context.Background(), env.Merchant.ID, 1000)
		if err != nil {
			t.Fatal(err)
		}
		for _, m := range msgs {
			if m.PaymentID == paymentID && m.Type == typ {
				id = m.ID
			}
		}
		return id != ""
	})
	return id
}

// deliveryLog reads a notification's HTTP delivery through the API.
func deliveryLog(t *testing.T, env *apptest.Env, id string) *altynv1.DeliveryLog {
	t.Helper()
	res, err := env.Notifications.GetDelivery(context.Background(), connect.NewRequest(&altynv1.GetDeliveryRequest{NotificationId: id}))
	if err != nil {
		t.Fatalf("GetDelivery %s: %v", id, err)
	}
	for _, d := range res.Msg.Deliveries {
		if d.Delivery.Channel == altynv1.DeliveryChannel_DELIVERY_CHANNEL_HTTP {
			return d
		}
	}
	return nil
}

// waitAttempts waits until a notification's HTTP delivery has n attempts.
func waitAttempts(t *testing.T, env *apptest.Env, id string, n int) *altynv1.DeliveryLog {
	t.Helper()
	var log *altynv1.DeliveryLog
	waitFor(t, fmt.Sprintf("attempt %d of %s", n, id), 10*time.Second, func() bool {
		log = deliveryLog(t, env, id)
		return log != nil && int(log.Delivery.Attempts) >= n
	})
	return log
}

// payEvent makes an outbox row of a Pay event about a hand-made payment of
// merchantID, as the engine would write it.
func payEvent(merchantID, id string, at time.Time) store.OutboxMessage {
	p := &store.Payment{
		ID: "pay_" + id, MerchantID: merchantID, TransactionID: 4242, Status: store.StatusCompleted,
		Amount: 150000, Currency: "RUB", AuthorizedAmount: 150000, CapturedAmount: 150000,
		InvoiceID: "order-" + id, CardFirstSix: "400000", CardLastFour: "3055", CardBrand: "Visa",
		CardExpMonth: 12, CardExpYear: 2030, AuthCode: "A1B2C3", TestMode: true, CreatedAt: at, UpdatedAt: at,
	}
	payload, _ := json.Marshal(payments.Event{ID: id, Type: payments.EventPay, Payment: p, CreatedAt: at})
	return store.OutboxMessage{ID: id, MerchantID: merchantID, Type: payments.EventPay, PaymentID: p.ID, Payload: payload, CreatedAt: at}
}

// smtpServer is a tiny SMTP server on loopback that keeps what it is sent.
// Its first failFirst transactions are refused at RCPT with a temporary error.
type smtpServer struct {
	ln        net.Listener
	mu        sync.Mutex
	mails     []mailMessage
	failFirst int
	tries     int
}

type mailMessage struct {
	From string
	To   []string
	Data string
}

func newSMTPServer(t *testing.T, failFirst int) *smtpServer {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	s := &smtpServer{ln: ln, failFirst: failFirst}
	t.Cleanup(func() { ln.Close() })
	go func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			go s.serve(c)
		}
	}()
	return s
}

func (s *smtpServer) Addr() string { return s.ln.Addr().String() }

func (s *smtpServer) messages() []mailMessage {
	s.mu.Lock()
	defer s.mu.Unlock()
	return append([]mailMessage(nil), s.mails...)
}

func (s *smtpServer) serve(c net.Conn) {
	defer c.Close()
	c.SetDeadline(time.Now().Add(30 * time.Second))
	r := bufio.NewReader(c)
	say := func(line string) { io.WriteString(c, line+"\r\n") }
	say("220 test.local ESMTP")
	var m mailMessage
	for {
		line, err := r.ReadString('\n')
		if err != nil {
			return
		}
		cmd := strings.ToUpper(strings.TrimSpace(line))
		switch {
		case strings.HasPrefix(cmd, "EHLO"), strings.HasPrefix(cmd, "HELO"):
			say("250-test.local")
			say("250 8BITMIME")
		case strings.HasPrefix(cmd, "MAIL FROM:"):
			from, _, _ := strings.Cut(strings.TrimSpace(line)[len("MAIL FROM:"):], " ") // drop BODY=8BITMIME
			m = mailMessage{From: strings.Trim(from, "<>")}
			say("250 OK")
		case strings.HasPrefix(cmd, "RCPT TO:"):
			s.mu.Lock()
			s.tries++
			refuse := s.tries <= s.failFirst
			s.mu.Unlock()
			if refuse {
				say("451 4.3.0 try again later")
				continue
			}
			m.To = append(m.To, strings.Trim(strings.TrimSpace(line)[len("RCPT TO:"):], "<>"))
			say("250 OK")
		case cmd == "DATA":
			say("354 end with <CRLF>.<CRLF>")
			var data strings.Builder
			for {
				l, err := r.ReadString('\n')
				if err != nil {
					return
				}
				if l == ".\r\n" {
					break
				}
				data.WriteString(strings.TrimPrefix(l, "."))
			}
			m.Data = data.String()
			s.mu.Lock()
			s.mails = append(s.mails, m)
			s.mu.Unlock()
			say("250 OK queued")
		case cmd == "RSET", cmd == "NOOP":
			say("250 OK")
		case cmd == "QUIT":
			say("221 bye")
			return
		default:
			say("502 command not implemented")
		}
	}
}
