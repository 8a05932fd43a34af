package auth

import (
	"bytes"
	"context"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/base64"
	"encoding/json"
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/chave/chave/services/internal/chave"
)

var (
	testRefreshKey = []byte("0123456789abcdef0123456789abcdef")
	testNow        = time.Date(2030, 1, 2, 3, 4, 5, 0, time.UTC)
)

func testCodec(t testing.TB) refreshCodec {
	t.Helper()
	c, err := newRefreshCodec(testRefreshKey)
	if err != nil {
		t.Fatal(err)
	}
	return c
}

func testRefreshToken() refreshToken {
	return refreshToken{
		family:        "AAAAAAAAAAAAAAAAAAAAAA",
		generation:    3,
		clientID:      "client-1",
		scopes:        []string{"commercial", "inventory"},
		issuedAt:      testNow,
		expiry:        testNow.Add(24 * time.Hour),
		familyExpiry:  testNow.Add(30 * 24 * time.Hour),
		secretVersion: "v1",
	}
}

// sealed MACs payload JSON as encode does, so that the strict decoding
// behind the MAC can be tested.
func sealed(payload string) string {
	signed := refreshTokenPrefix + base64.RawURLEncoding.EncodeToString([]byte(payload))
	m := hmac.New(sha256.New, testRefreshKey)
	m.Write([]byte(signed))
	return signed + "." + base64.RawURLEncoding.EncodeToString(m.Sum(nil))
}

func sameToken(a, b refreshToken) bool {
	return a.family == b.family && a.generation == b.generation && a.clientID == b.clientID &&
		strings.Join(a.scopes, " ") == strings.Join(b.scopes, " ") && a.issuedAt.Equal(b.issuedAt) &&
		a.expiry.Equal(b.expiry) && a.familyExpiry.Equal(b.familyExpiry) && a.secretVersion == b.secretVersion
}

func TestRefreshTokenRoundTrip(t *testing.T) {
	c := testCodec(t)
	want := testRefreshToken()
	raw, err := c.encode(context.Background(), want)
	if err != nil {
		t.Fatal(err)
	}
	const wantPayload = `{"f":"AAAAAAAAAAAAAAAAAAAAAA","g":3,"c":"client-1","s":"commercial inventory","i":1893553445,"e":1893639845,"x":1896145445,"v":"v1"}`
	if raw != sealed(wantPayload) {
		t.Errorf("encode = %s\nwant %s", raw, sealed(wantPayload))
	}
	got, err := c.parse(context.Background(), raw)
	if err != nil {
		t.Fatalf("parse: %v", err)
	}
	if !sameToken(got, want) {
		t.Errorf("parse = %+v, want %+v", got, want)
	}
	if got.expired(testNow.Add(24*time.Hour-time.Second)) || !got.expired(testNow.Add(24*time.Hour)) {
		t.Error("expired is wrong at the expiry's edge")
	}

	// Another key refuses it.
	other, _ := newRefreshCodec([]byte("another key, another key, another key"))
	if _, err := other.parse(context.Background(), raw); !errors.Is(err, errRefreshToken) {
		t.Errorf("another key's parse: %v, want errRefreshToken", err)
	}
	// Family ids are 128 random bits.
	a, b := newFamilyID(), newFamilyID()
	if a == b || !chave.ValidFamilyID(a) || len(a) != 22 {
		t.Errorf("family ids %q, %q", a, b)
	}
}

func TestEncodeRefusesBadTokens(t *testing.T) {
	c := testCodec(t)
	for name, mutate := range map[string]func(*refreshToken){
		"bad family":            func(r *refreshToken) { r.family = "short" },
		"negative generation":   func(r *refreshToken) { r.generation = -1 },
		"no client":             func(r *refreshToken) { r.clientID = "" },
		"no scopes":             func(r *refreshToken) { r.scopes = nil },
		"unsorted scopes":       func(r *refreshToken) { r.scopes = []string{"b", "a"} },
		"scope with a space":    func(r *refreshToken) { r.scopes = []string{"a b"} },
		"no secret version":     func(r *refreshToken) { r.secretVersion = "" },
		"expiry before issue":   func(r *refreshToken) { r.expiry = r.issuedAt },
		"expiry after family's": func(r *refreshToken) { r.familyExpiry = r.expiry.Add(-time.Second) },
		"no issue time":         func(r *refreshToken) { r.issuedAt = time.Time{} },
	} {
		rt := testRefreshToken()
		mutate(&rt)
		if raw, err := c.encode(context.Background(), rt); err == nil {
			t.Errorf("%s: encode = %s, want an error", name, raw)
		}
	}
	if _, err := newRefreshCodec(testRefreshKey[:31]); err == nil {
		t.Error("a 31-byte key was accepted")
	}
}

// TestParseIsStrictBehindTheMAC: even with a good MAC, only what encode
// writes is accepted.
func TestParseIsStrictBehindTheMAC(t *testing.T) {
	c := testCodec(t)
	const good = `{"f":"AAAAAAAAAAAAAAAAAAAAAA","g":0,"c":"c","s":"a b","i":1893553445,"e":1893639845,"x":1896145445,"v":"v"}`
	if _, err := c.parse(context.Background(), sealed(good)); err != nil {
		t.Fatalf("parse of the good payload: %v", err)
	}
	for name, payload := range map[string]string{
		"unknown member":       `{"f":"AAAAAAAAAAAAAAAAAAAAAA","g":0,"c":"c","s":"a b","i":1893553445,"e":1893639845,"x":1896145445,"v":"v","z":1}`,
		"missing member":       `{"f":"AAAAAAAAAAAAAAAAAAAAAA","g":0,"c":"c","s":"a b","i":1893553445,"e":1893639845,"x":1896145445}`,
		"null member":          `{"f":"AAAAAAAAAAAAAAAAAAAAAA","g":null,"c":"c","s":"a b","i":1893553445,"e":1893639845,"x":1896145445,"v":"v"}`,
		"trailing data":        good + `{}`,
		"spaces":               strings.ReplaceAll(good, ",", ", "),
		"other order":          `{"g":0,"f":"AAAAAAAAAAAAAAAAAAAAAA","c":"c","s":"a b","i":1893553445,"e":1893639845,"x":1896145445,"v":"v"}`,
		"float generation":     strings.Replace(good, `"g":0`, `"g":0.0`, 1),
		"string generation":    strings.Replace(good, `"g":0`, `"g":"0"`, 1),
		"negative generation":  strings.Replace(good, `"g":0`, `"g":-1`, 1),
		"short family":         strings.Replace(good, `AAAAAAAAAAAAAAAAAAAAAA`, `AAAA`, 1),
		"family not base64url": strings.Replace(good, `AAAAAAAAAAAAAAAAAAAAAA`, `AAAAAAAAAAAAAAAAAAAAA+`, 1),
		"family with bits set": strings.Replace(good, `AAAAAAAAAAAAAAAAAAAAAA`, `AAAAAAAAAAAAAAAAAAAAAB`, 1),
		"empty client":         strings.Replace(good, `"c":"c"`, `"c":""`, 1),
		"empty scope":          strings.Replace(good, `"s":"a b"`, `"s":""`, 1),
		"unsorted scopes":      strings.Replace(good, `"s":"a b"`, `"s":"b a"`, 1),
		"repeated scope":       strings.Replace(good, `"s":"a b"`, `"s":"a a"`, 1),
		"double space":         strings.Replace(good, `"s":"a b"`, `"s":"a  b"`, 1),
		"tab in scope":         strings.Replace(good, `"s":"a b"`, `"s":"a\tb"`, 1),
		"empty version":        strings.Replace(good, `"v":"v"`, `"v":""`, 1),
		"zero iat":             strings.Replace(good, `"i":1893553445`, `"i":0`, 1),
		"exp before iat":       strings.Replace(good, `"e":1893639845`, `"e":1893553444`, 1),
		"exp after family":     strings.Replace(good, `"x":1896145445`, `"x":1893639844`, 1),
		"year 10000":           strings.Replace(good, `"x":1896145445`, `"x":253402300800`, 1),
		"array":                `[1]`,
		"not JSON":             `{`,
		"empty":                ``,
	} {
		t.Run(name, func(t *testing.T) {
			if got, err := c.parse(context.Background(), sealed(payload)); !errors.Is(err, errRefreshToken) {
				t.Errorf("parse = %+v, %v; want errRefreshToken", got, err)
			}
		})
	}
}

// FuzzParseRefreshToken: parse never panics, and whatever it accepts
// carries a valid MAC and encodes back to exactly the same text.
func FuzzParseRefreshToken(f *testing.F) {
	c := testCodec(f)
	good, err := c.encode(context.Background(), testRefreshToken())
	if err != nil {
		f.Fatal(err)
	}
	f.Add(good)
	f.Add(good[:len(good)-1])
	f.Add(good + "A")
	f.Add(strings.Replace(good, ".", "", 1))
	f.Add(sealed(`{"f":"AAAAAAAAAAAAAAAAAAAAAA","g":0,"c":"c","s":"a","i":1,"e":2,"x":2,"v":"v"}`))
	f.Add(sealed(`{"f":"AAAAAAAAAAAAAAAAAAAAAA","g":0,"c":"c","s":"a","i":1,"e":2,"x":2,"v":"v","z":0}`))
	f.Add(sealed(`{}`))
	f.Add("chave_rt_")
	f.Add("chave_rt_.")
	f.Add("")
	f.Fuzz(func(t *testing.T, raw string) {
		rt, err := c.parse(context.Background(), raw)
		if err != nil {
			if !errors.Is(err, errRefreshToken) {
				t.Fatalf("parse error %v is not errRefreshToken", err)
			}
			return
		}
		body := strings.TrimPrefix(raw, refreshTokenPrefix)
		payloadB64, macB64, _ := strings.Cut(body, ".")
		got, err := base64.RawURLEncoding.DecodeString(macB64)
		if err != nil || !hmac.Equal(got, mac(testRefreshKey, refreshTokenPrefix+payloadB64)) {
			t.Fatalf("parse accepted %q without a valid MAC", raw)
		}
		again, err := c.encode(context.Background(), rt)
		if err != nil {
			t.Fatalf("encode of an accepted token: %v", err)
		}
		if again != raw {
			t.Fatalf("round trip: parse(%q) encodes to %q", raw, again)
		}
	})
}

func BenchmarkParseRefreshToken(b *testing.B) {
	c := testCodec(b)
	raw, err := c.encode(context.Background(), testRefreshToken())
	if err != nil {
		b.Fatal(err)
	}
	b.ReportAllocs()
	defer ReportCPU(b)()
	for b.Loop() {
		if _, err := c.parse(context.Background(), raw); err != nil {
			b.Fatal(err)
		}
	}
}

// FuzzAppendPayloadIsJSONMarshal: the hand-written encoding of the payload
// is byte for byte json.Marshal's, whatever the strings hold (a token
// issued before it must still verify, and parse compares bytes).
func FuzzAppendPayloadIsJSONMarshal(f *testing.F) {
	f.Add("AAAAAAAAAAAAAAAAAAAAAA", int64(3), "chave_client", "a b", int64(1), int64(2), int64(3), "v1")
	f.Add("<&>", int64(-1), "ação \u2028", "\"\\\t\x00", int64(0), int64(-9), int64(1<<62), "\xff")
	f.Fuzz(func(t *testing.T, family string, gen int64, client, scope string, iat, exp, fexp int64, version string) {
		want, err := json.Marshal(refreshPayload{Family: &family, Generation: &gen, ClientID: &client, Scope: &scope,
			IssuedAt: &iat, Expiry: &exp, FamilyExpiry: &fexp, SecretVersion: &version})
		if err != nil {
			t.Fatal(err)
		}
		if got := appendPayload(nil, family, gen, client, scope, iat, exp, fexp, version); !bytes.Equal(got, want) {
			t.Fatalf("appendPayload = %s, json.Marshal = %s", got, want)
		}
	})
}

// FuzzParsePayloadAgreesWithJSON: what the fast decoding of the payload
// accepts, the encoding/json one accepts too, with the same values.
func FuzzParsePayloadAgreesWithJSON(f *testing.F) {
	f.Add([]byte(`{"f":"AAAAAAAAAAAAAAAAAAAAAA","g":0,"c":"c","s":"a b","i":1893553445,"e":1893639845,"x":1896145445,"v":"v"}`))
	f.Add([]byte(`{"f":"AAAAAAAAAAAAAAAAAAAAAA","g":+0,"c":"c","s":"a b","i":1893553445,"e":1893639845,"x":1896145445,"v":"v"}`))
	f.Add([]byte(`{"f":"A","g":-0,"c":"c\u0041","s":"<","i":01,"e":1,"x":1,"v":"v"}`))
	f.Add([]byte(`{"f":"é","g":1,"c":"c","s":"a","i":1,"e":2,"x":3,"v":"\xff"}`))
	f.Fuzz(func(t *testing.T, payload []byte) {
		fast, ok := parsePayload(payload)
		if !ok {
			return
		}
		slow, err := parsePayloadJSON(payload)
		if err != nil {
			t.Fatalf("parsePayload accepted %q, encoding/json refuses it: %v", payload, err)
		}
		if *fast.Family != *slow.Family || *fast.Generation != *slow.Generation || *fast.ClientID != *slow.ClientID ||
			*fast.Scope != *slow.Scope || *fast.IssuedAt != *slow.IssuedAt || *fast.Expiry != *slow.Expiry ||
			*fast.FamilyExpiry != *slow.FamilyExpiry || *fast.SecretVersion != *slow.SecretVersion {
			t.Fatalf("parsePayload(%q) and encoding/json disagree", payload)
		}
	})
}
