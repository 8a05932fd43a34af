package auth

import (
	"errors"
	"fmt"
	"time"

	"github.com/chave/chave/services/internal/signing"
)

// Keys signs access tokens and publishes the keys that verify them;
// *signing.KeySet is one.
type Keys interface {
	Sign(signing.Claims) (string, error)
	PublicJWKS() ([]byte, error)
}

// errCredentialExpired: the credential expires before a token could live
// a whole second.
var errCredentialExpired = errors.New("credential expired")

// minter mints tokens for every grant; grants decide whether a client gets
// them and with what scopes.
type minter struct {
	keys     Keys
	issuer   string
	audience []string
	lifetime time.Duration // access tokens
}

// accessToken is a minted access token.
type accessToken struct {
	raw       string
	id        string // jti
	issuedAt  time.Time
	expiry    time.Time
	expiresIn int64 // seconds, consistent with expiry - issuedAt
}

// mintAccessToken signs an access token for client with scopes, valid from
// now for the configured lifetime but never past the credential's expire
// time.
func (m *minter) mintAccessToken(client Client, scopes []string, now time.Time) (accessToken, error) {
	iat, exp, err := tokenWindow(now, m.lifetime, client.ExpireTime)
	if err != nil {
		return accessToken{}, err
	}
	id := signing.NewTokenID()
	raw, err := m.keys.Sign(signing.Claims{
		Issuer:   m.issuer,
		Subject:  client.ID,
		ClientID: client.ID,
		Audience: m.audience,
		IssuedAt: iat,
		Expiry:   exp,
		ID:       id,
		Scopes:   scopes,
		TenantID: client.Tenant,
	})
	if err != nil {
		return accessToken{}, fmt.Errorf("minting access token: %w", err)
	}
	return accessToken{
		raw:       raw,
		id:        id,
		issuedAt:  iat,
		expiry:    exp,
		expiresIn: exp.Unix() - iat.Unix(),
	}, nil
}

// tokenWindow returns a token's issue and expiry times in whole seconds:
// expiry is now+lifetime, or the credential's expire time if that comes
// first (rounded down, so that the token never outlives the credential).
// A credential with less than a second left gets errCredentialExpired.
func tokenWindow(now time.Time, lifetime time.Duration, credentialExpiry time.Time) (iat, exp time.Time, err error) {
	iat = time.Unix(now.Unix(), 0).UTC()
	exp = iat.Add(lifetime)
	if !credentialExpiry.IsZero() && credentialExpiry.Before(exp) {
		exp = time.Unix(credentialExpiry.Unix(), 0).UTC()
	}
	if !exp.After(iat) {
		return time.Time{}, time.Time{}, errCredentialExpired
	}
	return iat, exp, nil
}
