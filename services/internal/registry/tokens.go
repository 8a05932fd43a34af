// Credentials: create, read, list, update, revoke, rotate.

package registry

import (
	"bytes"
	"context"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"time"

	"github.com/chave/chave/services/internal/chave"
	"github.com/chave/chave/services/internal/secrets"
	"github.com/chave/chave/services/internal/storage"
	"github.com/chave/chave/services/revocation"
)

// CreateToken validates and stores a new credential and returns it with its
// secret, which is never available again.
func (s *Service) CreateToken(ctx context.Context, c Caller, t chave.Token) (chave.Token, secrets.ClientSecret, error) {
	if err := chave.ValidateTenantID("tenant", t.Tenant); err != nil {
		return chave.Token{}, secrets.ClientSecret{}, err
	}
	if !c.canSeeTenant(t.Tenant) {
		return chave.Token{}, secrets.ClientSecret{}, chave.Errorf(chave.PermissionDenied, "a credential creates tokens only for its own tenant")
	}
	tenant, err := s.store.GetTenant(ctx, t.Tenant)
	if chave.IsCode(err, chave.NotFound) {
		return chave.Token{}, secrets.ClientSecret{}, chave.InvalidField("tenant", "unknown tenant %q", t.Tenant)
	} else if err != nil {
		return chave.Token{}, secrets.ClientSecret{}, fmt.Errorf("create token: %w", err)
	}
	now := s.clock()
	if err := t.Validate(tenant, s.catalog, now); err != nil {
		return chave.Token{}, secrets.ClientSecret{}, err
	}
	if err := checkPolicy(c, tenant.Policy, chave.Token{}, t, now); err != nil {
		return chave.Token{}, secrets.ClientSecret{}, err
	}
	if t.ID, err = secrets.NewClientID(); err != nil {
		return chave.Token{}, secrets.ClientSecret{}, err
	}
	secret, err := secrets.NewClientSecret()
	if err != nil {
		return chave.Token{}, secrets.ClientSecret{}, err
	}
	if err := s.setSecret(ctx, &t, secret); err != nil {
		return chave.Token{}, secrets.ClientSecret{}, err
	}
	t.CreateTime, t.Creator = now, c.ClientID
	t.RevokeTime, t.LastUseTime, t.Revoker, t.Operator = time.Time{}, time.Time{}, "", false
	if t.Parameters, err = s.sealParameters(ctx, t.ID, t.Parameters); err != nil {
		return chave.Token{}, secrets.ClientSecret{}, err
	}
	ev := chave.Event{TokenID: t.ID, Time: now, Actor: c.ClientID, Action: chave.ActionCreate, Fields: tokenFieldsSet(t)}
	if err := s.store.CreateToken(ctx, t, ev); err != nil {
		return chave.Token{}, secrets.ClientSecret{}, fmt.Errorf("create token: %w", err)
	}
	s.log.InfoContext(ctx, "token created", "token", t.ID, "tenant", t.Tenant, "actor", c.ClientID)
	return s.withViolations(s.masked(ctx, t), tenant, now), secret, nil
}

// GetToken returns a token with secret parameters masked and the fields
// that break its tenant's policy flagged.
func (s *Service) GetToken(ctx context.Context, c Caller, id string) (chave.Token, error) {
	t, err := s.visibleToken(ctx, c, id)
	if err != nil {
		return chave.Token{}, err
	}
	out := []chave.Token{s.masked(ctx, t)}
	if err := s.flagViolations(ctx, out); err != nil {
		return chave.Token{}, err
	}
	return out[0], nil
}

// checkPolicy checks a token written by c (before: as it was, the zero
// Token for a new one) against its tenant's policy at now: the maximum
// lifetime for every writer, the grantable contexts for a tenant admin.
func checkPolicy(c Caller, p chave.TenantPolicy, before, after chave.Token, now time.Time) error {
	if err := p.CheckExpiry(after.ExpireTime, now); err != nil {
		return err
	}
	if c.Operator {
		return nil
	}
	return p.CheckGrant(before, after)
}

// withViolations sets t's PolicyViolations under its tenant's policy.
func (s *Service) withViolations(t chave.Token, tenant chave.Tenant, now time.Time) chave.Token {
	t.PolicyViolations = tenant.Policy.Violations(t, now)
	return t
}

// flagViolations sets the PolicyViolations of each token, reading each
// tenant once.
func (s *Service) flagViolations(ctx context.Context, toks []chave.Token) error {
	now := s.clock()
	tenants := map[string]chave.Tenant{}
	for i, t := range toks {
		if t.Operator || t.Tenant == "" {
			continue
		}
		tenant, ok := tenants[t.Tenant]
		if !ok {
			var err error
			if tenant, err = s.store.GetTenant(ctx, t.Tenant); err != nil {
				return fmt.Errorf("read the policy of tenant %s: %w", t.Tenant, err)
			}
			tenants[t.Tenant] = tenant
		}
		toks[i] = s.withViolations(t, tenant, now)
	}
	return nil
}

// visibleToken loads a token the caller may see; others are NotFound, so a
// caller cannot even learn another tenant's token exists.
func (s *Service) visibleToken(ctx context.Context, c Caller, id string) (chave.Token, error) {
	if id == "" {
		return chave.Token{}, chave.InvalidField("id", "is required")
	}
	t, err := s.store.GetToken(ctx, id)
	if err != nil {
		return chave.Token{}, err
	}
	if !c.canSeeTenant(t.Tenant) {
		return chave.Token{}, chave.Errorf(chave.NotFound, "token %q not found", id)
	}
	return t, nil
}

// ListQuery selects a page of tokens.
type ListQuery struct {
	Tenant    string
	State     chave.State
	PageSize  int
	PageToken string
	// ExpireBefore keeps tokens with an expire time before it; zero: all.
	ExpireBefore time.Time
	// UnusedSince keeps tokens not used since it (never used ones created
	// before it included); zero: all.
	UnusedSince time.Time
}

// ListTokens returns a page of tokens, newest first, and the token of the
// next page ("" on the last).
func (s *Service) ListTokens(ctx context.Context, c Caller, q ListQuery) ([]chave.Token, string, error) {
	if !c.Operator {
		if q.Tenant != "" && q.Tenant != c.Tenant {
			return nil, "", chave.Errorf(chave.PermissionDenied, "a credential lists only its own tenant's tokens")
		}
		q.Tenant = c.Tenant
	}
	switch {
	case q.PageSize < 0:
		return nil, "", chave.InvalidField("pageSize", "must not be negative")
	case q.PageSize == 0:
		q.PageSize = DefaultPageSize
	case q.PageSize > MaxPageSize:
		q.PageSize = MaxPageSize
	}
	filter := storage.TokenFilter{Tenant: q.Tenant, State: q.State, Now: s.clock(), Limit: q.PageSize,
		ExpireBefore: q.ExpireBefore, UnusedSince: q.UnusedSince}
	fingerprint := fmt.Sprintf("%s|%d", q.Tenant, q.State)
	if !q.ExpireBefore.IsZero() || !q.UnusedSince.IsZero() {
		fingerprint += fmt.Sprintf("|%d|%d", unixMicroOrZero(q.ExpireBefore), unixMicroOrZero(q.UnusedSince))
	}
	if q.PageToken != "" {
		cur, err := decodePageToken(q.PageToken, fingerprint)
		if err != nil {
			return nil, "", err
		}
		filter.After = &cur
	}
	page, err := s.store.ListTokens(ctx, filter)
	if err != nil {
		return nil, "", fmt.Errorf("list tokens: %w", err)
	}
	out := make([]chave.Token, len(page.Tokens))
	for i, t := range page.Tokens {
		out[i] = s.masked(ctx, t)
	}
	if err := s.flagViolations(ctx, out); err != nil {
		return nil, "", fmt.Errorf("list tokens: %w", err)
	}
	next := ""
	if page.More && len(page.Tokens) > 0 {
		last := page.Tokens[len(page.Tokens)-1]
		next = encodePageToken(storage.Cursor{CreateTime: last.CreateTime, ID: last.ID}, fingerprint)
	}
	return out, next, nil
}

func unixMicroOrZero(t time.Time) int64 {
	if t.IsZero() {
		return 0
	}
	return t.UnixMicro()
}

type pageToken struct {
	Time   int64  `json:"t"`
	ID     string `json:"i"`
	Filter string `json:"f"`
}

func encodePageToken(c storage.Cursor, fingerprint string) string {
	b, _ := json.Marshal(pageToken{Time: c.CreateTime.UnixMicro(), ID: c.ID, Filter: fingerprint})
	return base64.RawURLEncoding.EncodeToString(b)
}

func decodePageToken(s, fingerprint string) (storage.Cursor, error) {
	b, err := base64.RawURLEncoding.DecodeString(s)
	var p pageToken
	if err != nil || json.Unmarshal(b, &p) != nil || p.ID == "" {
		return storage.Cursor{}, chave.InvalidField("pageToken", "is malformed")
	}
	if p.Filter != fingerprint {
		return storage.Cursor{}, chave.InvalidField("pageToken", "belongs to a listing with other filters")
	}
	return storage.Cursor{CreateTime: time.UnixMicro(p.Time).UTC(), ID: p.ID}, nil
}

// tokenMask maps update-mask paths to the JSON names of mutable fields.
var tokenMask = map[string]string{
	"display_name":         "displayName",
	"description":          "description",
	"general_access":       "generalAccess",
	"contexts":             "contexts",
	"parameters":           "parameters",
	"expire_time":          "expireTime",
	"issue_refresh_tokens": "issueRefreshTokens",
}

// UpdateToken changes the masked fields of a token (an empty mask: every
// mutable field) and revalidates the whole token.
func (s *Service) UpdateToken(ctx context.Context, c Caller, patch chave.Token, mask []string) (chave.Token, error) {
	fields, err := normaliseMask(mask, tokenMask)
	if err != nil {
		return chave.Token{}, err
	}
	before, err := s.visibleToken(ctx, c, patch.ID)
	if err != nil {
		return chave.Token{}, err
	}
	tenant, err := s.store.GetTenant(ctx, before.Tenant)
	if err != nil {
		return chave.Token{}, fmt.Errorf("update token: %w", err)
	}
	t, err := s.store.UpdateToken(ctx, patch.ID, func(t *chave.Token) (chave.Event, error) {
		now := s.clock()
		if st := t.State(now); st != chave.StateActive {
			return chave.Event{}, chave.Errorf(chave.FailedPrecondition, "token %q is %s and can no longer change", t.ID, st)
		}
		current, err := s.openParameters(ctx, t.ID, t.Parameters)
		if err != nil {
			return chave.Event{}, err
		}
		t.Parameters = current
		old := *t
		s.applyTokenPatch(t, patch, fields)
		if err := t.Validate(tenant, s.catalog, now); err != nil {
			return chave.Event{}, err
		}
		if err := checkPolicy(c, tenant.Policy, old, *t, now); err != nil {
			return chave.Event{}, err
		}
		if t.Parameters, err = s.sealParameters(ctx, t.ID, t.Parameters); err != nil {
			return chave.Event{}, err
		}
		return chave.Event{TokenID: t.ID, Time: now, Actor: c.ClientID, Action: chave.ActionUpdate, Fields: fields}, nil
	})
	if err != nil {
		return chave.Token{}, err
	}
	s.log.InfoContext(ctx, "token updated", "token", t.ID, "actor", c.ClientID, "fields", fields)
	if err := s.propagateChanges(ctx, s.changedToken(t)); err != nil {
		return chave.Token{}, err
	}
	return s.withViolations(s.masked(ctx, t), tenant, s.clock()), nil
}

func (s *Service) applyTokenPatch(t *chave.Token, patch chave.Token, fields []string) {
	for _, f := range fields {
		switch f {
		case "displayName":
			t.DisplayName = patch.DisplayName
		case "description":
			t.Description = patch.Description
		case "generalAccess":
			t.GeneralAccess = patch.GeneralAccess
		case "contexts":
			t.Contexts = patch.Contexts
		case "expireTime":
			t.ExpireTime = patch.ExpireTime
		case "issueRefreshTokens":
			t.IssueRefreshTokens = patch.IssueRefreshTokens
		case "parameters":
			t.Parameters = s.keepUnchangedSecrets(t.Parameters, patch.Parameters)
		}
	}
}

// keepUnchangedSecrets lets a client send back a masked secret it read: a
// secret value equal to the mask of the current value keeps the current one.
func (s *Service) keepUnchangedSecrets(current, next chave.Parameters) chave.Parameters {
	out := next.Clone()
	for ctxID, values := range out {
		for name, v := range values {
			if !s.isSecret(ctxID, name) {
				continue
			}
			if old, ok := current[ctxID][name]; ok && v == maskSecret(old) {
				values[name] = old
			}
		}
	}
	return out
}

// RevokeToken revokes a token; revoking a revoked token changes nothing.
func (s *Service) RevokeToken(ctx context.Context, c Caller, id string) (chave.Token, error) {
	if _, err := s.visibleToken(ctx, c, id); err != nil {
		return chave.Token{}, err
	}
	var changed bool
	var already chave.Token // the token as found, when it was revoked before
	t, err := s.store.UpdateToken(ctx, id, func(t *chave.Token) (chave.Event, error) {
		changed = false // the closure may run again when a backend retries
		if !t.RevokeTime.IsZero() {
			already = *t
			return chave.Event{}, errUnchanged
		}
		now := s.clock()
		t.RevokeTime, t.Revoker = now, c.ClientID
		changed = true
		return chave.Event{TokenID: t.ID, Time: now, Actor: c.ClientID, Action: chave.ActionRevoke, Fields: []string{"state", "revokeTime"}}, nil
	})
	if err == errUnchanged {
		t, err = already, nil
	}
	if err != nil {
		return chave.Token{}, fmt.Errorf("revoke token: %w", err)
	}
	if changed {
		s.log.InfoContext(ctx, "token revoked", "token", id, "actor", c.ClientID)
	}
	// Also when it was already revoked: a retry repairs a failed write.
	if err := s.propagate(ctx, append(s.credentialEntries(t), s.changedToken(t))...); err != nil {
		return chave.Token{}, err
	}
	return s.masked(ctx, t), nil
}

var errUnchanged = chave.Errorf(chave.FailedPrecondition, "unchanged")

// RotateToken gives an active token a new secret. Without a
// previousExpire (the zero time) the old one stops working at once, and so
// does every access and refresh token issued under it: before the new
// secret is stored, the database records the old secret version as
// revoked (the revocation is what must not be lost; a rotation that fails
// after it leaves a credential whose tokens fail until it is rotated
// again), and once it is stored, the revocation set holds it too.
//
// With a previousExpire (in the future, at most chave.MaxRotationGrace
// ahead) the old secret keeps authenticating until then, and its tokens
// stay good: the database records the old version's revocation as of
// previousExpire, and the revocation keeper puts it in the set when that
// time comes (EndPreviousSecrets). A secret replaced earlier whose grace
// period has not ended yet ends now.
func (s *Service) RotateToken(ctx context.Context, c Caller, id string, previousExpire time.Time) (chave.Token, secrets.ClientSecret, error) {
	now := s.clock()
	if !previousExpire.IsZero() {
		if err := checkPreviousSecretExpireTime(previousExpire, now); err != nil {
			return chave.Token{}, secrets.ClientSecret{}, err
		}
		previousExpire = previousExpire.UTC().Truncate(time.Microsecond)
	}
	before, err := s.visibleToken(ctx, c, id)
	if err != nil {
		return chave.Token{}, secrets.ClientSecret{}, err
	}
	if st := before.State(now); st != chave.StateActive {
		return chave.Token{}, secrets.ClientSecret{}, chave.Errorf(chave.FailedPrecondition, "token %q is %s; only an active token can rotate its secret", id, st)
	}
	secret, err := secrets.NewClientSecret()
	if err != nil {
		return chave.Token{}, secrets.ClientSecret{}, err
	}
	var fresh chave.Token
	if err := s.setSecret(ctx, &fresh, secret); err != nil {
		return chave.Token{}, secrets.ClientSecret{}, err
	}
	// The versions that end: the current one, now or at previousExpire,
	// and a previous one still in its grace period, now.
	end := now
	if !previousExpire.IsZero() {
		end = previousExpire
	}
	recs := []chave.RevokedAccessToken{s.rotationRecord(id, secretVersionOf(before), end)}
	if before.PreviousSecretPending(now) {
		recs = append(recs, s.rotationRecord(id, previousSecretVersionOf(before), now))
	}
	for _, rec := range recs {
		if err := s.store.RevokeAccessToken(ctx, rec); err != nil {
			return chave.Token{}, secrets.ClientSecret{}, fmt.Errorf("rotate token: %w", err)
		}
	}
	t, err := s.store.UpdateToken(ctx, id, func(t *chave.Token) (chave.Event, error) {
		now := s.clock()
		if st := t.State(now); st != chave.StateActive {
			return chave.Event{}, chave.Errorf(chave.FailedPrecondition, "token %q is %s; only an active token can rotate its secret", t.ID, st)
		}
		if !bytes.Equal(t.SecretHash, before.SecretHash) {
			// Another rotation came first; its old version is not the
			// one recorded above.
			return chave.Event{}, chave.Errorf(chave.Conflict, "token %q was rotated concurrently; retry", t.ID)
		}
		ev := chave.Event{TokenID: t.ID, Time: now, Actor: c.ClientID, Action: chave.ActionRotate, Fields: []string{"secret"}}
		t.PreviousSecretHash, t.PreviousSecretExpireTime, t.PreviousSecretHashVersion, t.PreviousSecretVersion = nil, time.Time{}, 0, ""
		if !previousExpire.IsZero() {
			t.PreviousSecretHash, t.PreviousSecretExpireTime = t.SecretHash, previousExpire
			t.PreviousSecretHashVersion, t.PreviousSecretVersion = hashVersion(*t), secretVersionOf(*t)
			ev.Fields = append(ev.Fields, "previousSecretExpireTime")
			ev.Details = map[string]string{chave.DetailPreviousSecretExpireTime: previousExpire.Format(time.RFC3339Nano)}
		}
		t.SecretHash, t.SecretHashVersion, t.SecretVersion = fresh.SecretHash, fresh.SecretHashVersion, fresh.SecretVersion
		return ev, nil
	})
	if err != nil {
		return chave.Token{}, secrets.ClientSecret{}, err
	}
	s.log.InfoContext(ctx, "token secret rotated", "token", id, "actor", c.ClientID, "previous_secret_expire_time", previousExpire)
	var due []revocation.Entry
	for _, rec := range recs {
		if rec.RevokeTime.After(now) {
			s.scheduleSecretEnd(rec)
			continue
		}
		due = append(due, rotationEntry(rec))
	}
	if err := s.propagate(ctx, append(due, s.changedToken(t))...); err != nil {
		return chave.Token{}, secrets.ClientSecret{}, err
	}
	return s.masked(ctx, t), secret, nil
}

// checkPreviousSecretExpireTime bounds a rotation's grace period.
func checkPreviousSecretExpireTime(t, now time.Time) error {
	const field = "previousSecretExpireTime"
	if err := chave.CheckTime(field, t); err != nil {
		return err
	}
	if !t.After(now) {
		return chave.InvalidField(field, "must be in the future (got %s)", t.UTC().Format(time.RFC3339))
	}
	if t.After(now.Add(chave.MaxRotationGrace)) {
		return chave.InvalidField(field, "must be at most %d days ahead (got %s)", chave.MaxRotationGrace/(24*time.Hour), t.UTC().Format(time.RFC3339))
	}
	return nil
}

// ListTokenEvents returns a token's audit trail.
func (s *Service) ListTokenEvents(ctx context.Context, c Caller, id string) ([]chave.Event, error) {
	if _, err := s.visibleToken(ctx, c, id); err != nil {
		return nil, err
	}
	return s.store.ListTokenEvents(ctx, id)
}
