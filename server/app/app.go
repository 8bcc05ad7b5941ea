// Package app wires altyn together: store, merchants, acquirer, engine and
// the HTTP handler that serves Connect, gRPC and gRPC-Web on one port. The
// server's main package and the end-to-end tests build the same App.
package app

import (
	"context"
	"log/slog"
	"net/http"
	"time"

	"connectrpc.com/connect"
	"connectrpc.com/grpcreflect"

	"github.com/altynpay/altyn/gen/altyn/v1/altynv1connect"
	"github.com/altynpay/altyn/gen/grpc/health/v1/healthv1connect"
	"github.com/altynpay/altyn/server/acquirer"
	"github.com/altynpay/altyn/server/api"
	"github.com/altynpay/altyn/server/invoices"
	"github.com/altynpay/altyn/server/merchants"
	"github.com/altynpay/altyn/server/notify"
	"github.com/altynpay/altyn/server/payments"
	"github.com/altynpay/altyn/server/subscriptions"
	"github.com/altynpay/altyn/server/vault"
	"github.com/altynpay/altyn/store"
	"github.com/altynpay/altyn/widget"
)

// Config is what an App needs from its environment.
type Config struct {
	DatabaseURL string
	MasterKey   *vault.MasterKey
	// BaseURL is where the server is reached (e.g. http://127.0.0.1:8080);
	// the sandbox's 3-D Secure page is served under it.
	BaseURL string
	Logger  *slog.Logger
	// Now is the clock; nil means time.Now.
	Now     func() time.Time
	Payment payments.Config
	// Notify holds the notifier's limits and SMTP relay; zero fields take
	// notify.DefaultConfig's values.
	Notify notify.Config
	// Runner sizes the subscription runner; zero fields take
	// subscriptions.DefaultRunnerConfig's values.
	Runner subscriptions.RunnerConfig
	// PayLimit bounds the public payment attempts per client address; nil
	// means api.DefaultPayLimit, a zero PerMinute no limit.
	PayLimit *api.PayLimit
}

// App is a running altyn without its listener.
type App struct {
	Store     *store.Store
	Merchants *merchants.Service
	Sandbox   *acquirer.Sandbox
	Engine    *payments.Engine
	Notifier  *notify.Notifier // run Notifier.Run on every replica
	Invoices  *invoices.Service
	// Subscriptions are recurring plans and test clocks; run Runner.Run on
	// every replica.
	Subscriptions *subscriptions.Service
	Runner        *subscriptions.Runner
	Handler       http.Handler
	// DemoPublicID is the merchant whose shop /demo shows when the URL
	// names none (?publicId=); main sets it to the demo merchant.
	DemoPublicID string
	baseURL      string
	payLimit     api.PayLimit
	log          *slog.Logger
}

// ACSPath is where the sandbox acquirer's 3-D Secure page is served.
const ACSPath = "/sandbox/acs"

// New opens the database (applying migrations) and builds the handler.
func New(ctx context.Context, cfg Config) (*App, error) {
	if cfg.Now == nil {
		cfg.Now = time.Now
	}
	if cfg.Payment == (payments.Config{}) {
		cfg.Payment = payments.DefaultConfig
	}
	if cfg.Payment.TermURL == "" {
		cfg.Payment.TermURL = cfg.BaseURL + TermPath
	}
	st, err := store.Open(ctx, cfg.DatabaseURL)
	if err != nil {
		return nil, err
	}
	ms := merchants.New(st, cfg.MasterKey, cfg.Now)
	sandbox := acquirer.NewSandbox(acquirer.SandboxOptions{
		// Derived from the master key, so 3-D Secure started before a
		// restart still completes after it.
		Secret:     cfg.MasterKey.Derive("sandbox 3-D Secure"),
		ACSBaseURL: cfg.BaseURL + ACSPath,
		Now:        cfg.Now,
	})
	engine := payments.New(st, ms, cfg.MasterKey, sandbox, cfg.Now, cfg.Logger, cfg.Payment)
	notifier := notify.New(st, ms, cfg.Notify, cfg.Now, cfg.Logger)
	engine.SetChecker(notifier)
	engine.OnApproved(func(context.Context, *store.Payment) { notifier.Poke() }) // Pay goes out at once
	a := &App{Store: st, Merchants: ms, Sandbox: sandbox, Engine: engine, Notifier: notifier, log: cfg.Logger}
	a.Invoices, a.baseURL = invoices.New(st, engine, ms, cfg.Now, cfg.Logger, cfg.BaseURL), cfg.BaseURL
	a.payLimit = api.DefaultPayLimit
	if cfg.PayLimit != nil {
		a.payLimit = *cfg.PayLimit
	}
	a.Subscriptions = subscriptions.New(st, engine, ms, cfg.Now, cfg.Logger) // hooks: a payment's recurrent plan
	a.Runner = a.Subscriptions.NewRunner(cfg.Runner)
	a.Handler = a.routes()
	return a, nil
}

// Close releases the database.
func (a *App) Close() { a.Store.Close() }

func (a *App) routes() http.Handler {
	mux := http.NewServeMux()
	// Answers are small (a payment is ~0.5 KB): gzip would cost more CPU
	// than it saves bytes, so only larger ones (lists) are compressed.
	recovery := connect.WithHandlerOptions(
		connect.WithInterceptors(api.NewRecoveryInterceptor(a.log), api.NewLogInterceptor(a.log)),
		connect.WithCompressMinBytes(1024),
	)
	private := connect.WithInterceptors(api.NewAuthInterceptor(a.Merchants, a.log))

	mux.Handle(altynv1connect.NewPaymentServiceHandler(api.NewPaymentServer(a.Engine, a.log), recovery, private))
	mux.Handle(altynv1connect.NewTokenServiceHandler(api.NewTokenServer(a.Engine, a.log), recovery, private))
	mux.Handle(altynv1connect.NewNotificationServiceHandler(api.NewNotificationServer(a.Notifier, a.log), recovery, private))
	mux.Handle(altynv1connect.NewCheckoutServiceHandler(api.NewCheckoutServer(a.Merchants, a.Engine, a.Invoices, a.baseURL+widget.ThreeDSPath, a.payLimit, a.log), recovery))
	mux.Handle(altynv1connect.NewInvoiceServiceHandler(api.NewInvoiceServer(a.Invoices, a.log), recovery, private))
	mux.Handle(altynv1connect.NewSubscriptionServiceHandler(api.NewSubscriptionServer(a.Subscriptions, a.log), recovery, private))
	mux.Handle(altynv1connect.NewTestClockServiceHandler(api.NewTestClockServer(a.Subscriptions, a.log), recovery, private))
	mux.Handle(healthv1connect.NewHealthHandler(api.NewHealthServer(a.Store.Pool().Ping,
		altynv1connect.PaymentServiceName, altynv1connect.CheckoutServiceName, altynv1connect.InvoiceServiceName)))

	reflector := grpcreflect.NewStaticReflector(altynv1connect.PaymentServiceName, altynv1connect.TokenServiceName,
		altynv1connect.NotificationServiceName, altynv1connect.CheckoutServiceName, altynv1connect.InvoiceServiceName,
		altynv1connect.SubscriptionServiceName, altynv1connect.TestClockServiceName, healthv1connect.HealthName)
	mux.Handle(grpcreflect.NewHandlerV1(reflector))
	mux.Handle(grpcreflect.NewHandlerV1Alpha(reflector))

	mux.Handle(ACSPath, a.Sandbox.Handler())
	a.widgetRoutes(mux)
	mux.HandleFunc("POST "+TermPath, a.serveTerm)
	mux.HandleFunc("GET /{$}", func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "text/plain; charset=utf-8")
		w.Write([]byte("altyn payment core: Connect, gRPC and gRPC-Web on this port. See README.md.\n"))
	})
	return mux
}
