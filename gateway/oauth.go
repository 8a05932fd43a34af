package gateway

import (
	"context"
	"encoding/base64"
	"encoding/json"
	"errors"
	"io"
	"log/slog"
	"mime"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"time"
	"unicode/utf8"

	"google.golang.org/genproto/googleapis/rpc/errdetails"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"

	authv1 "github.com/chave/chave/proto/chave/auth/v1"
	errorsv1 "github.com/chave/chave/proto/chave/errors/v1"
)

// This file holds what the OAuth 2.0 endpoints share: form parsing, client
// authentication, the grant call and the error answers. Each endpoint has
// its own file.

// maxFormBody bounds a form-encoded OAuth request body.
const maxFormBody = 64 << 10

// The OAuth 2.0 error codes (RFC 6749 §5.2, RFC 7009 §2.2.1, RFC 8628's
// slow_down, and the two of §4.1.2.1 that fit any endpoint) and the
// ErrorInfo domain the auth service reports them under are the proto
// module's errorsv1.OauthError.

// oauthHTTPStatus is the HTTP status answering each error code; ok is
// false for OAUTH_ERROR_UNSPECIFIED and codes this build does not know.
func oauthHTTPStatus(code errorsv1.OauthError) (int, bool) {
	switch code {
	case errorsv1.OauthError_OAUTH_ERROR_INVALID_CLIENT:
		return http.StatusUnauthorized, true
	case errorsv1.OauthError_OAUTH_ERROR_INVALID_REQUEST, errorsv1.OauthError_OAUTH_ERROR_INVALID_GRANT,
		errorsv1.OauthError_OAUTH_ERROR_UNAUTHORIZED_CLIENT, errorsv1.OauthError_OAUTH_ERROR_UNSUPPORTED_GRANT_TYPE,
		errorsv1.OauthError_OAUTH_ERROR_INVALID_SCOPE, errorsv1.OauthError_OAUTH_ERROR_UNSUPPORTED_TOKEN_TYPE:
		return http.StatusBadRequest, true
	case errorsv1.OauthError_OAUTH_ERROR_SERVER_ERROR:
		return http.StatusInternalServerError, true
	case errorsv1.OauthError_OAUTH_ERROR_TEMPORARILY_UNAVAILABLE:
		return http.StatusServiceUnavailable, true
	case errorsv1.OauthError_OAUTH_ERROR_SLOW_DOWN:
		// A client throttled for too many failed authentications: 429
		// with Retry-After.
		return http.StatusTooManyRequests, true
	}
	return 0, false
}

// oauthError is an OAuth endpoint's error answer.
type oauthError struct {
	code        errorsv1.OauthError
	description string
	httpStatus  int
	retryAfter  int64 // seconds; sent as Retry-After when set
}

func newOAuthError(code errorsv1.OauthError, description string) *oauthError {
	st, ok := oauthHTTPStatus(code)
	if !ok {
		code, st = errorsv1.OauthError_OAUTH_ERROR_SERVER_ERROR, http.StatusInternalServerError
	}
	return &oauthError{code: code, description: description, httpStatus: st}
}

func (e *oauthError) Error() string { return e.code.Code() + ": " + e.description }

// grantRequest is a token request, whatever wire format carried it: the
// form of RFC 6749 or the JSON of TSS's WSTSSAUTH.
type grantRequest struct {
	GrantType    string
	ClientID     string
	ClientSecret string
	Scope        string
	RefreshToken string
	// RefreshTokenAuthenticates lets a refresh grant authenticate by the
	// refresh token alone (the TSS endpoint); /oauth2/token never sets it.
	RefreshTokenAuthenticates bool
}

// oauthEndpoints serves the OAuth 2.0 endpoints on top of the auth service.
type oauthEndpoints struct {
	auth authv1.AuthServiceClient
	log  *slog.Logger
}

// grant runs a grant on the auth service. Its errors are *oauthError.
func (o *oauthEndpoints) grant(ctx context.Context, req grantRequest) (*authv1.TokenResponse, error) {
	if req.GrantType == "" {
		return nil, newOAuthError(errorsv1.OauthError_OAUTH_ERROR_INVALID_REQUEST, "grant_type is required")
	}
	if req.ClientID == "" && !req.RefreshTokenAuthenticates {
		return nil, errClientAuthRequired()
	}
	resp, err := o.auth.Token(ctx, &authv1.TokenRequest{
		GrantType:                 req.GrantType,
		ClientId:                  req.ClientID,
		ClientSecret:              req.ClientSecret,
		Scope:                     req.Scope,
		RefreshToken:              req.RefreshToken,
		RefreshTokenAuthenticates: req.RefreshTokenAuthenticates,
	})
	if err != nil {
		return nil, o.upstreamError(ctx, err)
	}
	if resp.GetAccessToken() == "" {
		o.logCause(ctx, slog.LevelError, "auth service answered without an access token")
		return nil, newOAuthError(errorsv1.OauthError_OAUTH_ERROR_SERVER_ERROR, "internal error")
	}
	return resp, nil
}

// upstreamError turns an auth service error into the OAuth error to answer.
// The service names OAuth errors in an ErrorInfo detail; anything else is a
// failure the caller learns nothing about.
func (o *oauthEndpoints) upstreamError(ctx context.Context, err error) *oauthError {
	st := status.Convert(err)
	if code := errorsv1.OauthErrorOf(st); code != errorsv1.OauthError_OAUTH_ERROR_UNSPECIFIED {
		if _, known := oauthHTTPStatus(code); known {
			oe := newOAuthError(code, st.Message())
			oe.retryAfter = retryAfter(st)
			return oe
		}
	}
	switch st.Code() {
	case codes.Unavailable, codes.DeadlineExceeded:
		o.logCause(ctx, slog.LevelWarn, st.Code().String()+": "+st.Message())
		return newOAuthError(errorsv1.OauthError_OAUTH_ERROR_TEMPORARILY_UNAVAILABLE, "the authorization server is temporarily unavailable")
	case codes.Canceled:
		return newOAuthError(errorsv1.OauthError_OAUTH_ERROR_INVALID_REQUEST, "request canceled")
	}
	o.logCause(ctx, slog.LevelError, st.Code().String()+": "+st.Message())
	return newOAuthError(errorsv1.OauthError_OAUTH_ERROR_SERVER_ERROR, "internal error")
}

// retryAfter is the status's RetryInfo delay in whole seconds, rounded up;
// zero without one.
func retryAfter(st *status.Status) int64 {
	for _, d := range st.Details() {
		if ri, ok := d.(*errdetails.RetryInfo); ok && ri.GetRetryDelay().IsValid() {
			if delay := ri.GetRetryDelay().AsDuration(); delay > 0 {
				return int64((delay + time.Second - 1) / time.Second)
			}
		}
	}
	return 0
}

func (o *oauthEndpoints) logCause(ctx context.Context, level slog.Level, msg string) {
	o.log.LogAttrs(ctx, level, "auth call failed",
		slog.String("request_id", requestID(ctx)), slog.String("error", msg))
}

// writeError answers err as RFC 6749 §5.2 says.
func (o *oauthEndpoints) writeError(w http.ResponseWriter, r *http.Request, err error) {
	o.writeErrorAs(w, r, err, true, func(oe *oauthError) any {
		return struct {
			Error       string `json:"error"`
			Description string `json:"error_description,omitempty"`
		}{oe.code.Code(), errorDescription(oe.description)}
	})
}

// writeErrorAs answers err with the body that shape builds; an error that is
// not an *oauthError becomes server_error.
// challenge adds a Basic challenge to a 401: the form endpoints' clients
// may use HTTP Basic, TSS clients send credentials in the body and must not
// be prompted for a password.
func (o *oauthEndpoints) writeErrorAs(w http.ResponseWriter, r *http.Request, err error, challenge bool, shape func(*oauthError) any) {
	var oe *oauthError
	if !errors.As(err, &oe) {
		o.logCause(r.Context(), slog.LevelError, err.Error())
		oe = newOAuthError(errorsv1.OauthError_OAUTH_ERROR_SERVER_ERROR, "internal error")
	}
	setNoStore(w.Header())
	if oe.httpStatus == http.StatusUnauthorized && challenge {
		// RFC 6749 §5.2: required when the client used the Authorization
		// header; harmless otherwise.
		w.Header().Set("WWW-Authenticate", `Basic realm="chave"`)
	}
	if oe.retryAfter > 0 {
		w.Header().Set("Retry-After", strconv.FormatInt(oe.retryAfter, 10))
	}
	writeJSON(w, oe.httpStatus, shape(oe))
}

// setNoStore keeps credentials and tokens out of caches (RFC 6749 §5.1).
func setNoStore(h http.Header) {
	h["Cache-Control"] = noStoreValue
	h["Pragma"] = noCacheValue
}

// requirePost sets Allow and returns a 405 error for anything but POST.
func requirePost(w http.ResponseWriter, r *http.Request) error {
	if r.Method == http.MethodPost {
		return nil
	}
	w.Header().Set("Allow", http.MethodPost)
	return &oauthError{code: errorsv1.OauthError_OAUTH_ERROR_INVALID_REQUEST, description: "use POST", httpStatus: http.StatusMethodNotAllowed}
}

// errorDescription keeps to the characters RFC 6749 §5.2 allows in
// error_description (printable ASCII without '"' and '\').
func errorDescription(s string) string {
	const maxLen = 256
	var b strings.Builder
	for i := 0; i < len(s) && b.Len() < maxLen; i++ {
		c := s[i]
		if c < 0x20 || c > 0x7e || c == '"' || c == '\\' {
			c = ' '
		}
		b.WriteByte(c)
	}
	return strings.TrimSpace(b.String())
}

func writeJSON(w http.ResponseWriter, httpStatus int, v any) {
	body, err := json.Marshal(v)
	if err != nil {
		httpStatus, body = http.StatusInternalServerError, []byte(`{"error":"server_error"}`)
	}
	writeJSONBody(w, httpStatus, body)
}

// writeJSONBody answers body, which is JSON.
func writeJSONBody(w http.ResponseWriter, httpStatus int, body []byte) {
	w.Header()["Content-Type"] = jsonContentType
	w.WriteHeader(httpStatus)
	_, _ = w.Write(body) // the client is gone; nothing to do
}

// readForm reads an application/x-www-form-urlencoded body (never the query
// string). RFC 6749 §3.1: no parameter may repeat, and one sent without a
// value counts as omitted, which url.Values.Get already gives.
func readForm(w http.ResponseWriter, r *http.Request) (url.Values, error) {
	if !isFormType(r.Header.Get("Content-Type")) {
		return nil, newOAuthError(errorsv1.OauthError_OAUTH_ERROR_INVALID_REQUEST, "the body must be application/x-www-form-urlencoded")
	}
	body, err := readBody(w, r)
	if err != nil {
		return nil, err
	}
	form, err := url.ParseQuery(string(body))
	if err != nil {
		return nil, newOAuthError(errorsv1.OauthError_OAUTH_ERROR_INVALID_REQUEST, "malformed form body")
	}
	for k, vs := range form {
		if !utf8.ValidString(k) {
			return nil, newOAuthError(errorsv1.OauthError_OAUTH_ERROR_INVALID_REQUEST, "parameters must be UTF-8")
		}
		if len(vs) > 1 {
			return nil, newOAuthError(errorsv1.OauthError_OAUTH_ERROR_INVALID_REQUEST, "parameter "+k+" is repeated")
		}
		if !utf8.ValidString(vs[0]) {
			return nil, newOAuthError(errorsv1.OauthError_OAUTH_ERROR_INVALID_REQUEST, "parameter "+k+" is not UTF-8")
		}
	}
	return form, nil
}

// isFormType reports whether a Content-Type names a form body. The bare
// type, as clients send it, needs no parsing; anything else (parameters,
// another case) is left to mime.ParseMediaType.
func isFormType(contentType string) bool {
	const form = "application/x-www-form-urlencoded"
	if contentType == form {
		return true
	}
	mt, _, err := mime.ParseMediaType(contentType)
	return err == nil && mt == form
}

// readBody reads a request body of at most maxFormBody bytes.
func readBody(w http.ResponseWriter, r *http.Request) ([]byte, error) {
	body, err := io.ReadAll(http.MaxBytesReader(w, r.Body, maxFormBody))
	if err != nil {
		var tooLarge *http.MaxBytesError
		if errors.As(err, &tooLarge) {
			return nil, &oauthError{code: errorsv1.OauthError_OAUTH_ERROR_INVALID_REQUEST, description: "request body too large", httpStatus: http.StatusRequestEntityTooLarge}
		}
		return nil, newOAuthError(errorsv1.OauthError_OAUTH_ERROR_INVALID_REQUEST, "could not read the request body")
	}
	return body, nil
}

// clientAuth is how a client authenticated (RFC 6749 §2.3.1).
type clientAuth struct {
	id, secret string
}

// clientCredentials reads the client's credentials from HTTP Basic or from
// the body's client_id and client_secret; using both is an error (RFC 6749
// §2.3: one method per request).
func clientCredentials(h http.Header, form url.Values) (clientAuth, error) {
	authz := h.Values("Authorization")
	if len(authz) > 1 {
		return clientAuth{}, newOAuthError(errorsv1.OauthError_OAUTH_ERROR_INVALID_REQUEST, "more than one Authorization header")
	}
	inBody := form.Get("client_id") != "" || form.Get("client_secret") != ""
	if len(authz) == 1 {
		if inBody {
			return clientAuth{}, newOAuthError(errorsv1.OauthError_OAUTH_ERROR_INVALID_REQUEST, "client credentials in both the Authorization header and the body")
		}
		return parseBasic(authz[0])
	}
	id, secret := form.Get("client_id"), form.Get("client_secret")
	if id == "" {
		if secret != "" {
			return clientAuth{}, newOAuthError(errorsv1.OauthError_OAUTH_ERROR_INVALID_REQUEST, "client_secret without client_id")
		}
		return clientAuth{}, errClientAuthRequired()
	}
	return clientAuth{id: id, secret: secret}, nil
}

func errClientAuthRequired() *oauthError {
	return newOAuthError(errorsv1.OauthError_OAUTH_ERROR_INVALID_CLIENT, "client authentication required")
}

// parseBasic decodes HTTP Basic credentials whose parts are form-encoded
// as RFC 6749 §2.3.1 requires.
func parseBasic(v string) (clientAuth, error) {
	scheme, cred, _ := strings.Cut(strings.TrimSpace(v), " ")
	if !strings.EqualFold(scheme, "Basic") {
		return clientAuth{}, newOAuthError(errorsv1.OauthError_OAUTH_ERROR_INVALID_CLIENT, "unsupported client authentication method")
	}
	raw, err := base64.StdEncoding.DecodeString(strings.TrimSpace(cred))
	if err != nil {
		return clientAuth{}, newOAuthError(errorsv1.OauthError_OAUTH_ERROR_INVALID_CLIENT, "malformed Basic credentials")
	}
	rawID, rawSecret, ok := strings.Cut(string(raw), ":")
	if !ok {
		return clientAuth{}, newOAuthError(errorsv1.OauthError_OAUTH_ERROR_INVALID_CLIENT, "malformed Basic credentials")
	}
	id, err1 := url.QueryUnescape(rawID)
	secret, err2 := url.QueryUnescape(rawSecret)
	if err1 != nil || err2 != nil || !utf8.ValidString(id) || !utf8.ValidString(secret) {
		return clientAuth{}, newOAuthError(errorsv1.OauthError_OAUTH_ERROR_INVALID_CLIENT, "malformed Basic credentials")
	}
	if id == "" {
		return clientAuth{}, errClientAuthRequired()
	}
	return clientAuth{id: id, secret: secret}, nil
}

// tokenQuery is a client's request about one of its tokens: RFC 7009
// revocation and RFC 7662 introspection share its form.
type tokenQuery struct {
	client clientAuth
	token  string
	hint   string // token_type_hint; the auth service treats it as a hint
}

// readTokenQuery reads a POSTed RFC 7009 or RFC 7662 request. Its errors
// are *oauthError.
func readTokenQuery(w http.ResponseWriter, r *http.Request) (tokenQuery, error) {
	if err := requirePost(w, r); err != nil {
		return tokenQuery{}, err
	}
	form, err := readForm(w, r)
	if err != nil {
		return tokenQuery{}, err
	}
	client, err := clientCredentials(r.Header, form)
	if err != nil {
		return tokenQuery{}, err
	}
	q := tokenQuery{client: client, token: form.Get("token"), hint: form.Get("token_type_hint")}
	if q.token == "" {
		return tokenQuery{}, newOAuthError(errorsv1.OauthError_OAUTH_ERROR_INVALID_REQUEST, "token is required")
	}
	return q, nil
}
