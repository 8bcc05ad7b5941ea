package api

import (
	"context"
	"errors"
	"log/slog"
	"strconv"

	"connectrpc.com/connect"

	altynv1 "github.com/altynpay/altyn/gen/altyn/v1"
	"github.com/altynpay/altyn/gen/altyn/v1/altynv1connect"
	"github.com/altynpay/altyn/server/merchants"
)

type checkoutServer struct {
	merchants *merchants.Service
	log       *slog.Logger
}

var _ altynv1connect.CheckoutServiceHandler = (*checkoutServer)(nil)

// NewCheckoutServer serves the public CheckoutService the widget calls.
func NewCheckoutServer(ms *merchants.Service, log *slog.Logger) altynv1connect.CheckoutServiceHandler {
	return &checkoutServer{merchants: ms, log: log}
}

func (s *checkoutServer) GetPublicKey(ctx context.Context, req *connect.Request[altynv1.GetPublicKeyRequest]) (*connect.Response[altynv1.GetPublicKeyResponse], error) {
	if req.Msg.PublicId == "" || len(req.Msg.PublicId) > 64 {
		return nil, connectError(ctx, s.log, invalid("public_id", "required", "public_id is required"))
	}
	key, err := s.merchants.CurrentKey(ctx, req.Msg.PublicId)
	if errors.Is(err, merchants.ErrNotFound) {
		return nil, connect.NewError(connect.CodeNotFound, errors.New("no merchant has this public id"))
	}
	if err != nil {
		return nil, connectError(ctx, s.log, err)
	}
	text, err := key.MarshalText()
	if err != nil {
		return nil, connectError(ctx, s.log, err)
	}
	return connect.NewResponse(&altynv1.GetPublicKeyResponse{KeyId: key.KeyID, PublicKey: string(text)}), nil
}

func itoa(n int64) string { return strconv.FormatInt(n, 10) }
