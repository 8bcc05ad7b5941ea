// Command altyn is the payment core's server and its command-line tool.
//
//	go run ./server                       serve (embedded PostgreSQL and a demo merchant unless DATABASE_URL is set)
//	go run ./server merchant create -name "My shop" [-test=false] [-auto-capture-days N]
//	go run ./server merchant rotate-key -public-id pk_…
//	go run ./server merchant notify -public-id pk_… [-type Pay -url https://… -format altyn|cloudpayments|cloudpayments-json|ecommpay -method POST|GET -email shop@example.com -enabled=false]
//	go run ./server seal -public-id pk_… -card 4000000000003055 [-exp 12/30] [-cvv 123] [-url http://127.0.0.1:8080]
//
// Environment:
//
//	ALTYN_ADDR             listen address (default 127.0.0.1:8080)
//	ALTYN_BASE_URL         the URL payers' browsers reach the server at (default http://ALTYN_ADDR)
//	ALTYN_DATA             data folder for the embedded database and the demo master key (default ./data)
//	DATABASE_URL           a CockroachDB or PostgreSQL URL; without it altyn runs its own PostgreSQL in ALTYN_DATA/pg
//	ALTYN_MASTER_KEY       the master key, base64 of 32 bytes; or
//	ALTYN_MASTER_KEY_FILE  a file holding it. Without either, a key is generated into ALTYN_DATA/master.key (demo only).
//	ALTYN_LOG_LEVEL        debug, info (default), warn or error
//	ALTYN_PAY_LIMIT        public payment attempts per minute per client address (default 10, 0: no limit)
//	ALTYN_SMTP_ADDR        host:port of the SMTP relay for e-mail notifications (none by default)
//	ALTYN_SMTP_FROM        their sender address (default altyn@localhost)
//	ALTYN_SMTP_USERNAME, ALTYN_SMTP_PASSWORD  PLAIN auth at the relay, if it wants it
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"os"
	"os/signal"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"time"

	"github.com/altynpay/altyn/server/api"
	"github.com/altynpay/altyn/server/app"
	"github.com/altynpay/altyn/server/merchants"
	"github.com/altynpay/altyn/server/vault"
	"github.com/altynpay/altyn/store/localpg"
)

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	log := slog.New(slog.NewJSONHandler(os.Stderr, &slog.HandlerOptions{Level: logLevel()}))
	var err error
	switch {
	case len(os.Args) > 1 && os.Args[1] == "merchant":
		err = merchantCommand(ctx, log, os.Args[2:])
	case len(os.Args) > 1 && os.Args[1] == "seal":
		err = sealCommand(ctx, os.Args[2:])
	case len(os.Args) > 1 && os.Args[1] != "serve" && !strings.HasPrefix(os.Args[1], "-"):
		err = fmt.Errorf("unknown command %q (serve, merchant, seal)", os.Args[1])
	default:
		err = serve(ctx, log)
	}
	if err != nil {
		fmt.Fprintln(os.Stderr, "altyn:", err)
		os.Exit(1)
	}
}

func logLevel() slog.Level {
	var l slog.Level
	if err := l.UnmarshalText([]byte(env("ALTYN_LOG_LEVEL", "info"))); err != nil {
		return slog.LevelInfo
	}
	return l
}

func env(name, def string) string {
	if v := os.Getenv(name); v != "" {
		return v
	}
	return def
}

// environment is what both the server and the CLI need: a database and the
// master key. close stops the embedded PostgreSQL if this process started it.
type environment struct {
	databaseURL string
	master      *vault.MasterKey
	embedded    bool
	close       func()
}

func setup(ctx context.Context, log *slog.Logger, serving bool) (*environment, error) {
	data := env("ALTYN_DATA", "data")
	e := &environment{databaseURL: os.Getenv("DATABASE_URL"), close: func() {}}
	var err error
	switch {
	case os.Getenv("ALTYN_MASTER_KEY") != "":
		e.master, err = vault.Parse(os.Getenv("ALTYN_MASTER_KEY"))
	case os.Getenv("ALTYN_MASTER_KEY_FILE") != "":
		var b []byte
		if b, err = os.ReadFile(os.Getenv("ALTYN_MASTER_KEY_FILE")); err == nil {
			e.master, err = vault.Parse(string(b))
		}
	default:
		path := filepath.Join(data, "master.key")
		var created bool
		e.master, created, err = vault.LoadOrCreateFile(path)
		if created {
			log.Warn("DEMO ONLY: generated a master key into the data folder; set ALTYN_MASTER_KEY or ALTYN_MASTER_KEY_FILE in production", "file", path)
		}
	}
	if err != nil {
		return nil, fmt.Errorf("master key: %w", err)
	}
	if e.databaseURL != "" {
		return e, nil
	}
	dir, err := filepath.Abs(filepath.Join(data, "pg"))
	if err != nil {
		return nil, err
	}
	pg, err := localpg.Start(ctx, localpg.Options{Dir: dir, Fsync: true, Logger: log})
	if errors.Is(err, localpg.ErrRunning) && !serving {
		// A server is up on this data folder: use its database.
		e.databaseURL, err = localpg.RunningURL(dir, "altyn")
		return e, err
	}
	if err != nil {
		return nil, fmt.Errorf("embedded database: %w", err)
	}
	if err := pg.CreateDatabase(ctx, "altyn"); err != nil {
		pg.Stop()
		return nil, err
	}
	e.databaseURL, e.embedded = pg.URL("altyn"), true
	e.close = func() {
		if err := pg.Stop(); err != nil {
			log.Warn("stop embedded database", "err", err)
		}
	}
	return e, nil
}

func serve(ctx context.Context, log *slog.Logger) error {
	fs := flag.NewFlagSet("serve", flag.ExitOnError)
	demo := fs.Bool("demo", true, "with the embedded database, create (once) and print a demo merchant in test mode")
	args := os.Args[1:]
	if len(args) > 0 && args[0] == "serve" {
		args = args[1:]
	}
	fs.Parse(args)

	addr := env("ALTYN_ADDR", "127.0.0.1:8080")
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		return err
	}
	baseURL := env("ALTYN_BASE_URL", "http://"+ln.Addr().String())

	e, err := setup(ctx, log, true)
	if err != nil {
		ln.Close()
		return err
	}
	defer e.close()
	limit := api.DefaultPayLimit
	if v := os.Getenv("ALTYN_PAY_LIMIT"); v != "" {
		n, err := strconv.Atoi(v)
		if err != nil || n < 0 {
			ln.Close()
			return fmt.Errorf("ALTYN_PAY_LIMIT=%q: want a number of attempts per minute, 0 for no limit", v)
		}
		limit = api.PayLimit{PerMinute: n, Burst: n}
	}
	a, err := app.New(ctx, app.Config{DatabaseURL: e.databaseURL, MasterKey: e.master, BaseURL: baseURL, Logger: log,
		Notify: notifyConfig(), PayLimit: &limit})
	if err != nil {
		ln.Close()
		return err
	}
	defer a.Close()

	if e.embedded && *demo {
		publicID, err := printDemoMerchant(ctx, a.Merchants, baseURL)
		if err != nil {
			return err
		}
		a.DemoPublicID = publicID // the merchant of /demo
	}

	var protocols http.Protocols
	protocols.SetHTTP1(true)
	protocols.SetUnencryptedHTTP2(true) // h2c: gRPC without TLS on one port with Connect and gRPC-Web
	srv := &http.Server{
		Handler:           a.Handler,
		Protocols:         &protocols,
		ReadHeaderTimeout: 10 * time.Second,
		IdleTimeout:       120 * time.Second,
	}
	workers, stopWorkers := context.WithCancel(context.WithoutCancel(ctx))
	done := make(chan struct{})
	notifierDone := make(chan struct{})
	runnerDone := make(chan struct{})
	go func() {
		defer close(done)
		a.Engine.RunWorkers(workers, 5*time.Second)
		<-notifierDone
		<-runnerDone
	}()
	go func() {
		defer close(notifierDone)
		a.Notifier.Run(workers) // merchant notifications: every replica runs it
	}()
	go func() {
		defer close(runnerDone)
		a.Runner.Run(workers) // subscription billing: every replica runs it
	}()
	errc := make(chan error, 1)
	go func() { errc <- srv.Serve(ln) }()
	log.Info("altyn listening", "url", baseURL)

	select {
	case err := <-errc:
		stopWorkers()
		<-done
		return err
	case <-ctx.Done():
	}
	log.Info("shutting down: finishing requests in flight")
	shutdownCtx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	err = srv.Shutdown(shutdownCtx)
	stopWorkers()
	<-done
	return err
}

// printDemoMerchant creates the demo merchant on the first run and prints
// its credentials on every run: the secret is recoverable because it is
// stored wrapped (it also signs notifications). It returns the public id.
func printDemoMerchant(ctx context.Context, ms *merchants.Service, baseURL string) (string, error) {
	path := filepath.Join(env("ALTYN_DATA", "data"), "demo-merchant")
	publicID := ""
	if b, err := os.ReadFile(path); err == nil {
		publicID = strings.TrimSpace(string(b))
	}
	if _, err := ms.ByPublicID(ctx, publicID); publicID == "" || errors.Is(err, merchants.ErrNotFound) {
		c, err := ms.Create(ctx, merchants.CreateOptions{Name: "Demo shop", TestMode: true})
		if err != nil {
			return "", err
		}
		publicID = c.Merchant.PublicID
		if err := os.WriteFile(path, []byte(publicID+"\n"), 0o600); err != nil {
			return "", err
		}
	}
	secret, err := ms.Secret(ctx, publicID)
	if err != nil {
		return "", err
	}
	fmt.Printf(`
altyn is running at %[1]s  (Connect, gRPC and gRPC-Web)

  demo merchant (test mode, sandbox acquirer)
    public id   %[2]s
    API secret  %[3]s
    demo shop   %[1]s/demo   (the payment widget in a browser: docs/widget.md)

  try:
    curl -u %[2]s:%[3]s -H 'Content-Type: application/json' -d '{"payment_id":"pay_x"}' %[1]s/altyn.v1.PaymentService/GetPayment
    grpcurl -plaintext 127.0.0.1:%[4]s list

`, baseURL, publicID, secret, portOf(baseURL))
	return publicID, nil
}

func portOf(url string) string {
	if i := strings.LastIndex(url, ":"); i >= 0 {
		return strings.TrimRight(url[i+1:], "/")
	}
	return ""
}

func merchantCommand(ctx context.Context, log *slog.Logger, args []string) error {
	if len(args) == 0 {
		return errors.New("usage: merchant create -name NAME [-test=false] [-auto-capture-days N] | merchant rotate-key -public-id ID | merchant notify -public-id ID [-type T -url URL …]")
	}
	e, err := setup(ctx, log, false)
	if err != nil {
		return err
	}
	defer e.close()
	a, err := app.New(ctx, app.Config{DatabaseURL: e.databaseURL, MasterKey: e.master, Logger: log, Notify: notifyConfig()})
	if err != nil {
		return err
	}
	defer a.Close()
	switch args[0] {
	case "create":
		fs := flag.NewFlagSet("merchant create", flag.ExitOnError)
		name := fs.String("name", "", "the merchant's name (required)")
		test := fs.Bool("test", true, "test mode: payments go to the sandbox acquirer")
		days := fs.Int("auto-capture-days", 0, "capture authorizations after N days (1–7) instead of voiding them after 7")
		fs.Parse(args[1:])
		c, err := a.Merchants.Create(ctx, merchants.CreateOptions{Name: *name, TestMode: *test, AutoCaptureDays: *days})
		if err != nil {
			return err
		}
		fmt.Printf("merchant %s created\npublic id   %s\nAPI secret  %s   (shown once; keep it secret)\n", c.Merchant.ID, c.Merchant.PublicID, c.Secret)
		return nil
	case "notify":
		return notifyCommand(ctx, a, args[1:])
	case "rotate-key":
		fs := flag.NewFlagSet("merchant rotate-key", flag.ExitOnError)
		publicID := fs.String("public-id", "", "the merchant's public id (required)")
		fs.Parse(args[1:])
		m, err := a.Merchants.ByPublicID(ctx, *publicID)
		if err != nil {
			return err
		}
		keyID, err := a.Merchants.RotateKey(ctx, m)
		if err != nil {
			return err
		}
		fmt.Printf("new cryptogram key %s is current; older keys open cryptograms until retired\n", keyID)
		return nil
	}
	return fmt.Errorf("unknown merchant command %q", args[0])
}
