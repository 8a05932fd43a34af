package gateway

import (
	"bytes"
	"encoding/json"
	"testing"
)

// jsonBodyStrings are values the hand-written bodies must write exactly as
// encoding/json does: tokens, and everything that needs an escape.
var jsonBodyStrings = []string{
	"", "Bearer", "eyJhbGciOiJFUzI1NiJ9.eyJpc3MiOiJ4In0.c2ln", "chave.admin tenant:a-b_c",
	`quote"d`, `back\slash`, "<script>&amp;", "tab\there", "nl\n\r\b\f", "\x00\x1f\x7f",
	"ação", "\u2028\u2029", "\xff\xfe invalid", "emoji 😀",
}

func TestTokenBodyIsWhatEncodingJSONWrites(t *testing.T) {
	for _, s := range jsonBodyStrings {
		for _, refresh := range []string{"", s} {
			r := tokenResponse{AccessToken: s, TokenType: s, ExpiresIn: 1800, RefreshToken: refresh, Scope: s}
			want, err := json.Marshal(r)
			if err != nil {
				t.Fatal(err)
			}
			if got := tokenBody(r); !bytes.Equal(got, want) {
				t.Errorf("tokenBody(%+v) = %s, want %s", r, got, want)
			}
		}
		r := tssTokenResponse{AccessToken: s, ExpiresIn: -5, RefreshToken: s, TokenType: s}
		want, err := json.Marshal(r)
		if err != nil {
			t.Fatal(err)
		}
		if got := tssTokenBody(r); !bytes.Equal(got, want) {
			t.Errorf("tssTokenBody(%+v) = %s, want %s", r, got, want)
		}
	}
}

func FuzzTokenBody(f *testing.F) {
	for _, s := range jsonBodyStrings {
		f.Add(s, s, int64(60))
	}
	f.Fuzz(func(t *testing.T, token, scope string, expiresIn int64) {
		r := tokenResponse{AccessToken: token, TokenType: "Bearer", ExpiresIn: expiresIn, RefreshToken: scope, Scope: scope}
		want, _ := json.Marshal(r)
		if got := tokenBody(r); !bytes.Equal(got, want) {
			t.Fatalf("tokenBody = %s, want %s", got, want)
		}
		tr := tssTokenResponse{AccessToken: token, ExpiresIn: expiresIn, RefreshToken: scope, TokenType: "Bearer"}
		want, _ = json.Marshal(tr)
		if got := tssTokenBody(tr); !bytes.Equal(got, want) {
			t.Fatalf("tssTokenBody = %s, want %s", got, want)
		}
	})
}
