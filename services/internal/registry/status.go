package registry

import (
	"context"
	"errors"
	"log/slog"
	"strings"

	"google.golang.org/genproto/googleapis/rpc/errdetails"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/metadata"
	"google.golang.org/grpc/status"
	"google.golang.org/protobuf/protoadapt"

	"github.com/chave/chave/services/internal/chave"
)

// ErrorDomain is the ErrorInfo domain of the registry's errors.
const ErrorDomain = "registry.chave"

var grpcCodes = map[chave.Code]codes.Code{
	chave.Invalid:            codes.InvalidArgument,
	chave.NotFound:           codes.NotFound,
	chave.Conflict:           codes.AlreadyExists,
	chave.FailedPrecondition: codes.FailedPrecondition,
	chave.InvalidGrant:       codes.FailedPrecondition,
	chave.Unauthenticated:    codes.Unauthenticated,
	chave.PermissionDenied:   codes.PermissionDenied,
	chave.Unavailable:        codes.Unavailable,
	chave.ResourceExhausted:  codes.ResourceExhausted,
}

// status maps an error to a gRPC status: domain errors keep their safe
// message, an ErrorInfo reason and, for bad input, a BadRequest field
// violation; anything else is logged and becomes Internal with no details.
func (s *Server) status(ctx context.Context, err error) error {
	return toStatus(ctx, s.log, err)
}

func toStatus(ctx context.Context, log *slog.Logger, err error) error {
	switch {
	case errors.Is(err, context.Canceled):
		return status.Error(codes.Canceled, "request canceled")
	case errors.Is(err, context.DeadlineExceeded):
		return status.Error(codes.DeadlineExceeded, "deadline exceeded")
	}
	var e *chave.Error
	code, ok := codes.Unknown, errors.As(err, &e)
	if ok {
		code, ok = grpcCodes[e.Code]
	}
	if !ok {
		log.ErrorContext(ctx, "registry call failed", "err", err)
		return status.Error(codes.Internal, "internal error")
	}
	msg := e.Message
	if e.Field != "" {
		msg = e.Field + ": " + msg
	}
	st := status.New(code, msg)
	details := []protoadapt.MessageV1{&errdetails.ErrorInfo{Reason: strings.ToUpper(string(e.Code)), Domain: ErrorDomain}}
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
