package observe_test

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"regexp"
	"strings"
	"testing"

	"github.com/chave/chave/services/internal/observe"
	"github.com/chave/chave/services/internal/secrets"
)

const (
	testJWT     = "eyJhbGciOiJFUzI1NiIsInR5cCI6ImF0K2p3dCJ9.eyJzdWIiOiJjaGF2ZV9jaV94In0.c2lnbmF0dXJl-_"
	testRefresh = "chave_rt_eyJmIjoiYWJjIn0.bWFjLW1hYy1tYWM"
)

func newSecret(t testing.TB) string {
	t.Helper()
	s, err := secrets.NewClientSecret()
	if err != nil {
		t.Fatal(err)
	}
	return s.Reveal()
}

func TestRedactString(t *testing.T) {
	secret := newSecret(t)
	tests := []struct{ in, want string }{
		{"", ""},
		{"nothing to hide", "nothing to hide"},
		{"chave_ci_0123456789abcdefghijkl", "chave_ci_0123456789abcdefghijkl"},
		{secret, "chave_sk_[REDACTED]"},
		{"client " + secret + " failed", "client chave_sk_[REDACTED] failed"},
		{"a=" + secret + "&b=" + secret, "a=chave_sk_[REDACTED]&b=chave_sk_[REDACTED]"},
		{"chave_sk_abc", "chave_sk_[REDACTED]"}, // malformed still hidden
		{"chave_sk_", "chave_sk_"},
		{"chave_sk_[REDACTED]", "chave_sk_[REDACTED]"},
		{"chave_chave_sk_x", "chave_chave_sk_[REDACTED]"},
		{testRefresh, "chave_rt_[REDACTED]"},
		{"Bearer " + testJWT, "Bearer [REDACTED JWT]"},
		{"eyJhbGciOiJub25lIn0.eyJzdWIiOiJ4In0.", "[REDACTED JWT]"}, // alg none: empty signature
		{"eyJ alone", "eyJ alone"},
		{"eyJabc.", "eyJabc."},
		{"eyJabc..sig", "eyJabc..sig"},
		{"x" + testJWT + " " + secret, "x[REDACTED JWT] chave_sk_[REDACTED]"},
		{testJWT + secret, "[REDACTED JWT]"}, // the run goes on: all of it hidden
	}
	for _, tt := range tests {
		if got := observe.RedactString(tt.in); got != tt.want {
			t.Errorf("RedactString(%q) = %q, want %q", tt.in, got, tt.want)
		}
	}
}

type stringer string

func (s stringer) String() string { return string(s) }

type valuer string

func (v valuer) LogValue() slog.Value { return slog.StringValue(string(v)) }

type wrapped struct{ Secret string }

// TestRedactingHandler logs a secret in every place an attribute can carry
// one and checks that the JSON output holds none of it.
func TestRedactingHandler(t *testing.T) {
	secret := newSecret(t)
	var buf bytes.Buffer
	log := slog.New(observe.RedactSecrets(slog.NewJSONHandler(&buf, &slog.HandlerOptions{Level: slog.LevelDebug})))
	log = log.With("client_id", secret, slog.Group("pre", "token", testJWT)).WithGroup("g" + secret)

	log.Info("client "+secret+" failed",
		"string", secret,
		"error", fmt.Errorf("authenticating %s: %w", secret, errors.New("no")),
		"stringer", stringer(secret),
		"valuer", valuer(testRefresh),
		"strings", []string{"ok", secret},
		"bytes", []byte(secret),
		"struct", wrapped{Secret: secret},
		slog.Group("nested", slog.Group("deeper", "jwt", testJWT, "n", 3)),
		secret, "as a key",
		"fine", "chave_ci_0123456789abcdefghijkl",
	)
	out := buf.String()
	for _, leak := range []string{secret[len("chave_sk_"):], testJWT[:20], testRefresh[len("chave_rt_"):]} {
		if strings.Contains(out, leak) {
			t.Fatalf("the log holds a credential: %s", out)
		}
	}
	for _, want := range []string{`"client_id":"chave_sk_[REDACTED]"`, `"token":"[REDACTED JWT]"`,
		`"msg":"client chave_sk_[REDACTED] failed"`, `"deeper":{"jwt":"[REDACTED JWT]","n":3}`,
		`"strings":["ok","chave_sk_[REDACTED]"]`, `"fine":"chave_ci_0123456789abcdefghijkl"`} {
		if !strings.Contains(out, want) {
			t.Errorf("the log lacks %s: %s", want, out)
		}
	}
}

// TestRedactingHandlerPassesCleanRecords: a record with nothing to hide
// reaches the next handler as it was, with its level checks.
func TestRedactingHandlerPassesCleanRecords(t *testing.T) {
	var buf bytes.Buffer
	h := observe.RedactSecrets(slog.NewJSONHandler(&buf, &slog.HandlerOptions{Level: slog.LevelInfo}))
	if observe.RedactSecrets(h) != h {
		t.Error("wrapping twice wraps again")
	}
	if h.Enabled(context.Background(), slog.LevelDebug) {
		t.Error("Debug enabled through an Info handler")
	}
	slog.New(h).Info("token created", "token", "chave_ci_x", "fields", []string{"displayName"}, "n", 1)
	if got := buf.String(); !strings.Contains(got, `"msg":"token created","token":"chave_ci_x","fields":["displayName"],"n":1`) {
		t.Errorf("clean record changed: %s", got)
	}
}

var (
	secretLeft  = regexp.MustCompile(`chave_(sk|rt)_[A-Za-z0-9_.-]`)
	jwtLeft     = regexp.MustCompile(`eyJ[A-Za-z0-9_-]*\.[A-Za-z0-9_-]+\.`)
	fuzzSecrets = []string{"chave_sk_0000000000000000000000000000000000000000000000000", testRefresh, testJWT}
)

// FuzzRedactString: whatever surrounds a credential, none of it survives;
// the output holds nothing that still looks like one; redacting is
// idempotent; and text without a credential passes unchanged.
func FuzzRedactString(f *testing.F) {
	for _, s := range []string{"", "x", "chave_", "chave_sk_", "eyJ", "eyJa.b.", "chave_sk_[REDACTED]", "[REDACTED JWT]."} {
		f.Add(s, s, uint8(0))
	}
	f.Fuzz(func(t *testing.T, before, after string, which uint8) {
		cred := fuzzSecrets[int(which)%len(fuzzSecrets)]
		for _, s := range []string{before, before + cred + after} {
			got := observe.RedactString(s)
			if secretLeft.MatchString(got) || jwtLeft.MatchString(got) {
				t.Fatalf("RedactString(%q) = %q still holds a credential", s, got)
			}
			if again := observe.RedactString(got); again != got {
				t.Fatalf("not idempotent: %q → %q → %q", s, got, again)
			}
			if !secretLeft.MatchString(s) && !jwtLeft.MatchString(s) && got != s {
				t.Fatalf("RedactString(%q) = %q changed text with no credential", s, got)
			}
		}
		if got := observe.RedactString(before + cred + after); strings.Contains(got, cred[12:]) && !strings.Contains(before+after, cred[12:]) {
			t.Fatalf("the credential survives in %q", got)
		}
	})
}

// BenchmarkRedactingHandler measures the cost on the hot path: a grant's
// log record with nothing to hide, against the bare JSON handler, and a
// record that needs redacting.
func BenchmarkRedactingHandler(b *testing.B) {
	attrs := []any{"grant_type", "client_credentials", "client_id", "chave_ci_0123456789abcdefghijkl",
		"scope", "inventory telegram", "request_id", "0f1e2d3c4b5a69788796a5b4c3d2e1f0", "duration", 1500}
	secret := newSecret(b)
	for _, bc := range []struct {
		name  string
		h     slog.Handler
		attrs []any
	}{
		{"bare/clean", slog.NewJSONHandler(io.Discard, nil), attrs},
		{"redacting/clean", observe.RedactSecrets(slog.NewJSONHandler(io.Discard, nil)), attrs},
		{"redacting/secret", observe.RedactSecrets(slog.NewJSONHandler(io.Discard, nil)), append([]any{"bad", secret}, attrs...)},
	} {
		b.Run(bc.name, func(b *testing.B) {
			log := slog.New(bc.h)
			b.ReportAllocs()
			for b.Loop() {
				log.Info("token issued", bc.attrs...)
			}
		})
	}
}

func BenchmarkRedactString(b *testing.B) {
	clean := strings.Repeat("chave_ci_0123456789abcdefghijkl eyJ-not-a-jwt ", 4)
	b.ReportAllocs()
	for b.Loop() {
		_ = observe.RedactString(clean)
	}
}
