package api

import (
	"context"
	"errors"
	"log/slog"
	"net/http"

	"connectrpc.com/connect"

	"github.com/altynpay/altyn/server/merchants"
	"github.com/altynpay/altyn/store"
)

type merchantKey struct{}

// merchantFrom returns the merchant the auth interceptor authenticated.
func merchantFrom(ctx context.Context) *store.Merchant {
	m, _ := ctx.Value(merchantKey{}).(*store.Merchant)
	return m
}

// WithMerchant is how other front doors (the CloudPayments facade) hand an
// authenticated merchant to code that reads it from the context.
func WithMerchant(ctx context.Context, m *store.Merchant) context.Context {
	return context.WithValue(ctx, merchantKey{}, m)
}

// NewAuthInterceptor authenticates every call with HTTP Basic: user = the
// merchant's public id, password = its API secret (as CloudPayments does).
func NewAuthInterceptor(ms *merchants.Service, log *slog.Logger) connect.Interceptor {
	return authInterceptor{ms: ms, log: log}
}

type authInterceptor struct {
	ms  *merchants.Service
	log *slog.Logger
}

func (a authInterceptor) WrapUnary(next connect.UnaryFunc) connect.UnaryFunc {
	return func(ctx context.Context, req connect.AnyRequest) (connect.AnyResponse, error) {
		ctx, err := a.authenticate(ctx, req.Header().Get("Authorization"))
		if err != nil {
			return nil, err
		}
		return next(ctx, req)
	}
}

func (a authInterceptor) WrapStreamingClient(next connect.StreamingClientFunc) connect.StreamingClientFunc {
	return next
}

func (a authInterceptor) WrapStreamingHandler(next connect.StreamingHandlerFunc) connect.StreamingHandlerFunc {
	return func(ctx context.Context, conn connect.StreamingHandlerConn) error {
		ctx, err := a.authenticate(ctx, conn.RequestHeader().Get("Authorization"))
		if err != nil {
			return err
		}
		return next(ctx, conn)
	}
}

func (a authInterceptor) authenticate(ctx context.Context, header string) (context.Context, error) {
	publicID, secret, ok := parseBasic(header)
	if !ok {
		err := connect.NewError(connect.CodeUnauthenticated, errors.New("HTTP Basic authentication required: public id and API secret"))
		err.Meta().Set("WWW-Authenticate", `Basic realm="altyn"`)
		return ctx, err
	}
	m, err := a.ms.Authenticate(ctx, publicID, secret)
	if errors.Is(err, merchants.ErrUnauthenticated) {
		return ctx, connect.NewError(connect.CodeUnauthenticated, err)
	}
	if err != nil {
		return ctx, connectError(ctx, a.log, err)
	}
	return WithMerchant(ctx, m), nil
}

// parseBasic reads an HTTP Basic Authorization header.
func parseBasic(h string) (user, pass string, ok bool) {
	r := http.Request{Header: http.Header{"Authorization": {h}}}
	return r.BasicAuth()
}
