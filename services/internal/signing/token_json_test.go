package signing

import (
	"bytes"
	"encoding/json"
	"testing"
)

var claimStrings = []string{
	"", "https://auth.example.com", "chave_01HXYZ", "tenant-a", "chave.admin tss.read",
	`q"uote`, `back\slash`, "<&>", "\x00\n\t\x1f\x7f", "ação", "\u2028", "\xff bad", "😀",
}

func checkClaimsJSON(t *testing.T, w wireClaims) {
	t.Helper()
	want, err := json.Marshal(&w)
	if err != nil {
		t.Fatal(err)
	}
	if got := w.appendJSON(nil); !bytes.Equal(got, want) {
		t.Fatalf("appendJSON = %s\nencoding/json writes %s", got, want)
	}
}

func TestClaimsJSONIsWhatEncodingJSONWrites(t *testing.T) {
	for _, s := range claimStrings {
		for _, aud := range []any{s, []string{s, "second"}, []string{"a", "b", s}} {
			for _, opt := range []string{"", s} {
				checkClaimsJSON(t, wireClaims{
					Iss: s, Sub: s, Aud: aud, Exp: 1767225600, Iat: -1, Jti: s,
					ClientID: s, Scope: s, TenantID: s, Sid: opt, Sv: opt,
				})
			}
		}
	}
	checkClaimsJSON(t, wireClaims{Aud: []string(nil)})
}

func FuzzClaimsJSON(f *testing.F) {
	for _, s := range claimStrings {
		f.Add(s, s, s, int64(1767225600))
	}
	f.Fuzz(func(t *testing.T, a, b, c string, n int64) {
		checkClaimsJSON(t, wireClaims{Iss: a, Sub: b, Aud: c, Exp: n, Iat: n - 1, Jti: a, ClientID: b, Scope: c, TenantID: a, Sid: b, Sv: c})
		checkClaimsJSON(t, wireClaims{Iss: c, Sub: a, Aud: []string{a, b, c}, Exp: -n, Jti: c, ClientID: a, Scope: b, TenantID: c})
	})
}
