package errorsv1_test

import (
	"regexp"
	"testing"

	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"

	errorsv1 "github.com/chave/chave/proto/chave/errors/v1"
)

// TestNewErrorVocabularyRoundTrips checks every value of both enums: its
// string form has the shape its standard asks and parses back to it, and
// a status carrying its ErrorInfo reads back as it.
func TestNewErrorVocabularyRoundTrips(t *testing.T) {
	if errorsv1.RegistryDomain() != "registry.chave" || errorsv1.OAuthDomain() != "oauth2.chave" || errorsv1.VerifyDomain() != "verify.chave" {
		t.Fatalf("domains = %q, %q, %q", errorsv1.RegistryDomain(), errorsv1.OAuthDomain(), errorsv1.VerifyDomain())
	}
	upperSnake := regexp.MustCompile(`^[A-Z][A-Z0-9_]*[A-Z0-9]$`) // AIP-193
	for n := range errorsv1.Reason_name {
		r := errorsv1.Reason(n)
		if r == errorsv1.Reason_REASON_UNSPECIFIED {
			if r.ErrorReason() != "" {
				t.Errorf("unspecified reason spelled %q", r.ErrorReason())
			}
			continue
		}
		s := r.ErrorReason()
		if !upperSnake.MatchString(s) || errorsv1.ParseReason(s) != r {
			t.Errorf("%v: reason %q does not round-trip", r, s)
		}
		st, _ := status.New(codes.FailedPrecondition, "x").WithDetails(r.ErrorInfo())
		if got := errorsv1.ReasonOf(st); got != r {
			t.Errorf("ReasonOf(status with %v) = %v", r, got)
		}
		if got := errorsv1.OauthErrorOf(st); got != errorsv1.OauthError_OAUTH_ERROR_UNSPECIFIED {
			t.Errorf("a registry reason read as the OAuth error %v", got)
		}
	}
	for n := range errorsv1.TokenRejection_name {
		r := errorsv1.TokenRejection(n)
		if r == errorsv1.TokenRejection_TOKEN_REJECTION_UNSPECIFIED {
			if r.ErrorReason() != "" {
				t.Errorf("unspecified rejection spelled %q", r.ErrorReason())
			}
			continue
		}
		s := r.ErrorReason()
		if !upperSnake.MatchString(s) || errorsv1.ParseTokenRejection(s) != r {
			t.Errorf("%v: reason %q does not round-trip", r, s)
		}
		st, _ := status.New(codes.Unauthenticated, "x").WithDetails(r.ErrorInfo())
		if got := errorsv1.TokenRejectionOf(st); got != r {
			t.Errorf("TokenRejectionOf(status with %v) = %v", r, got)
		}
		if got := errorsv1.ReasonOf(st); got != errorsv1.Reason_REASON_UNSPECIFIED {
			t.Errorf("a token rejection read as the registry reason %v", got)
		}
	}
	oauthCode := regexp.MustCompile(`^[a-z][a-z_]*[a-z]$`) // RFC 6749 §5.2, in practice
	for n := range errorsv1.OauthError_name {
		e := errorsv1.OauthError(n)
		if e == errorsv1.OauthError_OAUTH_ERROR_UNSPECIFIED {
			if e.Code() != "" {
				t.Errorf("unspecified OAuth error spelled %q", e.Code())
			}
			continue
		}
		c := e.Code()
		if !oauthCode.MatchString(c) || errorsv1.ParseOauthError(c) != e {
			t.Errorf("%v: code %q does not round-trip", e, c)
		}
		st, _ := status.New(codes.InvalidArgument, "x").WithDetails(e.ErrorInfo())
		if got := errorsv1.OauthErrorOf(st); got != e {
			t.Errorf("OauthErrorOf(status with %v) = %v", e, got)
		}
		if got := errorsv1.ReasonOf(st); got != errorsv1.Reason_REASON_UNSPECIFIED {
			t.Errorf("an OAuth error read as the registry reason %v", got)
		}
	}
}

func TestNewErrorVocabularyRejectsOtherSpellings(t *testing.T) {
	for _, s := range []string{"", "invalid_grant", "Invalid_Grant", "REASON_INVALID_GRANT", "UNSPECIFIED", "NOPE"} {
		if r := errorsv1.ParseReason(s); r != errorsv1.Reason_REASON_UNSPECIFIED {
			t.Errorf("ParseReason(%q) = %v", s, r)
		}
	}
	for _, s := range []string{"", "INVALID_GRANT", "Invalid_grant", "oauth_error_invalid_grant", "unspecified", "nope"} {
		if e := errorsv1.ParseOauthError(s); e != errorsv1.OauthError_OAUTH_ERROR_UNSPECIFIED {
			t.Errorf("ParseOauthError(%q) = %v", s, e)
		}
	}
	for _, s := range []string{"", "expired", "TOKEN_REJECTION_EXPIRED", "UNSPECIFIED"} {
		if r := errorsv1.ParseTokenRejection(s); r != errorsv1.TokenRejection_TOKEN_REJECTION_UNSPECIFIED {
			t.Errorf("ParseTokenRejection(%q) = %v", s, r)
		}
	}
	if r := errorsv1.ReasonOf(status.New(codes.Internal, "no details")); r != errorsv1.Reason_REASON_UNSPECIFIED {
		t.Errorf("ReasonOf(no details) = %v", r)
	}
}
