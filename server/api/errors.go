// Package api holds altyn's Connect handlers. They are thin: proto in, a
// domain command out, the domain result back to proto, and a domain error to
// a Connect code in exactly one function, connectError.
package api

import (
	"context"
	"errors"
	"log/slog"

	"connectrpc.com/connect"

	altynv1 "github.com/altynpay/altyn/gen/altyn/v1"
	"github.com/altynpay/altyn/server/payments"
)

var kindCodes = map[payments.Kind]connect.Code{
	payments.KindInvalid:         connect.CodeInvalidArgument,
	payments.KindNotFound:        connect.CodeNotFound,
	payments.KindPrecondition:    connect.CodeFailedPrecondition,
	payments.KindConflict:        connect.CodeAlreadyExists,
	payments.KindUnavailable:     connect.CodeUnavailable,
	payments.KindUnauthenticated: connect.CodeUnauthenticated,
	payments.KindPermission:      connect.CodePermissionDenied,
}

// connectError maps a domain error to a Connect error with an ErrorDetail.
// Anything unknown becomes Internal with a generic message and is logged:
// its text may hold SQL or other internals that must not leak.
func connectError(ctx context.Context, log *slog.Logger, err error) error {
	var ce *connect.Error
	if errors.As(err, &ce) {
		return ce
	}
	var pe *payments.Error
	if errors.As(err, &pe) {
		cerr := connect.NewError(kindCodes[pe.Kind], errors.New(pe.Message))
		detail := &altynv1.ErrorDetail{Reason: pe.Reason}
		for _, f := range pe.Fields {
			detail.FieldViolations = append(detail.FieldViolations, &altynv1.FieldViolation{Field: f.Field, Code: f.Code, Description: f.Description})
		}
		if d, derr := connect.NewErrorDetail(detail); derr == nil {
			cerr.AddDetail(d)
		}
		return cerr
	}
	if errors.Is(err, context.Canceled) {
		return connect.NewError(connect.CodeCanceled, errors.New("request canceled"))
	}
	if errors.Is(err, context.DeadlineExceeded) {
		return connect.NewError(connect.CodeDeadlineExceeded, errors.New("deadline exceeded"))
	}
	log.ErrorContext(ctx, "internal error", "err", err)
	return connect.NewError(connect.CodeInternal, errors.New("internal error"))
}

// invalid is an InvalidArgument for a request that cannot even become a command.
func invalid(field, code, msg string) error {
	return &payments.Error{Kind: payments.KindInvalid, Reason: payments.ErrInvalidArgument.Reason, Message: msg,
		Fields: []payments.FieldViolation{{Field: field, Code: code, Description: msg}}}
}
