package observe

import (
	"context"
	"fmt"
	"log/slog"
	"strings"
)

// The redacting handler is the logs' last line of defence: whatever a log
// call passes, a chave client secret (chave_sk_…), a refresh token
// (chave_rt_…) or a JWT (eyJ….….…) never reaches the output. The call
// sites already avoid logging them; this catches the ones that slip, such
// as a secret a client sent in its client_id field.

// Placeholders that replace what is redacted. They keep the kind of the
// credential, so that an operator still sees what was sent.
const (
	redactedSecret  = "chave_sk_[REDACTED]"
	redactedRefresh = "chave_rt_[REDACTED]"
	redactedJWT     = "[REDACTED JWT]"
)

// RedactSecrets wraps next so that every message, attribute key and
// attribute value (strings, errors, Stringers, string slices, LogValuers and
// groups at any depth) has its credentials replaced by a placeholder.
// Wrapping twice wraps once.
func RedactSecrets(next slog.Handler) slog.Handler {
	if h, ok := next.(*redactHandler); ok {
		return h
	}
	return &redactHandler{next: next}
}

// RedactingLogger returns a logger that writes to l's handler through
// RedactSecrets; nil stays nil.
func RedactingLogger(l *slog.Logger) *slog.Logger {
	if l == nil {
		return nil
	}
	if _, ok := l.Handler().(*redactHandler); ok {
		return l
	}
	return slog.New(RedactSecrets(l.Handler()))
}

type redactHandler struct{ next slog.Handler }

func (h *redactHandler) Enabled(ctx context.Context, level slog.Level) bool {
	return h.next.Enabled(ctx, level)
}

// Handle passes the record on untouched (no copy, no allocation) unless
// something in it needs redacting.
func (h *redactHandler) Handle(ctx context.Context, r slog.Record) error {
	dirty := hasCredential(r.Message)
	if !dirty {
		r.Attrs(func(a slog.Attr) bool {
			dirty = attrNeedsRedaction(a)
			return !dirty
		})
	}
	if !dirty {
		return h.next.Handle(ctx, r)
	}
	out := slog.NewRecord(r.Time, r.Level, RedactString(r.Message), r.PC)
	r.Attrs(func(a slog.Attr) bool {
		out.AddAttrs(redactAttr(a))
		return true
	})
	return h.next.Handle(ctx, out)
}

func (h *redactHandler) WithAttrs(attrs []slog.Attr) slog.Handler {
	out := make([]slog.Attr, len(attrs))
	for i, a := range attrs {
		out[i] = redactAttr(a)
	}
	return &redactHandler{next: h.next.WithAttrs(out)}
}

func (h *redactHandler) WithGroup(name string) slog.Handler {
	return &redactHandler{next: h.next.WithGroup(RedactString(name))}
}

func attrNeedsRedaction(a slog.Attr) bool {
	if hasCredential(a.Key) {
		return true
	}
	v := a.Value
	switch v.Kind() {
	case slog.KindString:
		return hasCredential(v.String())
	case slog.KindGroup:
		for _, g := range v.Group() {
			if attrNeedsRedaction(g) {
				return true
			}
		}
		return false
	case slog.KindLogValuer:
		return attrNeedsRedaction(slog.Attr{Value: v.Resolve()})
	case slog.KindAny:
		_, dirty := redactAny(v.Any())
		return dirty
	}
	return false // numbers, booleans, durations and times hold no credential
}

func redactAttr(a slog.Attr) slog.Attr {
	a.Key = RedactString(a.Key)
	v := a.Value
	switch v.Kind() {
	case slog.KindString:
		if s := v.String(); hasCredential(s) {
			a.Value = slog.StringValue(RedactString(s))
		}
	case slog.KindGroup:
		group := v.Group()
		out := make([]slog.Attr, len(group))
		for i, g := range group {
			out[i] = redactAttr(g)
		}
		a.Value = slog.GroupValue(out...)
	case slog.KindLogValuer:
		a.Value = v.Resolve()
		return redactAttr(a)
	case slog.KindAny:
		if redacted, dirty := redactAny(v.Any()); dirty {
			a.Value = redacted
		}
	}
	return a
}

// redactAny checks the text a handler would print for x, and returns the
// redacted replacement when it holds a credential.
func redactAny(x any) (slog.Value, bool) {
	var text string
	switch x := x.(type) {
	case nil:
		return slog.Value{}, false
	case error:
		text = x.Error()
	case fmt.Stringer:
		text = x.String()
	case []byte:
		text = string(x)
	case []string:
		dirty := false
		for _, s := range x {
			if hasCredential(s) {
				dirty = true
				break
			}
		}
		if !dirty {
			return slog.Value{}, false
		}
		out := make([]string, len(x))
		for i, s := range x {
			out[i] = RedactString(s)
		}
		return slog.AnyValue(out), true
	default:
		text = fmt.Sprintf("%+v", x)
	}
	if !hasCredential(text) {
		return slog.Value{}, false
	}
	return slog.StringValue(RedactString(text)), true
}

// hasCredential reports whether s holds something RedactString replaces.
func hasCredential(s string) bool {
	_, _, _, ok := nextCredential(s)
	return ok
}

// RedactString returns s with every client secret, refresh token and JWT
// in it replaced by a placeholder.
func RedactString(s string) string {
	start, end, placeholder, ok := nextCredential(s)
	if !ok {
		return s
	}
	var b strings.Builder
	b.Grow(len(s))
	for ok {
		b.WriteString(s[:start])
		b.WriteString(placeholder)
		s = s[end:]
		start, end, placeholder, ok = nextCredential(s)
	}
	b.WriteString(s)
	return b.String()
}

// nextCredential finds the first credential in s: a chave_sk_ or chave_rt_
// prefix followed by at least one character of a token, or a JWT's shape
// (a base64url segment starting "eyJ", another, and a third that may be
// empty, joined by dots). It returns the span to replace and its
// placeholder. Two substring searches, no allocation.
func nextCredential(s string) (start, end int, placeholder string, ok bool) {
	start, end, placeholder, ok = nextPrefixed(s)
	if js, je, jok := nextJWT(s); jok && (!ok || js < start) {
		return js, je, redactedJWT, true
	}
	return start, end, placeholder, ok
}

func nextPrefixed(s string) (start, end int, placeholder string, ok bool) {
	const prefix = "chave_"
	for off := 0; ; {
		i := strings.Index(s[off:], prefix)
		if i < 0 {
			return 0, 0, "", false
		}
		i += off
		kind := s[i+len(prefix):]
		switch {
		case strings.HasPrefix(kind, "sk_"):
			placeholder = redactedSecret
		case strings.HasPrefix(kind, "rt_"):
			placeholder = redactedRefresh
		default:
			off = i + len(prefix)
			continue
		}
		body := i + len(prefix) + len("sk_")
		end = body + tokenRun(s[body:])
		if end == body { // a bare prefix (or a placeholder): nothing to hide
			off = body
			continue
		}
		return i, end, placeholder, true
	}
}

// nextJWT finds the first JWT in s.
func nextJWT(s string) (start, end int, ok bool) {
	for off := 0; ; {
		i := strings.Index(s[off:], "eyJ")
		if i < 0 {
			return 0, 0, false
		}
		i += off
		header := i + b64Run(s[i:])
		if header < len(s) && s[header] == '.' {
			payload := header + 1 + b64Run(s[header+1:])
			if payload > header+1 && payload < len(s) && s[payload] == '.' {
				return i, payload + 1 + b64Run(s[payload+1:]), true
			}
		}
		off = i + len("eyJ")
	}
}

// tokenRun is the length of the run of characters a secret or refresh
// token is made of (base62, base64url and the refresh token's dot) at the
// start of s.
func tokenRun(s string) int {
	for i := range len(s) {
		if c := s[i]; !isB64URL(c) && c != '.' {
			return i
		}
	}
	return len(s)
}

// b64Run is the length of the run of base64url characters at the start of s.
func b64Run(s string) int {
	for i := range len(s) {
		if !isB64URL(s[i]) {
			return i
		}
	}
	return len(s)
}

func isB64URL(c byte) bool {
	return 'a' <= c && c <= 'z' || 'A' <= c && c <= 'Z' || '0' <= c && c <= '9' || c == '-' || c == '_'
}
