package registry

import (
	"context"
	"fmt"

	"github.com/chave/chave/services/internal/chave"
)

// maskPrefix replaces all but the last characters of a secret value on read.
const maskPrefix = "********"

// maskSecret shows only the last four characters of a secret value, as
// payment and token dashboards do, so a user can tell two apart.
func maskSecret(plain string) string {
	if len(plain) <= 8 {
		return maskPrefix
	}
	return maskPrefix + plain[len(plain)-4:]
}

func parameterAAD(tokenID, ctxID, name string) string {
	return tokenID + "/" + ctxID + "/" + name
}

func (s *Service) isSecret(ctxID, name string) bool {
	ctx, ok := s.catalog.Lookup(ctxID)
	if !ok {
		return false
	}
	spec, ok := ctx.Parameter(name)
	return ok && spec.Secret
}

// sealParameters returns a copy of plaintext parameters with secret values
// encrypted, bound to the token and parameter.
func (s *Service) sealParameters(ctx context.Context, tokenID string, p chave.Parameters) (chave.Parameters, error) {
	out := p.Clone()
	for ctxID, values := range out {
		for name, v := range values {
			if !s.isSecret(ctxID, name) {
				continue
			}
			sealed, err := s.sealer.Seal(ctx, v, parameterAAD(tokenID, ctxID, name))
			if err != nil {
				return nil, fmt.Errorf("seal parameter %s.%s: %w", ctxID, name, err)
			}
			values[name] = sealed
		}
	}
	return out, nil
}

// openParameters returns a copy of stored parameters with secret values
// decrypted.
func (s *Service) openParameters(ctx context.Context, tokenID string, p chave.Parameters) (chave.Parameters, error) {
	out := p.Clone()
	for ctxID, values := range out {
		for name, v := range values {
			if !s.isSecret(ctxID, name) {
				continue
			}
			plain, err := s.sealer.Open(ctx, v, parameterAAD(tokenID, ctxID, name))
			if err != nil {
				return nil, fmt.Errorf("open parameter %s.%s of token %s: %w", ctxID, name, tokenID, err)
			}
			values[name] = plain
		}
	}
	return out, nil
}

// masked returns the token as callers may see it: no secret hash, secret
// parameters masked. A value that fails to decrypt is masked entirely.
func (s *Service) masked(ctx context.Context, t chave.Token) chave.Token {
	t.SecretHash = nil
	out := t.Parameters.Clone()
	for ctxID, values := range out {
		for name, v := range values {
			if !s.isSecret(ctxID, name) {
				continue
			}
			plain, err := s.sealer.Open(ctx, v, parameterAAD(t.ID, ctxID, name))
			if err != nil {
				values[name] = maskPrefix
				continue
			}
			values[name] = maskSecret(plain)
		}
	}
	t.Parameters = out
	return t
}
