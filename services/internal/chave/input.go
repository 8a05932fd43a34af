package chave

import (
	"fmt"
	"time"
	"unicode/utf8"
)

// The rules every edge (gRPC, REST, the CLI) applies to what a request
// carries, so that nothing stored can later fail to be read or shown.

// MinTime and MaxTime bound every time chave accepts or answers. MaxTime is
// the last second that RFC 3339, protobuf's Timestamp and JSON can all
// represent; nothing in chave happens before MinTime, the Unix epoch, so an
// earlier time (protobuf's and Go's zero, 0001-01-01, among them) is always
// in the past.
var (
	MinTime = time.Unix(0, 0).UTC()
	MaxTime = time.Date(9999, 12, 31, 23, 59, 59, 0, time.UTC)
)

// TimeFromUnix converts a time a request carries as Unix seconds and nanos
// (a google.protobuf.Timestamp) and checks that it is representable: nanos
// in [0, 999999999], not after MaxTime, and not before MinTime, which
// reads as a date in the past. The result is UTC, to the microsecond (what
// storage keeps). It is never the zero time, which means "none" in the
// domain. Errors name field.
func TimeFromUnix(field string, seconds int64, nanos int32) (time.Time, error) {
	switch {
	case nanos < 0 || nanos > 999_999_999:
		return time.Time{}, InvalidField(field, "nanos must be between 0 and 999999999 (got %d)", nanos)
	case seconds > MaxTime.Unix():
		return time.Time{}, InvalidField(field, "must not be after %s", MaxTime.Format(time.RFC3339))
	case seconds < MinTime.Unix():
		return time.Time{}, InvalidField(field, "must be in the future (got %s)", describeUnix(seconds))
	}
	return time.Unix(seconds, int64(nanos)).UTC().Truncate(time.Microsecond), nil
}

// describeUnix writes Unix seconds as RFC 3339 where it can, else as the
// number.
func describeUnix(seconds int64) string {
	if seconds < time.Date(0, 1, 1, 0, 0, 0, 0, time.UTC).Unix() {
		return fmt.Sprintf("%d seconds since 1970", seconds)
	}
	return time.Unix(seconds, 0).UTC().Format(time.RFC3339)
}

// CheckTime checks a time that is set (not the zero time) against
// [MinTime, MaxTime]. Errors name field.
func CheckTime(field string, t time.Time) error {
	switch {
	case t.After(MaxTime):
		return InvalidField(field, "must not be after %s", MaxTime.Format(time.RFC3339))
	case t.Before(MinTime):
		return InvalidField(field, "must be in the future (got %s)", describeUnix(t.Unix()))
	}
	return nil
}

// ClampTime brings a set time read back from storage into [MinTime,
// MaxTime], so that a row written before these rules (or by hand) is still
// shown and still expires instead of failing every read. The zero time,
// "none", stays zero.
func ClampTime(t time.Time) time.Time {
	switch {
	case t.IsZero():
		return t
	case t.After(MaxTime):
		return MaxTime
	case t.Before(MinTime):
		return MinTime
	}
	return t
}

// CheckLine checks a single-line text field (a name, an id, a parameter
// value): valid UTF-8 without control characters, none of C0 (NUL to US,
// tab and line feed included), DEL or C1. Errors name field.
func CheckLine(field, s string) error { return checkText(field, s, false) }

// CheckText checks a free-text field (a description): as CheckLine, except
// that tab and line feed are allowed, so the text may have lines and
// indentation. Carriage return is not: it rewrites lines on a terminal and
// in logs, and browsers send line breaks as line feeds alone.
func CheckText(field, s string) error { return checkText(field, s, true) }

func checkText(field, s string, multiline bool) error {
	for i := 0; i < len(s); {
		c := s[i]
		if c < utf8.RuneSelf { // ASCII: the common case, no decoding
			if (c < 0x20 || c == 0x7f) && !(multiline && (c == '\t' || c == '\n')) {
				return InvalidField(field, "must not contain control characters (found U+%04X at byte %d)", c, i)
			}
			i++
			continue
		}
		r, size := utf8.DecodeRuneInString(s[i:])
		if r == utf8.RuneError && size == 1 {
			return InvalidField(field, "must be valid UTF-8 (bad byte at %d)", i)
		}
		if r >= 0x80 && r <= 0x9f {
			return InvalidField(field, "must not contain control characters (found U+%04X at byte %d)", r, i)
		}
		i += size
	}
	return nil
}
