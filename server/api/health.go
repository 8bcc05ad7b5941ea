package api

import (
	"context"
	"errors"

	"connectrpc.com/connect"

	healthv1 "github.com/altynpay/altyn/gen/grpc/health/v1"
	"github.com/altynpay/altyn/gen/grpc/health/v1/healthv1connect"
)

// healthServer answers the standard grpc.health.v1.Health service, so load
// balancers and grpcurl see altyn's health the usual way. The server is
// healthy while its database answers.
type healthServer struct {
	ping     func(context.Context) error
	services map[string]bool
}

// NewHealthServer serves grpc.health.v1.Health for the named services.
func NewHealthServer(ping func(context.Context) error, services ...string) healthv1connect.HealthHandler {
	known := map[string]bool{"": true}
	for _, s := range services {
		known[s] = true
	}
	return &healthServer{ping: ping, services: known}
}

func (h *healthServer) status(ctx context.Context, service string) healthv1.HealthCheckResponse_ServingStatus {
	if !h.services[service] {
		return healthv1.HealthCheckResponse_SERVICE_UNKNOWN
	}
	if h.ping(ctx) != nil {
		return healthv1.HealthCheckResponse_NOT_SERVING
	}
	return healthv1.HealthCheckResponse_SERVING
}

func (h *healthServer) Check(ctx context.Context, req *connect.Request[healthv1.HealthCheckRequest]) (*connect.Response[healthv1.HealthCheckResponse], error) {
	st := h.status(ctx, req.Msg.Service)
	if st == healthv1.HealthCheckResponse_SERVICE_UNKNOWN {
		return nil, connect.NewError(connect.CodeNotFound, errors.New("unknown service"))
	}
	return connect.NewResponse(&healthv1.HealthCheckResponse{Status: st}), nil
}

func (h *healthServer) Watch(ctx context.Context, req *connect.Request[healthv1.HealthCheckRequest], stream *connect.ServerStream[healthv1.HealthCheckResponse]) error {
	// Streaming the status on every change is not needed by anything we
	// serve yet; send the current status once and keep the stream open.
	if err := stream.Send(&healthv1.HealthCheckResponse{Status: h.status(ctx, req.Msg.Service)}); err != nil {
		return err
	}
	<-ctx.Done()
	return nil
}
