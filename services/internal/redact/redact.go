// Package redact hides the passwords of URLs (database, Redis, JWKS) in
// messages and logs: chave's one URL redactor.
package redact

import (
	"errors"
	"net/url"
	"strings"
)

// Placeholder replaces a URL's password.
const Placeholder = "xxxxx"

// URL returns s with the password of its user information replaced by
// Placeholder: scheme://user:xxxxx@host/…. It does not parse s as a URL,
// so that a password holding characters a URL reserves (/, #, ?, @)
// cannot make the parser take part of it for the host or the path: the
// user information ends at the last @. Strings without a scheme or user
// information come back unchanged.
func URL(s string) string {
	scheme, rest, ok := strings.Cut(s, "://")
	if !ok {
		return s
	}
	at := strings.LastIndex(rest, "@")
	if at < 0 {
		return s
	}
	user, _, hasPassword := strings.Cut(rest[:at], ":")
	if !hasPassword {
		return s
	}
	return scheme + "://" + user + ":" + Placeholder + rest[at:]
}

// URLError drops the URL, which may hold a password, from a *url.Error
// (what net/url and net/http wrap their errors in), keeping its cause:
// messages name the redacted URL themselves.
func URLError(err error) error {
	var ue *url.Error
	if errors.As(err, &ue) {
		return ue.Err
	}
	return err
}
