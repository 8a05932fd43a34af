package verify

import "errors"

// ErrInvalidToken is the sentinel that every rejection of a token matches:
// errors.Is(err, verify.ErrInvalidToken) tells a resource server to answer
// 401 invalid_token. Any other error from Verify matches ErrUnavailable.
var ErrInvalidToken = errors.New("invalid access token")

// ErrUnavailable is the sentinel of every Verify error that is not the
// token's fault: the key source or the revocation check failed or did not
// answer in time, so the verifier could not decide. The token is refused
// all the same (verification fails closed); a resource server answers 503
// or codes.Unavailable, and the client may retry. It never matches
// ErrInvalidToken.
var ErrUnavailable = errors.New("token verification unavailable")

// Reason says why a token was rejected. Its values are stable and safe to
// show to the token's bearer, to log and to count.
type Reason string

// Reasons for rejecting a token.
const (
	ReasonMalformed    Reason = "malformed"     // not a compact JWS, bad base64url or JSON, a claim of the wrong type
	ReasonHeader       Reason = "header"        // alg not allowed, typ not at+jwt, crit present, kid missing
	ReasonUnknownKey   Reason = "unknown_key"   // no usable key with the token's kid
	ReasonSignature    Reason = "signature"     // the signature does not verify
	ReasonMissingClaim Reason = "missing_claim" // a required claim is absent or empty
	ReasonIssuer       Reason = "issuer"        // iss is not the configured issuer
	ReasonAudience     Reason = "audience"      // aud does not hold the configured audience
	ReasonExpired      Reason = "expired"       // exp has passed (beyond the leeway)
	ReasonNotYetValid  Reason = "not_yet_valid" // nbf or iat lies in the future (beyond the leeway)
	ReasonRevoked      Reason = "revoked"       // the revocation set holds the token, its credential or its refresh family
)

// Error is a rejected token: errors.Is(err, ErrInvalidToken) holds for it.
type Error struct {
	Reason Reason
	// Detail is a short human explanation, safe to show to the bearer.
	Detail string
	// Err is the underlying cause, if any (a JSON or base64 error).
	Err error
}

func (e *Error) Error() string {
	msg := ErrInvalidToken.Error() + ": " + string(e.Reason)
	if e.Detail != "" {
		msg += ": " + e.Detail
	}
	if e.Err != nil {
		msg += ": " + e.Err.Error()
	}
	return msg
}

// Is reports whether target is ErrInvalidToken.
func (e *Error) Is(target error) bool { return target == ErrInvalidToken }

func (e *Error) Unwrap() error { return e.Err }

func invalid(reason Reason, detail string) *Error {
	return &Error{Reason: reason, Detail: detail}
}

func invalidErr(reason Reason, detail string, err error) *Error {
	return &Error{Reason: reason, Detail: detail, Err: err}
}
