package signing

import (
	"crypto/rand"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"strconv"
	"strings"
	"unicode"

	"github.com/chave/chave/services/verify"
)

// Claims are an access token's claims. The type is shared with package
// verify, so that what is signed is exactly what resource servers read.
type Claims = verify.Claims

// NewTokenID returns a new jti: 128 bits from crypto/rand, as text.
func NewTokenID() string { return rand.Text() }

// wireClaims is the JSON form of Claims, in RFC 9068 §2.2 order.
type wireClaims struct {
	Iss      string `json:"iss"`
	Sub      string `json:"sub"`
	Aud      any    `json:"aud"` // a string when there is one audience
	Exp      int64  `json:"exp"`
	Iat      int64  `json:"iat"`
	Jti      string `json:"jti"`
	ClientID string `json:"client_id"`
	Scope    string `json:"scope"` // docs/spec.md §2.3: always present, even when empty
	TenantID string `json:"tenantid"`
	Sid      string `json:"sid,omitempty"` // the refresh-token family, if any
	Sv       string `json:"sv,omitempty"`  // the credential's secret version
}

// Sign mints an access token (RFC 9068) for c with the active key: a compact
// JWS whose header holds typ at+jwt, kid and alg. IssuedAt and Expiry are
// truncated to whole seconds. An empty c.ID gets a new jti (NewTokenID);
// callers that need to know the jti set it themselves.
//
// Sign is the hot path of every grant: the header is encoded once per key,
// and the signature comes straight from the key's crypto.Signer.
func (s *KeySet) Sign(c Claims) (string, error) {
	if err := checkClaims(&c); err != nil {
		return "", fmt.Errorf("signing: %w", err)
	}
	if c.ID == "" {
		c.ID = NewTokenID()
	}
	w := wireClaims{
		Iss:      c.Issuer,
		Sub:      c.Subject,
		Exp:      c.Expiry.Unix(),
		Iat:      c.IssuedAt.Unix(),
		Jti:      c.ID,
		ClientID: c.ClientID,
		Scope:    strings.Join(c.Scopes, " "),
		TenantID: c.TenantID,
		Sid:      c.SessionID,
		Sv:       c.SecretVersion,
	}
	if len(c.Audience) == 1 {
		w.Aud = c.Audience[0]
	} else {
		w.Aud = c.Audience
	}
	payload := w.appendJSON(make([]byte, 0, 256))

	key := s.state.Load().active
	enc := base64.RawURLEncoding
	// header . payload . signature, in one buffer: the signature of at
	// most 256 bytes (RS256 with 2048 bits) rarely needs a reallocation.
	buf := make([]byte, 0, len(key.header)+1+enc.EncodedLen(len(payload))+1+enc.EncodedLen(256))
	buf = append(buf, key.header...)
	buf = append(buf, '.')
	buf = enc.AppendEncode(buf, payload)
	sig, err := key.sign(buf)
	if err != nil {
		return "", fmt.Errorf("signing: key %s: %w", key.id, err)
	}
	buf = append(buf, '.')
	buf = enc.AppendEncode(buf, sig)
	return string(buf), nil
}

// appendJSON appends the claims as encoding/json writes &w, byte for byte
// (token_test.go holds it to that): claims are the hottest JSON of a grant
// and their shape is fixed.
func (w *wireClaims) appendJSON(b []byte) []byte {
	b = append(b, `{"iss":`...)
	b = appendJSONString(b, w.Iss)
	b = append(b, `,"sub":`...)
	b = appendJSONString(b, w.Sub)
	b = append(b, `,"aud":`...)
	switch aud := w.Aud.(type) {
	case string:
		b = appendJSONString(b, aud)
	case []string:
		if aud == nil {
			b = append(b, "null"...)
			break
		}
		b = append(b, '[')
		for i, a := range aud {
			if i > 0 {
				b = append(b, ',')
			}
			b = appendJSONString(b, a)
		}
		b = append(b, ']')
	default:
		b = appendMarshalled(b, aud)
	}
	b = append(b, `,"exp":`...)
	b = strconv.AppendInt(b, w.Exp, 10)
	b = append(b, `,"iat":`...)
	b = strconv.AppendInt(b, w.Iat, 10)
	b = append(b, `,"jti":`...)
	b = appendJSONString(b, w.Jti)
	b = append(b, `,"client_id":`...)
	b = appendJSONString(b, w.ClientID)
	b = append(b, `,"scope":`...)
	b = appendJSONString(b, w.Scope)
	b = append(b, `,"tenantid":`...)
	b = appendJSONString(b, w.TenantID)
	if w.Sid != "" {
		b = append(b, `,"sid":`...)
		b = appendJSONString(b, w.Sid)
	}
	if w.Sv != "" {
		b = append(b, `,"sv":`...)
		b = appendJSONString(b, w.Sv)
	}
	return append(b, '}')
}

// appendJSONString appends s as a JSON string: printable ASCII that needs
// no escape as it is, anything else as encoding/json escapes it.
func appendJSONString(b []byte, s string) []byte {
	for i := range len(s) {
		if c := s[i]; c < 0x20 || c >= 0x7f || c == '"' || c == '\\' || c == '<' || c == '>' || c == '&' {
			return appendMarshalled(b, s)
		}
	}
	b = append(b, '"')
	b = append(b, s...)
	return append(b, '"')
}

// appendMarshalled appends v as encoding/json writes it; v is a string or
// a slice of strings, which always marshal.
func appendMarshalled(b []byte, v any) []byte {
	out, err := json.Marshal(v)
	if err != nil {
		panic("signing: marshalling claims: " + err.Error())
	}
	return append(b, out...)
}

// checkClaims rejects claims that would make a token verifiers refuse or
// misread.
func checkClaims(c *Claims) error {
	switch {
	case c.Issuer == "":
		return errors.New("claims: issuer is required")
	case c.Subject == "":
		return errors.New("claims: subject is required")
	case c.ClientID == "":
		return errors.New("claims: client id is required")
	case len(c.Audience) == 0:
		return errors.New("claims: audience is required")
	case c.IssuedAt.IsZero():
		return errors.New("claims: issued-at is required")
	case c.Expiry.Unix() <= c.IssuedAt.Unix():
		return errors.New("claims: expiry must be after issued-at")
	}
	for _, sc := range c.Scopes {
		if sc == "" || strings.IndexFunc(sc, unicode.IsSpace) >= 0 {
			return fmt.Errorf("claims: scope %q is empty or holds white space", sc)
		}
	}
	return nil
}
