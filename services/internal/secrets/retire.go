package secrets

import (
	"fmt"
	"time"
)

// RetireCheck is what decides whether a version may be retired.
type RetireCheck struct {
	// InUse counts what the version still protects: live credentials'
	// secret hashes (hmac) or sealed parameter values (seal). Unused for
	// refresh, whose tokens are not stored.
	InUse int
	// RefreshTokenLifetime is the longest a refresh token lives (the
	// fleet's --refresh-token-lifetime): a refresh version may retire once
	// that long has passed since it stopped being active.
	RefreshTokenLifetime time.Duration
	// Now is the time of the check.
	Now time.Time
}

// ErrInUse reports a version that still protects something.
type ErrInUse struct {
	Kind    Kind
	Version int
	Reason  string
}

func (e *ErrInUse) Error() string {
	return fmt.Sprintf("%s key version %d is still in use: %s", e.Kind, e.Version, e.Reason)
}

// CheckRetire reports whether version v of r (of kind) may be retired now:
// not the active one, and nothing made under it still live. A version
// already retired may be retired again.
func (r KeyRing) CheckRetire(kind Kind, v int, c RetireCheck) error {
	kv, ok := r.Version(v)
	switch {
	case !ok:
		return fmt.Errorf("%s: no key version %d", kind, v)
	case kv.Retired():
		return nil
	case v == r.Active:
		return fmt.Errorf("%s key version %d is the active one: activate another first", kind, v)
	}
	switch kind {
	case KindHMAC:
		if c.InUse > 0 {
			return &ErrInUse{kind, v, fmt.Sprintf("it hashes the secrets of %d live credentials, which move to the active version on their next use (or when rotated)", c.InUse)}
		}
	case KindSeal:
		if c.InUse > 0 {
			return &ErrInUse{kind, v, fmt.Sprintf("it seals %d parameter values: run chave keys rewrap", c.InUse)}
		}
	case KindRefresh:
		if kv.DeactivateTime.IsZero() && kv.ActivateTime.IsZero() {
			return nil // never active: it made no token
		}
		until := kv.DeactivateTime.Add(c.RefreshTokenLifetime)
		if kv.DeactivateTime.IsZero() || c.Now.Before(until) {
			return &ErrInUse{kind, v, fmt.Sprintf("refresh tokens made under it may live until %s (the refresh-token lifetime %v after it stopped being active)",
				until.UTC().Format(time.RFC3339), c.RefreshTokenLifetime)}
		}
	}
	return nil
}
