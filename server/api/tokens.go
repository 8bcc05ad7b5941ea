package api

import (
	"context"
	"log/slog"

	"connectrpc.com/connect"

	altynv1 "github.com/altynpay/altyn/gen/altyn/v1"
	"github.com/altynpay/altyn/gen/altyn/v1/altynv1connect"
	"github.com/altynpay/altyn/server/payments"
	"github.com/altynpay/altyn/store"
)

type tokenServer struct {
	engine *payments.Engine
	log    *slog.Logger
}

var _ altynv1connect.TokenServiceHandler = (*tokenServer)(nil)

// NewTokenServer serves the private TokenService; wrap it with the auth interceptor.
func NewTokenServer(engine *payments.Engine, log *slog.Logger) altynv1connect.TokenServiceHandler {
	return &tokenServer{engine: engine, log: log}
}

func (s *tokenServer) ListTokens(ctx context.Context, req *connect.Request[altynv1.ListTokensRequest]) (*connect.Response[altynv1.ListTokensResponse], error) {
	list, err := s.engine.Tokens(ctx, merchantFrom(ctx).ID, req.Msg.AccountId)
	if err != nil {
		return nil, connectError(ctx, s.log, err)
	}
	out := &altynv1.ListTokensResponse{}
	for _, t := range list {
		out.Cards = append(out.Cards, &altynv1.SavedCard{
			Token: t.ID, AccountId: t.AccountID, CardMask: store.CardMask(t.CardFirstSix, t.CardLastFour),
			CardBrand: t.CardBrand, ExpMonth: int32(t.CardExpMonth), ExpYear: int32(t.CardExpYear),
			CreatedAt: timestamp(t.CreatedAt),
		})
	}
	return connect.NewResponse(out), nil
}

func (s *tokenServer) DeleteToken(ctx context.Context, req *connect.Request[altynv1.DeleteTokenRequest]) (*connect.Response[altynv1.DeleteTokenResponse], error) {
	if err := s.engine.DeleteToken(ctx, merchantFrom(ctx).ID, req.Msg.Token); err != nil {
		return nil, connectError(ctx, s.log, err)
	}
	return connect.NewResponse(&altynv1.DeleteTokenResponse{}), nil
}
