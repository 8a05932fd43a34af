package auth

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/lestrrat-go/jwx/v2/jwa"

	"github.com/chave/chave/services/internal/chave"
	"github.com/chave/chave/services/internal/signing"
)

// Keys signs access tokens and publishes the keys that verify them;
// *signing.KeySet is one.
type Keys interface {
	Sign(signing.Claims) (string, error)
	PublicJWKS() ([]byte, error)
	// Algorithms lists the algorithms of the published keys.
	Algorithms() []jwa.SignatureAlgorithm
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

	refresh         refreshCodec
	refreshLifetime time.Duration // one refresh token
	familyLifetime  time.Duration // a refresh-token family, absolute
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
// time. sessionID is the refresh-token family the token is issued in (its
// sid claim), or empty.
func (m *minter) mintAccessToken(client Client, scopes []string, sessionID string, now time.Time) (accessToken, error) {
	iat, exp, err := tokenWindow(now, m.lifetime, client.ExpireTime)
	if err != nil {
		return accessToken{}, err
	}
	id := chave.NewTokenID(client.ID)
	raw, err := m.keys.Sign(signing.Claims{
		Issuer:        m.issuer,
		Subject:       client.ID,
		ClientID:      client.ID,
		Audience:      m.audience,
		IssuedAt:      iat,
		Expiry:        exp,
		ID:            id,
		Scopes:        scopes,
		TenantID:      client.Tenant,
		SessionID:     sessionID,
		SecretVersion: client.SecretVersion,
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

// errNoSecretVersion: the registry named no secret version for a
// credential that gets refresh tokens, so rotating its secret could not cut
// them off. chave refuses to issue such tokens.
var errNoSecretVersion = errors.New("the registry gave no secret version for the credential")

// newFamily starts a refresh-token family at now and returns its id and
// absolute expiry: now plus the family lifetime, or the credential's expire
// time if that comes first.
func (m *minter) newFamily(client Client, now time.Time) (id string, expiry time.Time, err error) {
	if client.SecretVersion == "" {
		return "", time.Time{}, errNoSecretVersion
	}
	_, expiry, err = tokenWindow(now, m.familyLifetime, client.ExpireTime)
	if err != nil {
		return "", time.Time{}, err
	}
	return newFamilyID(), expiry, nil
}

// mintRefreshToken mints generation gen of the family for client with
// scopes (not empty), valid from now for the refresh-token lifetime but
// never past the family's expiry nor the credential's expire time. It
// carries the credential's secret version, so that rotating the secret cuts
// the family off.
func (m *minter) mintRefreshToken(ctx context.Context, client Client, scopes []string, family string, gen int64, familyExpiry, now time.Time) (string, refreshToken, error) {
	if client.SecretVersion == "" {
		return "", refreshToken{}, errNoSecretVersion
	}
	limit := familyExpiry
	if !client.ExpireTime.IsZero() && client.ExpireTime.Before(limit) {
		limit = client.ExpireTime
	}
	iat, exp, err := tokenWindow(now, m.refreshLifetime, limit)
	if err != nil {
		return "", refreshToken{}, err
	}
	t := refreshToken{
		family:        family,
		generation:    gen,
		clientID:      client.ID,
		scopes:        scopes,
		issuedAt:      iat,
		expiry:        exp,
		familyExpiry:  time.Unix(familyExpiry.Unix(), 0).UTC(),
		secretVersion: client.SecretVersion,
	}
	raw, err := m.refresh.encode(ctx, t)
	if err != nil {
		return "", refreshToken{}, err
	}
	return raw, t, nil
}
