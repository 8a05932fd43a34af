package chave

import (
	"errors"
	"math"
	"strings"
	"testing"
	"time"
	"unicode"
	"unicode/utf8"
)

func TestTimeFromUnix(t *testing.T) {
	maxSec := MaxTime.Unix()
	tests := []struct {
		name    string
		seconds int64
		nanos   int32
		want    time.Time // zero: an error naming the field
	}{
		{"epoch", 0, 0, MinTime},
		{"now", now.Unix(), 0, now},
		{"microseconds kept, nanoseconds dropped", now.Unix(), 123_456_789, now.Add(123_456 * time.Microsecond)},
		{"last second", maxSec, 999_999_999, MaxTime.Add(999_999 * time.Microsecond)},
		{"year 10000", maxSec + 1, 0, time.Time{}},
		{"max int64", math.MaxInt64, 0, time.Time{}},
		{"zero Timestamp of 0001-01-01", -62135596800, 0, time.Time{}},
		{"before the epoch", -1, 0, time.Time{}},
		{"min int64", math.MinInt64, 0, time.Time{}},
		{"negative nanos", now.Unix(), -1, time.Time{}},
		{"nanos of a second", now.Unix(), 1_000_000_000, time.Time{}},
		{"max int32 nanos", now.Unix(), math.MaxInt32, time.Time{}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := TimeFromUnix("expireTime", tt.seconds, tt.nanos)
			if tt.want.IsZero() {
				var e *Error
				if !errors.As(err, &e) || e.Code != Invalid || e.Field != "expireTime" {
					t.Fatalf("TimeFromUnix(%d, %d) = %v, %v; want an Invalid error naming expireTime", tt.seconds, tt.nanos, got, err)
				}
				return
			}
			if err != nil || !got.Equal(tt.want) || got.Location() != time.UTC {
				t.Fatalf("TimeFromUnix(%d, %d) = %v, %v; want %v", tt.seconds, tt.nanos, got, err, tt.want)
			}
		})
	}
}

func TestClampTime(t *testing.T) {
	for _, tt := range []struct{ in, want time.Time }{
		{time.Time{}, time.Time{}},
		{now, now},
		{time.Date(10000, 1, 1, 0, 0, 0, 0, time.UTC), MaxTime},
		{time.UnixMicro(math.MaxInt64), MaxTime},
		{time.UnixMicro(math.MinInt64), MinTime},
		{time.Date(1, 1, 1, 0, 0, 1, 0, time.UTC), MinTime},
	} {
		if got := ClampTime(tt.in); !got.Equal(tt.want) {
			t.Errorf("ClampTime(%v) = %v, want %v", tt.in, got, tt.want)
		}
	}
}

func TestTokenValidateTimesAndText(t *testing.T) {
	tenant := Tenant{ID: "acme", Contexts: []string{"foccohub", "inventory"}}
	base := func() Token {
		return Token{DisplayName: "Financeiro", Tenant: "acme", Contexts: []string{"inventory"}}
	}
	tests := []struct {
		name   string
		mutate func(*Token)
		field  string // "" means valid
	}{
		{"year 10000", func(tk *Token) { tk.ExpireTime = time.Date(10000, 1, 1, 0, 0, 0, 0, time.UTC) }, "expireTime"},
		{"last representable second", func(tk *Token) { tk.ExpireTime = MaxTime }, ""},
		{"before the epoch", func(tk *Token) { tk.ExpireTime = time.Date(1, 1, 1, 0, 0, 1, 0, time.UTC) }, "expireTime"},
		{"NUL in displayName", func(tk *Token) { tk.DisplayName = "Fin\x00anceiro" }, "displayName"},
		{"line feed inside displayName", func(tk *Token) { tk.DisplayName = "Fin\nanceiro" }, "displayName"},
		{"tab inside displayName", func(tk *Token) { tk.DisplayName = "Fin\tanceiro" }, "displayName"},
		{"DEL in displayName", func(tk *Token) { tk.DisplayName = "Fin\x7fanceiro" }, "displayName"},
		{"C1 in displayName", func(tk *Token) { tk.DisplayName = "Fin\u0085anceiro" }, "displayName"},
		{"invalid UTF-8 in displayName", func(tk *Token) { tk.DisplayName = "Fin\xffanceiro" }, "displayName"},
		{"accents and emoji in displayName", func(tk *Token) { tk.DisplayName = "Produção 🚀" }, ""},
		{"lines and tabs in description", func(tk *Token) { tk.Description = "Token para consulta\n\tda equipe do financeiro" }, ""},
		{"carriage return in description", func(tk *Token) { tk.Description = "linha 1\r\nlinha 2" }, "description"},
		{"NUL in description", func(tk *Token) { tk.Description = "a\x00b" }, "description"},
		{"ESC in description", func(tk *Token) { tk.Description = "\x1b[2J" }, "description"},
		{"NUL in a parameter value", func(tk *Token) {
			tk.Contexts = []string{"foccohub"}
			tk.Parameters = Parameters{"foccohub": {"marketplace": "mercadolivre\x00"}}
		}, "parameters.foccohub.marketplace"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			tk := base()
			tt.mutate(&tk)
			err := tk.Validate(tenant, DefaultCatalog(), now)
			if tt.field == "" {
				if err != nil {
					t.Fatalf("Validate: %v", err)
				}
				return
			}
			var e *Error
			if !errors.As(err, &e) || e.Code != Invalid || e.Field != tt.field {
				t.Fatalf("Validate = %v; want an Invalid error naming %s", err, tt.field)
			}
		})
	}
}

func TestTenantValidateText(t *testing.T) {
	for _, name := range []string{"Acme\x00", "Ac\u009bme", "Ac\nme", "Acme\xc3"} {
		tn := Tenant{ID: "acme", DisplayName: name}
		var e *Error
		if err := tn.Validate(DefaultCatalog()); !errors.As(err, &e) || e.Field != "displayName" {
			t.Errorf("Validate(%q) = %v; want an error naming displayName", name, err)
		}
	}
}

// FuzzCheckText holds checkText to a rune-by-rune reference: it accepts
// exactly the valid UTF-8 strings without C0, DEL or C1 (tab and line feed
// allowed in multi-line text), and never panics.
func FuzzCheckText(f *testing.F) {
	for _, s := range []string{"", "ok", "a\x00b", "\t\n", "\r", "\x7f", "\u0085", "\xff", "Produção", "\xc2", "\xc2\x9f"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		for _, multiline := range []bool{false, true} {
			want := utf8.ValidString(s) && !strings.ContainsFunc(s, func(r rune) bool {
				return unicode.IsControl(r) && !(multiline && (r == '\t' || r == '\n'))
			})
			err := checkText("f", s, multiline)
			if (err == nil) != want {
				t.Fatalf("checkText(%q, multiline=%v) = %v; want ok=%v", s, multiline, err, want)
			}
		}
	})
}
