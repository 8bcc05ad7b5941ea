package main

import (
	"context"
	"encoding/base64"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"os"
	"time"

	"connectrpc.com/connect"

	"github.com/altynpay/altyn/cryptogram"
	"github.com/altynpay/altyn/gen/altyn/v1/altynv1connect"
	"github.com/altynpay/altyn/server/app"
	"github.com/altynpay/altyn/server/merchants"
	"github.com/altynpay/altyn/server/vault"
	"github.com/altynpay/altyn/store"
)

// altyn is the server under test, started in this process as server/main.go
// starts it, with a merchant in test mode and a client authenticated as it.
type altyn struct {
	app      *app.App
	srv      *http.Server
	url      string
	merchant *store.Merchant
	key      cryptogram.PublicKey
	ring     *cryptogram.KeyRing
	client   altynv1connect.PaymentServiceClient
	// proto is the HTTP version the client and server agreed on.
	proto string

	serveErr    chan error
	stopWorkers context.CancelFunc
	workersDone chan struct{}
}

func startAltyn(ctx context.Context, databaseURL string) (*altyn, error) {
	master, _, err := vault.Generate()
	if err != nil {
		return nil, err
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return nil, err
	}
	base := "http://" + ln.Addr().String()
	// Warn, not the server's default Info: one line per call would cost a
	// large share of a Charge and measure the log writer, not altyn.
	log := slog.New(slog.NewJSONHandler(os.Stderr, &slog.HandlerOptions{Level: slog.LevelWarn}))
	a, err := app.New(ctx, app.Config{DatabaseURL: databaseURL, MasterKey: master, BaseURL: base, Logger: log, Now: time.Now})
	if err != nil {
		ln.Close()
		return nil, fmt.Errorf("start altyn: %w", err)
	}

	var protocols http.Protocols
	protocols.SetHTTP1(true)
	protocols.SetUnencryptedHTTP2(true) // as server/main.go: h2c and HTTP/1.1 on one port
	s := &altyn{
		app: a,
		url: base,
		srv: &http.Server{
			Handler:           a.Handler,
			Protocols:         &protocols,
			ReadHeaderTimeout: 10 * time.Second,
			IdleTimeout:       120 * time.Second,
		},
		serveErr:    make(chan error, 1),
		workersDone: make(chan struct{}),
	}
	go func() { s.serveErr <- s.srv.Serve(ln) }()
	var workers context.Context
	workers, s.stopWorkers = context.WithCancel(context.WithoutCancel(ctx))
	go func() {
		defer close(s.workersDone)
		a.Engine.RunWorkers(workers, 5*time.Second)
	}()

	created, err := a.Merchants.Create(ctx, merchants.CreateOptions{Name: "bench", TestMode: true})
	if err != nil {
		s.close()
		return nil, fmt.Errorf("create merchant: %w", err)
	}
	s.merchant = created.Merchant
	if s.key, err = a.Merchants.CurrentKey(ctx, s.merchant.PublicID); err == nil {
		s.ring, err = a.Merchants.KeyRing(ctx, s.merchant.PublicID)
	}
	if err != nil {
		s.close()
		return nil, fmt.Errorf("merchant key: %w", err)
	}

	httpClient := h2cClient()
	s.client = altynv1connect.NewPaymentServiceClient(httpClient, base,
		connect.WithInterceptors(basicAuth(s.merchant.PublicID, created.Secret)))
	if s.proto, err = httpVersion(ctx, httpClient, base); err != nil {
		s.close()
		return nil, err
	}
	return s, nil
}

// close shuts the HTTP server down, stops the background workers and closes
// the database pool.
func (s *altyn) close() {
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	_ = s.srv.Shutdown(ctx)
	s.stopWorkers()
	<-s.workersDone
	s.app.Close()
}

// h2cClient speaks HTTP/2 without TLS with prior knowledge, as a gRPC client
// does: all callers share one TCP connection, each call is a stream. HTTP1
// must stay unset: a Transport with both falls back to HTTP/1.1 for http://
// URLs (see http.Transport.Protocols).
func h2cClient() *http.Client {
	var p http.Protocols
	p.SetUnencryptedHTTP2(true)
	return &http.Client{Transport: &http.Transport{Protocols: &p}}
}

// httpVersion asks the server's root page, to report (and check) which HTTP
// version the benchmark's calls use.
func httpVersion(ctx context.Context, c *http.Client, base string) (string, error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, base+"/", nil)
	if err != nil {
		return "", err
	}
	res, err := c.Do(req)
	if err != nil {
		return "", fmt.Errorf("reach altyn: %w", err)
	}
	defer res.Body.Close()
	_, _ = io.Copy(io.Discard, res.Body)
	if res.StatusCode != http.StatusOK {
		return "", fmt.Errorf("reach altyn: %s", res.Status)
	}
	if res.ProtoMajor != 2 {
		return "", errors.New("reach altyn: the client did not speak HTTP/2")
	}
	return res.Proto, nil
}

// basicAuth adds the merchant's HTTP Basic credentials to every call.
func basicAuth(user, pass string) connect.Interceptor {
	header := "Basic " + base64.StdEncoding.EncodeToString([]byte(user+":"+pass))
	return connect.UnaryInterceptorFunc(func(next connect.UnaryFunc) connect.UnaryFunc {
		return func(ctx context.Context, req connect.AnyRequest) (connect.AnyResponse, error) {
			req.Header().Set("Authorization", header)
			return next(ctx, req)
		}
	})
}
