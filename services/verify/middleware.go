package verify

import (
	"context"
	"errors"
	"log/slog"
	"net/http"
	"strings"
)

// DefaultRealm is the realm of the WWW-Authenticate challenge when
// WithRealm is not given.
const DefaultRealm = "chave"

// MiddlewareOption configures HTTPMiddleware and the gRPC interceptors.
type MiddlewareOption func(*middlewareConfig)

type middlewareConfig struct {
	realm  string
	scopes []string
	skip   []string
	log    *slog.Logger
}

func newMiddlewareConfig(v *Verifier, opts []MiddlewareOption) *middlewareConfig {
	if v == nil {
		panic("verify: middleware needs a Verifier")
	}
	cfg := &middlewareConfig{realm: DefaultRealm, log: slog.Default()}
	for _, o := range opts {
		o(cfg)
	}
	return cfg
}

// WithRealm sets the realm of the HTTP WWW-Authenticate challenge.
func WithRealm(realm string) MiddlewareOption {
	return func(c *middlewareConfig) { c.realm = realm }
}

// WithRequiredScopes requires every token to hold all of scopes: one that
// lacks any is refused with 403 insufficient_scope (codes.PermissionDenied).
// Handlers that need finer rules read the claims with ClaimsFromContext.
func WithRequiredScopes(scopes ...string) MiddlewareOption {
	return func(c *middlewareConfig) { c.scopes = append(c.scopes, scopes...) }
}

// WithSkipMethods lets gRPC calls to the given methods through without a
// token (and without claims in their context). Each entry is a full method
// name, "/package.Service/Method", or a service followed by a slash,
// "/package.Service/", which matches all its methods. HTTPMiddleware ignores
// it: mount the middleware only on the routes it protects.
func WithSkipMethods(methods ...string) MiddlewareOption {
	return func(c *middlewareConfig) { c.skip = append(c.skip, methods...) }
}

// SkipHealthAndReflection lets the standard gRPC health service and server
// reflection through without a token.
func SkipHealthAndReflection() MiddlewareOption {
	return WithSkipMethods(
		"/grpc.health.v1.Health/",
		"/grpc.reflection.v1.ServerReflection/",
		"/grpc.reflection.v1alpha.ServerReflection/",
	)
}

// WithLogger sets where verifications that could not decide (answered 503
// or codes.Unavailable) are logged; nil means slog.Default(). Rejected
// tokens are not logged: count them with Config.Observe.
func WithLogger(l *slog.Logger) MiddlewareOption {
	return func(c *middlewareConfig) {
		if l == nil {
			l = slog.Default()
		}
		c.log = l
	}
}

// missingScopes returns the required scopes the claims lack.
func (c *middlewareConfig) missingScopes(claims Claims) []string {
	var missing []string
	for _, s := range c.scopes {
		if !claims.HasScope(s) {
			missing = append(missing, s)
		}
	}
	return missing
}

func (c *middlewareConfig) skips(fullMethod string) bool {
	for _, m := range c.skip {
		if m == fullMethod || (strings.HasSuffix(m, "/") && strings.HasPrefix(fullMethod, m)) {
			return true
		}
	}
	return false
}

type claimsKey struct{}

// ContextWithClaims returns a copy of ctx that carries c; the middleware
// and interceptors store a verified token's claims so. Tests of handlers use
// it to fake an authenticated request.
func ContextWithClaims(ctx context.Context, c Claims) context.Context {
	return context.WithValue(ctx, claimsKey{}, c)
}

// ClaimsFromContext returns the claims of the request's verified token, as
// HTTPMiddleware and the gRPC interceptors stored them.
func ClaimsFromContext(ctx context.Context) (Claims, bool) {
	c, ok := ctx.Value(claimsKey{}).(Claims)
	return c, ok
}

// credentialProblem is what is wrong with a request's credentials before
// any token is verified.
type credentialProblem int

const (
	credentialsOK    credentialProblem = iota
	credentialsNone                    // no Authorization, or another scheme
	credentialsWrong                   // several Authorization values, or a Bearer one without a usable token
)

// bearerToken reads the token from the Authorization values of a request
// (RFC 6750 §2.1): exactly one value, scheme Bearer in any case, one or more
// spaces, then the token, which holds no white space.
func bearerToken(values []string) (string, credentialProblem) {
	switch len(values) {
	case 0:
		return "", credentialsNone
	case 1:
	default:
		return "", credentialsWrong
	}
	scheme, token, _ := strings.Cut(strings.TrimSpace(values[0]), " ")
	if !strings.EqualFold(scheme, "Bearer") {
		return "", credentialsNone
	}
	token = strings.TrimLeft(token, " ")
	if token == "" || strings.ContainsAny(token, " \t\r\n,") {
		return "", credentialsWrong
	}
	return token, credentialsOK
}

// HTTPMiddleware returns middleware that lets a request through only with a
// valid access token in exactly one "Authorization: Bearer" header, and
// stores the token's claims in the request's context (ClaimsFromContext).
// Following RFC 6750 §3 it answers:
//
//   - 401 with WWW-Authenticate: Bearer realm="…" when the request carries
//     no bearer token;
//   - 400 with error="invalid_request" for several Authorization headers or
//     a Bearer header without a well-formed token;
//   - 401 with error="invalid_token" when Verify rejects the token
//     (error_description holds the Reason);
//   - 403 with error="insufficient_scope" when the token lacks a scope
//     required by WithRequiredScopes;
//   - 503 when Verify could not decide (ErrUnavailable): the keys or the
//     revocation set did not answer in time.
func HTTPMiddleware(v *Verifier, opts ...MiddlewareOption) func(http.Handler) http.Handler {
	cfg := newMiddlewareConfig(v, opts)
	challenge := "Bearer realm=" + quoteHeader(cfg.realm)
	refuse := func(w http.ResponseWriter, status int, params, msg string) {
		h := w.Header()
		h.Set("WWW-Authenticate", challenge+params)
		h.Set("Cache-Control", "no-store")
		http.Error(w, msg, status)
	}
	return func(next http.Handler) http.Handler {
		return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			raw, problem := bearerToken(r.Header.Values("Authorization"))
			switch problem {
			case credentialsNone:
				refuse(w, http.StatusUnauthorized, "", "missing bearer token")
				return
			case credentialsWrong:
				refuse(w, http.StatusBadRequest, `, error="invalid_request"`, "want exactly one Authorization: Bearer header with a token")
				return
			}
			claims, err := v.Verify(r.Context(), raw)
			if err != nil {
				var ve *Error
				if errors.As(err, &ve) {
					refuse(w, http.StatusUnauthorized, `, error="invalid_token", error_description=`+quoteHeader(string(ve.Reason)),
						"invalid access token: "+string(ve.Reason))
					return
				}
				cfg.log.WarnContext(r.Context(), "verify: cannot verify access token", "err", err)
				w.Header().Set("Cache-Control", "no-store")
				w.Header().Set("Retry-After", "1")
				http.Error(w, "access token verification unavailable; retry later", http.StatusServiceUnavailable)
				return
			}
			if missing := cfg.missingScopes(claims); len(missing) > 0 {
				refuse(w, http.StatusForbidden, `, error="insufficient_scope", scope=`+quoteHeader(strings.Join(cfg.scopes, " ")),
					"insufficient scope: missing "+strings.Join(missing, " "))
				return
			}
			next.ServeHTTP(w, r.WithContext(ContextWithClaims(r.Context(), claims)))
		})
	}
}

// quoteHeader writes s as an HTTP quoted-string, dropping the characters
// it cannot hold (controls and non-ASCII) and escaping '"' and '\'.
func quoteHeader(s string) string {
	var b strings.Builder
	b.Grow(len(s) + 2)
	b.WriteByte('"')
	for i := 0; i < len(s); i++ {
		c := s[i]
		switch {
		case c == '"' || c == '\\':
			b.WriteByte('\\')
			b.WriteByte(c)
		case c == '\t' || (c >= 0x20 && c < 0x7f):
			b.WriteByte(c)
		}
	}
	b.WriteByte('"')
	return b.String()
}
