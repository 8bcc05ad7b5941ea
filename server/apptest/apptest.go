// Package apptest starts a whole altyn for tests: a fresh database on the
// test binary's private PostgreSQL, the real App behind a real HTTP/2 (h2c)
// server on loopback, a merchant, and Connect and gRPC clients that
// authenticate as it. Tests that use it declare
//
//	func TestMain(m *testing.M) { storetest.Main(m) }
package apptest

import (
	"bytes"
	"context"
	"crypto/tls"
	"encoding/base64"
	"io"
	"log/slog"
	"net"
	"net/http"
	"net/http/httptest"
	"sync"
	"testing"
	"time"

	"connectrpc.com/connect"

	"github.com/altynpay/altyn/cryptogram"
	"github.com/altynpay/altyn/gen/altyn/v1/altynv1connect"
	"github.com/altynpay/altyn/server/api"
	"github.com/altynpay/altyn/server/app"
	"github.com/altynpay/altyn/server/merchants"
	"github.com/altynpay/altyn/server/notify"
	"github.com/altynpay/altyn/server/payments"
	"github.com/altynpay/altyn/server/subscriptions"
	"github.com/altynpay/altyn/server/vault"
	"github.com/altynpay/altyn/store"
	"github.com/altynpay/altyn/store/storetest"
)

// Clock is a test clock that moves only when told.
type Clock struct {
	mu  sync.Mutex
	now time.Time
}

// Now returns the clock's time.
func (c *Clock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.now
}

// Advance moves the clock forward.
func (c *Clock) Advance(d time.Duration) {
	c.mu.Lock()
	c.now = c.now.Add(d)
	c.mu.Unlock()
}

// Env is one running altyn.
type Env struct {
	App      *app.App
	URL      string
	Clock    *Clock
	Merchant *store.Merchant
	Secret   string
	Key      cryptogram.PublicKey
	// Logs holds everything the server logged (to check no card data leaks).
	Logs *SyncBuffer
	// Connect and GRPC are PaymentService clients authenticated as Merchant.
	Connect altynv1connect.PaymentServiceClient
	GRPC    altynv1connect.PaymentServiceClient
	HTTP    *http.Client
	// Notifications is a NotificationService client authenticated as Merchant.
	Notifications altynv1connect.NotificationServiceClient
	// Subscriptions and TestClocks are clients authenticated as Merchant.
	Subscriptions altynv1connect.SubscriptionServiceClient
	TestClocks    altynv1connect.TestClockServiceClient
	// DatabaseURL and Master let a test start another altyn on the same
	// database (WithDatabase), as a restart or a second replica.
	DatabaseURL string
	Master      *vault.MasterKey

	closeOnce sync.Once
	close     func()
}

// Option changes how New builds the Env.
type Option func(*options)

type options struct {
	merchant    merchants.CreateOptions
	payment     payments.Config
	notify      notify.Config
	runNotifier bool
	runRunner   bool
	runner      subscriptions.RunnerConfig
	databaseURL string
	master      *vault.MasterKey
	clock       *Clock
	payLimit    api.PayLimit
}

// WithPayLimit limits the public payment attempts per client address, as
// the server does by default; without it a test's Env has no limit (every
// test's browser and client share 127.0.0.1).
func WithPayLimit(l api.PayLimit) Option { return func(opts *options) { opts.payLimit = l } }

// WithNotifyConfig sets the notifier's limits (e.g. short timeouts).
func WithNotifyConfig(c notify.Config) Option { return func(opts *options) { opts.notify = c } }

// WithNotifier runs the notification worker, as every replica does; it
// stops when the Env closes.
func WithNotifier() Option { return func(opts *options) { opts.runNotifier = true } }

// WithRunner runs the subscription runner, as every replica does; it
// stops when the Env closes.
func WithRunner() Option { return func(opts *options) { opts.runRunner = true } }

// WithRunnerConfig sizes the subscription runner (whether it runs or the
// test calls App.Runner.RunOnce).
func WithRunnerConfig(c subscriptions.RunnerConfig) Option {
	return func(opts *options) { opts.runner = c }
}

// WithDatabase starts altyn on an existing database with its master key
// (another Env's DatabaseURL and Master) instead of a fresh one: a restart,
// or a second replica.
func WithDatabase(url string, master *vault.MasterKey) Option {
	return func(opts *options) { opts.databaseURL, opts.master = url, master }
}

// WithClock shares a clock with another Env.
func WithClock(c *Clock) Option { return func(opts *options) { opts.clock = c } }

// WithMerchant sets the test merchant's options.
func WithMerchant(o merchants.CreateOptions) Option { return func(opts *options) { opts.merchant = o } }

// WithPaymentConfig sets the engine's time limits.
func WithPaymentConfig(c payments.Config) Option { return func(opts *options) { opts.payment = c } }

// New starts an altyn for t, stopped at t.Cleanup.
func New(t testing.TB, opt ...Option) *Env {
	t.Helper()
	o := options{merchant: merchants.CreateOptions{Name: "Test shop", TestMode: true}, payment: payments.DefaultConfig}
	for _, f := range opt {
		f(&o)
	}
	ctx := context.Background()
	master, dbURL := o.master, o.databaseURL
	if master == nil {
		var err error
		if master, _, err = vault.Generate(); err != nil {
			t.Fatal(err)
		}
	}
	if dbURL == "" {
		dbURL = storetest.DatabaseURL(t)
	}
	// The clock starts at the real time: cryptograms made outside the test
	// (the README's commands) carry the real time too.
	clock := o.clock
	if clock == nil {
		clock = &Clock{now: time.Now().UTC().Truncate(time.Millisecond)}
	}
	logs := &SyncBuffer{}
	log := slog.New(slog.NewJSONHandler(logs, &slog.HandlerOptions{Level: slog.LevelDebug}))

	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	base := "http://" + ln.Addr().String()
	a, err := app.New(ctx, app.Config{
		DatabaseURL: dbURL, MasterKey: master, BaseURL: base,
		Logger: log, Now: clock.Now, Payment: o.payment, Notify: o.notify, Runner: o.runner, PayLimit: &o.payLimit,
	})
	if err != nil {
		t.Fatal(err)
	}
	srv := httptest.NewUnstartedServer(a.Handler)
	srv.Listener.Close()
	srv.Listener = ln
	srv.EnableHTTP2 = true
	srv.Config.Protocols = new(http.Protocols)
	srv.Config.Protocols.SetHTTP1(true)
	srv.Config.Protocols.SetUnencryptedHTTP2(true)
	srv.Start()
	stopNotifier := func() {}
	if o.runNotifier {
		nctx, cancel := context.WithCancel(ctx)
		done := make(chan struct{})
		go func() {
			defer close(done)
			a.Notifier.Run(nctx)
		}()
		stopNotifier = func() { cancel(); <-done }
	}
	stopRunner := func() {}
	if o.runRunner {
		rctx, cancel := context.WithCancel(ctx)
		done := make(chan struct{})
		go func() {
			defer close(done)
			a.Runner.Run(rctx)
		}()
		stopRunner = func() { cancel(); <-done }
	}
	e := &Env{App: a, URL: base, Clock: clock, Logs: logs, HTTP: H2CClient(), DatabaseURL: dbURL, Master: master}
	e.close = func() {
		stopRunner()
		stopNotifier()
		srv.Close()
		a.Close()
	}
	t.Cleanup(func() {
		e.Close()
		if t.Failed() {
			t.Logf("server log:\n%s", logs.String())
		}
	})

	created, err := a.Merchants.Create(ctx, o.merchant)
	if err != nil {
		t.Fatal(err)
	}
	key, err := a.Merchants.CurrentKey(ctx, created.Merchant.PublicID)
	if err != nil {
		t.Fatal(err)
	}
	e.Merchant, e.Secret, e.Key = created.Merchant, created.Secret, key
	auth := connect.WithInterceptors(BasicAuth(created.Merchant.PublicID, created.Secret))
	e.Connect = altynv1connect.NewPaymentServiceClient(e.HTTP, base, auth)
	e.GRPC = altynv1connect.NewPaymentServiceClient(e.HTTP, base, auth, connect.WithGRPC())
	e.Notifications = altynv1connect.NewNotificationServiceClient(e.HTTP, base, auth)
	e.Subscriptions = altynv1connect.NewSubscriptionServiceClient(e.HTTP, base, auth)
	e.TestClocks = altynv1connect.NewTestClockServiceClient(e.HTTP, base, auth)
	return e
}

// Close stops the Env's notifier, server and App (as a killed replica
// would stop); t.Cleanup calls it too, and a second call does nothing.
func (e *Env) Close() { e.closeOnce.Do(e.close) }

// H2CClient speaks HTTP/2 without TLS (prior knowledge, no upgrade), as
// gRPC clients do. With HTTP/1.1 enabled too, net/http would pick HTTP/1.1
// for http:// URLs.
func H2CClient() *http.Client {
	var p http.Protocols
	p.SetUnencryptedHTTP2(true)
	return &http.Client{Transport: &http.Transport{Protocols: &p, TLSClientConfig: &tls.Config{}, MaxIdleConnsPerHost: 64}}
}

// BasicAuth adds an HTTP Basic Authorization header to every call.
func BasicAuth(user, pass string) connect.Interceptor {
	header := "Basic " + base64.StdEncoding.EncodeToString([]byte(user+":"+pass))
	return connect.UnaryInterceptorFunc(func(next connect.UnaryFunc) connect.UnaryFunc {
		return func(ctx context.Context, req connect.AnyRequest) (connect.AnyResponse, error) {
			req.Header().Set("Authorization", header)
			return next(ctx, req)
		}
	})
}

// Seal makes a cryptogram of pan (expiry 12/2030, CVV 123) for the Env's
// merchant at the Env's clock.
func (e *Env) Seal(t testing.TB, pan string) string {
	t.Helper()
	return e.SealCard(t, cryptogram.Card{PAN: pan, ExpMonth: 12, ExpYear: 2030, CVV: "123", Name: "TEST PAYER"}, nil)
}

// SealCard makes a cryptogram of card, optionally bound to a payment.
func (e *Env) SealCard(t testing.TB, card cryptogram.Card, binding *cryptogram.Binding) string {
	t.Helper()
	pkt, err := cryptogram.Seal(e.Key, e.Merchant.PublicID, card, cryptogram.SealOptions{Now: e.Clock.Now(), Binding: binding})
	if err != nil {
		t.Fatalf("seal %s: %v", card.Mask(), err)
	}
	return pkt
}

// SyncBuffer is a bytes.Buffer safe for concurrent writers.
type SyncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

// Write appends p.
func (s *SyncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

// String returns everything written so far.
func (s *SyncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}

var _ io.Writer = (*SyncBuffer)(nil)
