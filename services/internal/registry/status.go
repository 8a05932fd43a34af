package registry

import (
	"context"
	"errors"
	"log/slog"
	"strings"

	"google.golang.org/genproto/googleapis/rpc/errdetails"
	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/metadata"
	"google.golang.org/grpc/status"
	"google.golang.org/protobuf/protoadapt"

	errorsv1 "github.com/chave/chave/proto/chave/errors/v1"
	"github.com/chave/chave/services/internal/chave"
)

// statusOf is the gRPC code and ErrorInfo reason answering each kind of
// domain error; ok is false for kinds it does not know, which toStatus
// answers as Internal. chave.Internal has no reason: its details would say
// nothing a caller may know.
func statusOf(kind chave.Code) (code codes.Code, reason errorsv1.Reason, ok bool) {
	switch kind {
	case chave.Invalid:
		return codes.InvalidArgument, errorsv1.Reason_REASON_INVALID, true
	case chave.NotFound:
		return codes.NotFound, errorsv1.Reason_REASON_NOT_FOUND, true
	case chave.Conflict:
		return codes.AlreadyExists, errorsv1.Reason_REASON_CONFLICT, true
	case chave.FailedPrecondition:
		return codes.FailedPrecondition, errorsv1.Reason_REASON_FAILED_PRECONDITION, true
	case chave.InvalidGrant:
		return codes.FailedPrecondition, errorsv1.Reason_REASON_INVALID_GRANT, true
	case chave.Unauthenticated:
		return codes.Unauthenticated, errorsv1.Reason_REASON_UNAUTHENTICATED, true
	case chave.PermissionDenied:
		return codes.PermissionDenied, errorsv1.Reason_REASON_PERMISSION_DENIED, true
	case chave.Unavailable:
		return codes.Unavailable, errorsv1.Reason_REASON_UNAVAILABLE, true
	case chave.ResourceExhausted:
		return codes.ResourceExhausted, errorsv1.Reason_REASON_RESOURCE_EXHAUSTED, true
	case chave.Internal:
		return codes.Internal, errorsv1.Reason_REASON_UNSPECIFIED, true
	}
	return codes.Internal, errorsv1.Reason_REASON_UNSPECIFIED, false
}

// StatusInterceptor is the registry's one mapping from the domain errors
// its servers (Server, CredentialServer) and AuthInterceptor return to gRPC
// statuses (toStatus): install it on every server, and in-process channel,
// that serves them, outside AuthInterceptor. Calls to other services pass
// through.
func StatusInterceptor() grpc.UnaryServerInterceptor {
	return func(ctx context.Context, req any, info *grpc.UnaryServerInfo, handler grpc.UnaryHandler) (any, error) {
		resp, err := handler(ctx, req)
		if err == nil {
			return resp, nil
		}
		switch s := info.Server.(type) {
		case *Server:
			return nil, toStatus(ctx, s.log, err)
		case *CredentialServer:
			return nil, toStatus(ctx, s.log, err)
		}
		return resp, err
	}
}

// toStatus maps an error to a gRPC status: domain errors keep their safe
// message, an ErrorInfo reason and, for bad input, a BadRequest field
// violation; anything else is logged and becomes Internal with no details.
func toStatus(ctx context.Context, log *slog.Logger, err error) error {
	switch {
	case errors.Is(err, context.Canceled):
		return status.Error(codes.Canceled, "request canceled")
	case errors.Is(err, context.DeadlineExceeded):
		return status.Error(codes.DeadlineExceeded, "deadline exceeded")
	}
	var e *chave.Error
	code, reason, ok := codes.Internal, errorsv1.Reason_REASON_UNSPECIFIED, errors.As(err, &e)
	if ok {
		code, reason, ok = statusOf(e.Code)
	}
	if !ok || reason == errorsv1.Reason_REASON_UNSPECIFIED {
		log.ErrorContext(ctx, "registry call failed", "err", err)
		return status.Error(codes.Internal, "internal error")
	}
	msg := e.Message
	if e.Field != "" {
		msg = e.Field + ": " + msg
	}
	st := status.New(code, msg)
	details := []protoadapt.MessageV1{reason.ErrorInfo()}
	if e.Field != "" {
		details = append(details, &errdetails.BadRequest{FieldViolations: []*errdetails.BadRequest_FieldViolation{{Field: e.Field, Description: e.Message}}})
	}
	if withDetails, derr := st.WithDetails(details...); derr == nil {
		st = withDetails
	}
	return st.Err()
}

// preferredLanguage returns "en" when the caller's Accept-Language prefers
// English, else "pt-BR".
func preferredLanguage(ctx context.Context) string {
	md, _ := metadata.FromIncomingContext(ctx)
	for _, v := range md.Get("accept-language") {
		first := strings.ToLower(strings.TrimSpace(strings.Split(strings.Split(v, ",")[0], ";")[0]))
		if strings.HasPrefix(first, "en") {
			return "en"
		}
	}
	return "pt-BR"
}
