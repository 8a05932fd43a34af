package registry

import (
	"context"
	"errors"
	"log/slog"
	"testing"

	"google.golang.org/genproto/googleapis/rpc/errdetails"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"

	errorsv1 "github.com/chave/chave/proto/chave/errors/v1"
	"github.com/chave/chave/services/internal/chave"
	"github.com/chave/chave/services/internal/sourcetest"
)

// domainKinds reads every constant of type chave.Code from package chave's
// source, so that a kind added there without a mapping here fails
// TestNewEveryKindHasOneStatus.
func domainKinds(t *testing.T) []chave.Code {
	var kinds []chave.Code
	for _, v := range sourcetest.StringConsts(t, "../chave", "Code") {
		kinds = append(kinds, chave.Code(v))
	}
	if len(kinds) < 10 {
		t.Fatalf("found %d kinds of domain error in package chave, want at least 10: %v", len(kinds), kinds)
	}
	return kinds
}

// TestNewEveryKindHasOneStatus: every kind of domain error maps to one
// gRPC code and one ErrorInfo reason (Internal to none), every reason of
// chave.errors.v1.Reason is some one kind's, and toStatus writes what the
// table says in a form errorsv1.ReasonOf reads back.
func TestNewEveryKindHasOneStatus(t *testing.T) {
	log := slog.New(slog.DiscardHandler)
	byReason := map[errorsv1.Reason]chave.Code{}
	for _, kind := range domainKinds(t) {
		code, reason, ok := statusOf(kind)
		if !ok {
			t.Errorf("kind %q has no status", kind)
			continue
		}
		st := status.Convert(toStatus(context.Background(), log, chave.Errorf(kind, "safe message")))
		if kind == chave.Internal {
			if reason != errorsv1.Reason_REASON_UNSPECIFIED || st.Code() != codes.Internal || len(st.Details()) != 0 || st.Message() != "internal error" {
				t.Errorf("internal error became %v %v %v, want Internal with no details", st.Code(), st.Message(), st.Details())
			}
			continue
		}
		if reason == errorsv1.Reason_REASON_UNSPECIFIED {
			t.Errorf("kind %q has no reason", kind)
			continue
		}
		if other, dup := byReason[reason]; dup {
			t.Errorf("kinds %q and %q share the reason %v", other, kind, reason)
		}
		byReason[reason] = kind
		if st.Code() != code || st.Message() != "safe message" || errorsv1.ReasonOf(st) != reason {
			t.Errorf("kind %q became %v %q reason %v, want %v %q reason %v", kind, st.Code(), st.Message(), errorsv1.ReasonOf(st), code, "safe message", reason)
		}
	}
	for n := range errorsv1.Reason_name {
		if r := errorsv1.Reason(n); r != errorsv1.Reason_REASON_UNSPECIFIED {
			if _, ok := byReason[r]; !ok {
				t.Errorf("reason %v is no kind's", r)
			}
		}
	}
	if _, _, ok := statusOf("no_such_kind"); ok {
		t.Error("an unknown kind has a status")
	}
}

// TestNewStatusHidesWhatIsNotDomain: errors that are not domain errors
// leave as Internal without their text, bad input names its field, and
// context errors keep their meaning.
func TestNewStatusHidesWhatIsNotDomain(t *testing.T) {
	log := slog.New(slog.DiscardHandler)
	ctx := context.Background()
	for _, err := range []error{
		errors.New("pq: password authentication failed for user chave"),
		status.Error(codes.NotFound, "a status from below is not trusted"),
		&chave.Error{Code: "no_such_kind", Message: "secret detail"},
	} {
		st := status.Convert(toStatus(ctx, log, err))
		if st.Code() != codes.Internal || st.Message() != "internal error" || len(st.Details()) != 0 {
			t.Errorf("%v became %v %q %v, want a bare Internal", err, st.Code(), st.Message(), st.Details())
		}
	}
	st := status.Convert(toStatus(ctx, log, chave.InvalidField("displayName", "is too long")))
	var field string
	for _, d := range st.Details() {
		if br, ok := d.(*errdetails.BadRequest); ok && len(br.GetFieldViolations()) == 1 {
			field = br.GetFieldViolations()[0].GetField()
		}
	}
	if st.Code() != codes.InvalidArgument || st.Message() != "displayName: is too long" || field != "displayName" || errorsv1.ReasonOf(st) != errorsv1.Reason_REASON_INVALID {
		t.Errorf("bad input became %v %q field %q reason %v", st.Code(), st.Message(), field, errorsv1.ReasonOf(st))
	}
	wrapped := &chave.Error{Code: chave.NotFound, Message: "no such token", Err: context.Canceled}
	if got := status.Code(toStatus(ctx, log, wrapped)); got != codes.Canceled {
		t.Errorf("a canceled call became %v", got)
	}
	if got := status.Code(toStatus(ctx, log, context.DeadlineExceeded)); got != codes.DeadlineExceeded {
		t.Errorf("a deadline became %v", got)
	}
}
