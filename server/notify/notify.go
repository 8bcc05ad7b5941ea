// Package notify sends merchants their notifications (webhooks), as
// CloudPayments does: Check before a payment goes to the acquirer (the
// merchant may refuse it), and Pay, Fail, Confirm, Refund, Cancel and
// Recurrent after the change that causes them.
//
// Check is synchronous and bounded by a timeout. The others come from the
// transactional outbox the payment engine writes in the same transaction as
// each change: a worker, which runs on every replica, fans new outbox rows
// out into deliveries (one per channel: HTTP and e-mail), leases due
// deliveries with FOR UPDATE SKIP LOCKED, sends them concurrently and
// records every attempt; failures are retried on CloudPayments' schedule.
// Delivery is at least once: each notification carries a unique id
// (Altyn-Event-Id) for the receiver to deduplicate by.
//
// Three wire formats are spoken: altyn's own JSON signed with a timestamp
// (Altyn-Signature, checked by Verify), CloudPayments' (form or JSON,
// Content-HMAC and X-Content-HMAC) and ecommpay's callback (a signature
// field over the flattened body). Notifications carry only the card's mask,
// never a full card number.
package notify

import (
	"context"
	"crypto/rand"
	"encoding/base32"
	"errors"
	"log/slog"
	"net"
	"net/http"
	"net/mail"
	"net/url"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/altynpay/altyn/server/merchants"
	"github.com/altynpay/altyn/server/payments"
	"github.com/altynpay/altyn/store"
)

// The notification types (CloudPayments' names).
const (
	TypeCheck     = "Check"
	TypePay       = payments.EventPay
	TypeFail      = payments.EventFail
	TypeConfirm   = payments.EventConfirm
	TypeRefund    = payments.EventRefund
	TypeCancel    = payments.EventCancel
	TypeRecurrent = payments.EventRecurrent
)

// Types lists every notification type in the order the settings show them.
var Types = []string{TypeCheck, TypePay, TypeFail, TypeConfirm, TypeRefund, TypeCancel, TypeRecurrent}

// The wire formats.
const (
	// FormatAltyn is altyn's own JSON, signed by the Altyn-Signature header.
	FormatAltyn = "altyn"
	// FormatCloudPayments is CloudPayments' form-urlencoded body (or query
	// string with GET) with their field names, signed by Content-HMAC and
	// X-Content-HMAC.
	FormatCloudPayments = "cloudpayments"
	// FormatCloudPaymentsJSON is the same fields as a JSON body.
	FormatCloudPaymentsJSON = "cloudpayments-json"
	// FormatEcommpay is ecommpay's callback JSON with its signature field.
	FormatEcommpay = "ecommpay"
)

// Formats lists the wire formats.
var Formats = []string{FormatAltyn, FormatCloudPayments, FormatCloudPaymentsJSON, FormatEcommpay}

// Config holds the notifier's limits and its SMTP relay.
type Config struct {
	// CheckTimeout bounds the Check call: a slower merchant declines the payment.
	CheckTimeout time.Duration
	// Timeout bounds one delivery attempt (CloudPayments waits 30 s).
	Timeout time.Duration
	// Backoff is the pause after each failed attempt; the last step repeats.
	// CloudPayments: 1, 2, 5, 10, 30 minutes.
	Backoff []time.Duration
	// MaxAttempts is how many times a delivery is tried before it is given up.
	MaxAttempts int
	// Concurrency bounds the deliveries in flight on one replica.
	Concurrency int
	// PerTarget bounds the deliveries in flight to one URL or address, so
	// a slow receiver cannot take every slot.
	PerTarget int
	// PollInterval is how often an idle worker looks for new work.
	PollInterval time.Duration
	// Lease is how long a worker holds a delivery it took; if it dies, the
	// delivery comes due again after this. It must exceed Timeout.
	Lease time.Duration
	// FanOutLag is how far before the newest fanned-out outbox row the
	// fan-out looks for rows committed late (long transactions, clock skew
	// between replicas).
	FanOutLag time.Duration
	// CatchUpEvery is how often the fan-out scans the whole outbox for rows
	// older than that (it also does at start).
	CatchUpEvery time.Duration
	// ShutdownGrace is how long deliveries in flight may finish after the
	// worker is told to stop; unfinished ones are retried later.
	ShutdownGrace time.Duration
	// SMTP is the relay e-mail notifications go through; without an
	// address, e-mail notifications cannot be configured.
	SMTP SMTPConfig
}

// SMTPConfig names an SMTP relay.
type SMTPConfig struct {
	Addr     string // host:port
	From     string // the sender address
	Username string // optional; PLAIN auth (the relay must offer STARTTLS unless on loopback)
	Password string
}

// DefaultConfig is CloudPayments' schedule with a 5-second Check.
var DefaultConfig = Config{
	CheckTimeout:  5 * time.Second,
	Timeout:       30 * time.Second,
	Backoff:       []time.Duration{time.Minute, 2 * time.Minute, 5 * time.Minute, 10 * time.Minute, 30 * time.Minute},
	MaxAttempts:   100,
	Concurrency:   64,
	PerTarget:     16,
	PollInterval:  250 * time.Millisecond,
	Lease:         2 * time.Minute,
	FanOutLag:     time.Hour,
	CatchUpEvery:  time.Hour,
	ShutdownGrace: 5 * time.Second,
}

// withDefaults fills the zero fields of c from DefaultConfig.
func (c Config) withDefaults() Config {
	d := DefaultConfig
	set := func(v *time.Duration, def time.Duration) {
		if *v <= 0 {
			*v = def
		}
	}
	set(&c.CheckTimeout, d.CheckTimeout)
	set(&c.Timeout, d.Timeout)
	set(&c.PollInterval, d.PollInterval)
	set(&c.Lease, d.Lease)
	set(&c.FanOutLag, d.FanOutLag)
	set(&c.CatchUpEvery, d.CatchUpEvery)
	set(&c.ShutdownGrace, d.ShutdownGrace)
	if len(c.Backoff) == 0 {
		c.Backoff = d.Backoff
	}
	if c.SMTP.From == "" {
		c.SMTP.From = "altyn@localhost"
	}
	if c.MaxAttempts <= 0 {
		c.MaxAttempts = d.MaxAttempts
	}
	if c.Concurrency <= 0 {
		c.Concurrency = d.Concurrency
	}
	if c.PerTarget <= 0 {
		c.PerTarget = d.PerTarget
	}
	if c.Lease <= c.Timeout {
		c.Lease = c.Timeout + time.Minute
	}
	return c
}

// Notifier sends notifications. One runs on every replica.
type Notifier struct {
	store     *store.Store
	merchants *merchants.Service
	cfg       Config
	now       func() time.Time
	log       *slog.Logger
	client    *http.Client

	mu        sync.Mutex
	inflight  int
	perTarget map[string]int // deliveries in flight by target
	slow      map[string]bool
	records   chan<- store.AttemptRecord
	wake      chan struct{} // new outbox rows
	freed     chan struct{} // room for more deliveries
	wg        sync.WaitGroup

	checks    map[string]checkSetting // by merchant id: its Check settings, read at most checkTTL ago
	checksGen uint64                  // counts changes of Check settings made through this replica
}

// checkTTL bounds how long a replica keeps a merchant's Check settings in
// memory, as merchants.Service keeps merchants: a change made through
// another replica takes effect here within it (through this one, at once).
// Without it every payment would cost one more database read.
const checkTTL = 30 * time.Second

type checkSetting struct {
	ns     *store.NotificationSettings // nil: none
	loaded time.Time
}

var _ payments.Checker = (*Notifier)(nil)

// New makes a notifier. now is the clock that schedules retries (tests move it).
func New(st *store.Store, ms *merchants.Service, cfg Config, now func() time.Time, log *slog.Logger) *Notifier {
	if now == nil {
		now = time.Now
	}
	cfg = cfg.withDefaults()
	transport := &http.Transport{
		Proxy:                 http.ProxyFromEnvironment,
		DialContext:           (&net.Dialer{Timeout: 10 * time.Second, KeepAlive: 30 * time.Second}).DialContext,
		MaxIdleConns:          256,
		MaxIdleConnsPerHost:   max(cfg.PerTarget, 4),
		IdleConnTimeout:       90 * time.Second,
		TLSHandshakeTimeout:   10 * time.Second,
		ResponseHeaderTimeout: cfg.Timeout,
	}
	return &Notifier{
		store: st, merchants: ms, cfg: cfg, log: log,
		now: func() time.Time { return now().UTC() },
		client: &http.Client{
			Transport: transport,
			// A notification goes where the merchant said, not where a
			// redirect points: a 3xx is a failed attempt.
			CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse },
		},
		perTarget: map[string]int{},
		slow:      map[string]bool{},
		checks:    map[string]checkSetting{},
		wake:      make(chan struct{}, 1),
		freed:     make(chan struct{}, 1),
	}
}

// Config returns the notifier's configuration with defaults filled in.
func (n *Notifier) Config() Config { return n.cfg }

// Settings is a merchant's settings of one notification type.
type Settings struct {
	Type    string
	Enabled bool
	// URL receives the notification over HTTP; Method is POST or GET (GET
	// only with the cloudpayments format), Format one of Formats.
	URL    string
	Method string
	Format string
	// Email, if set, receives an e-mail for each notification of the type
	// (not for Check, which must answer).
	Email     string
	UpdatedAt time.Time
}

// Errors of the notifier's API. They are payments.Error values so the API
// maps them to Connect codes in its one place.
var (
	ErrNotFound = &payments.Error{Kind: payments.KindNotFound, Reason: "NOTIFICATION_NOT_FOUND",
		Message: "notification not found"}
	ErrNothingToSend = &payments.Error{Kind: payments.KindPrecondition, Reason: "NOTIFICATION_CHANNEL_OFF",
		Message: "this notification type has no enabled URL or e-mail address; update its settings first"}
	ErrBadPageToken = &payments.Error{Kind: payments.KindInvalid, Reason: payments.ErrInvalidArgument.Reason,
		Message: "page_token is not one this API returned",
		Fields:  []payments.FieldViolation{{Field: "page_token", Code: "invalid", Description: "page_token is not one this API returned"}}}
)

func invalid(field, code, msg string) *payments.Error {
	return &payments.Error{Kind: payments.KindInvalid, Reason: payments.ErrInvalidArgument.Reason, Message: "invalid request: " + msg,
		Fields: []payments.FieldViolation{{Field: field, Code: code, Description: msg}}}
}

// Settings lists a merchant's settings of every type; types never set come
// back disabled, with POST and the altyn format.
func (n *Notifier) Settings(ctx context.Context, merchantID string) ([]Settings, error) {
	stored, err := n.store.NotificationSettings(ctx, merchantID)
	if err != nil {
		return nil, err
	}
	out := make([]Settings, 0, len(Types))
	for _, typ := range Types {
		s := Settings{Type: typ, Method: http.MethodPost, Format: FormatAltyn}
		for _, ns := range stored {
			if ns.Type == typ {
				s = settingsOf(ns)
			}
		}
		out = append(out, s)
	}
	return out, nil
}

func settingsOf(ns store.NotificationSettings) Settings {
	return Settings{Type: ns.Type, Enabled: ns.Enabled, URL: ns.URL, Method: ns.Method, Format: ns.Format, Email: ns.Email, UpdatedAt: ns.UpdatedAt}
}

// UpdateSettings replaces a merchant's settings of one type. Pending
// retries of the type follow the new URL or address; turning a channel off
// cancels them.
func (n *Notifier) UpdateSettings(ctx context.Context, merchantID string, s Settings) (Settings, error) {
	if s.Method == "" {
		s.Method = http.MethodPost
	}
	if s.Format == "" {
		s.Format = FormatAltyn
	}
	s.Method = strings.ToUpper(s.Method)
	s.URL, s.Email = strings.TrimSpace(s.URL), strings.TrimSpace(s.Email)
	if err := n.validate(s); err != nil {
		return Settings{}, err
	}
	s.UpdatedAt = n.now()
	ns := store.NotificationSettings{MerchantID: merchantID, Type: s.Type, Enabled: s.Enabled, URL: s.URL,
		Method: s.Method, Format: s.Format, Email: s.Email, UpdatedAt: s.UpdatedAt}
	if err := n.store.SaveNotificationSettings(ctx, ns); err != nil {
		return Settings{}, err
	}
	if s.Type == TypeCheck {
		n.mu.Lock()
		delete(n.checks, merchantID)
		n.checksGen++
		n.mu.Unlock()
	}
	return s, nil
}

func (n *Notifier) validate(s Settings) error {
	if !slices.Contains(Types, s.Type) {
		return invalid("type", "oneof", "type must be one of "+strings.Join(Types, ", "))
	}
	if !slices.Contains(Formats, s.Format) {
		return invalid("format", "oneof", "format must be one of "+strings.Join(Formats, ", "))
	}
	if s.Method != http.MethodPost && s.Method != http.MethodGet {
		return invalid("method", "oneof", "method must be POST or GET")
	}
	if s.Method == http.MethodGet && s.Format != FormatCloudPayments {
		return invalid("method", "format", "GET sends the cloudpayments format only (its fields as the query string)")
	}
	if s.Type == TypeCheck && s.Format == FormatEcommpay {
		return invalid("format", "check", "Check needs an answer: use the altyn or a cloudpayments format")
	}
	if s.URL != "" {
		u, err := url.Parse(s.URL)
		if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" || len(s.URL) > 2048 {
			return invalid("url", "http_url", "url must be an absolute http(s) URL of at most 2048 characters")
		}
	}
	if s.Email != "" {
		if s.Type == TypeCheck {
			return invalid("email", "check", "Check cannot be sent by e-mail: it needs an answer")
		}
		a, err := mail.ParseAddress(s.Email)
		if err != nil || a.Address != s.Email || len(s.Email) > 254 {
			return invalid("email", "email", "email must be one plain e-mail address such as shop@example.com")
		}
		if n.cfg.SMTP.Addr == "" {
			return &payments.Error{Kind: payments.KindPrecondition, Reason: "SMTP_NOT_CONFIGURED",
				Message: "e-mail notifications need an SMTP relay: start altyn with ALTYN_SMTP_ADDR and ALTYN_SMTP_FROM"}
		}
	}
	if s.Enabled && s.URL == "" && s.Email == "" {
		return invalid("url", "required", "an enabled notification needs a url or an email")
	}
	return nil
}

// DeliveryFilter selects deliveries.
type DeliveryFilter = store.DeliveryFilter

// Deliveries pages through a merchant's deliveries, newest first.
func (n *Notifier) Deliveries(ctx context.Context, merchantID string, f DeliveryFilter) ([]store.Delivery, string, error) {
	if f.PageSize <= 0 || f.PageSize > 100 {
		f.PageSize = 100
	}
	list, next, err := n.store.ListDeliveries(ctx, merchantID, f)
	if errors.Is(err, store.ErrBadCursor) {
		return nil, "", ErrBadPageToken
	}
	return list, next, err
}

// DeliveryLog is a notification's deliveries with their attempts.
type DeliveryLog struct {
	Delivery store.Delivery
	Attempts []store.DeliveryAttempt
}

// Delivery reads the deliveries of one notification (by its id, "evt_…")
// and every attempt of each.
func (n *Notifier) Delivery(ctx context.Context, merchantID, id string) ([]DeliveryLog, error) {
	list, err := n.store.Deliveries(ctx, merchantID, id)
	if err != nil {
		return nil, err
	}
	if len(list) == 0 {
		switch _, err := n.store.OutboxMessage(ctx, merchantID, id); {
		case errors.Is(err, store.ErrNotFound):
			return nil, ErrNotFound
		case err != nil:
			return nil, err
		}
	}
	out := make([]DeliveryLog, 0, len(list))
	for _, d := range list {
		attempts, err := n.store.DeliveryAttempts(ctx, d.OutboxID, d.Channel)
		if err != nil {
			return nil, err
		}
		out = append(out, DeliveryLog{Delivery: d, Attempts: attempts})
	}
	return out, nil
}

// Resend sends a notification again now, over channel ("" for every
// channel its type's settings name), with a fresh budget of attempts. It
// works on delivered, failed and cancelled deliveries alike, and creates
// the deliveries of a notification that had none (settings added later).
func (n *Notifier) Resend(ctx context.Context, merchantID, id, channel string) ([]store.Delivery, error) {
	if channel != "" && channel != store.ChannelHTTP && channel != store.ChannelEmail {
		return nil, invalid("channel", "oneof", "channel must be http or email")
	}
	list, err := n.store.ResendNotification(ctx, merchantID, id, channel, n.plan(n.now()))
	switch {
	case errors.Is(err, store.ErrNotFound):
		return nil, ErrNotFound
	case errors.Is(err, store.ErrNothingToSend):
		return nil, ErrNothingToSend
	case err != nil:
		return nil, err
	}
	n.poke()
	return list, nil
}

// plan is the deliveries of an outbox message under its settings: one per
// channel the settings enable, due at now.
func (n *Notifier) plan(now time.Time) store.DeliveryPlan {
	return func(m store.OutboxMessage, ns *store.NotificationSettings) []store.Delivery {
		if ns == nil || !ns.Enabled || m.Type == TypeCheck {
			return nil
		}
		base := store.Delivery{OutboxID: m.ID, MerchantID: m.MerchantID, Type: m.Type, PaymentID: m.PaymentID,
			Status: store.DeliveryPending, MaxAttempts: n.cfg.MaxAttempts, NextAttemptAt: now, CreatedAt: m.CreatedAt, UpdatedAt: now}
		var out []store.Delivery
		if ns.URL != "" {
			d := base
			d.Channel, d.Target, d.Method, d.Format = store.ChannelHTTP, ns.URL, ns.Method, ns.Format
			out = append(out, d)
		}
		if ns.Email != "" {
			d := base
			d.Channel, d.Target = store.ChannelEmail, ns.Email
			out = append(out, d)
		}
		return out
	}
}

// newID returns a random id with a type prefix.
func newID(prefix string) string {
	b := make([]byte, 15)
	rand.Read(b)
	return prefix + "_" + strings.ToLower(base32.StdEncoding.EncodeToString(b))
}

// Poke tells this replica's worker that new outbox rows were committed, so
// it looks now instead of at its next poll. (Other replicas find them at
// their next poll: there is no cross-replica signal without LISTEN/NOTIFY.)
func (n *Notifier) Poke() { n.poke() }

// poke wakes the worker loop of this replica.
func (n *Notifier) poke() {
	select {
	case n.wake <- struct{}{}:
	default:
	}
}

// backoff is the pause after failed attempt number attempt (1, 2, …).
func (n *Notifier) backoff(attempt int) time.Duration {
	i := min(attempt-1, len(n.cfg.Backoff)-1)
	return n.cfg.Backoff[max(i, 0)]
}

func errorText(err error) string {
	s := err.Error()
	if len(s) > 500 {
		s = s[:500]
	}
	return s
}
