package signing

import (
	"crypto/rand"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
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
	payload, err := json.Marshal(&w)
	if err != nil {
		return "", fmt.Errorf("signing: encoding claims: %w", err)
	}

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
