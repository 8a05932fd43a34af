package gateway

import (
	"bytes"
	"encoding/json"
	"fmt"
	"net/http"
	"strconv"
	"strings"

	errorsv1 "github.com/chave/chave/proto/chave/errors/v1"
)

// tssPath is the TSS-compatible token endpoint as the TSS document spells
// it; canonicalPath routes every capitalisation of it here.
const tssPath = "/rest/WSTSSAUTH"

// TSS's grantType values and the OAuth grants they name.
var tssGrants = map[int]string{
	1: "client_credentials",
	2: "refresh_token",
}

// serveTSS is POST /rest/WSTSSAUTH (docs/spec.md §3.3): the token endpoint for
// clients written against TOTVS TSS's WSTSSAUTH. It runs the same grant as
// /oauth2/token; only the wire format differs.
func (o *oauthEndpoints) serveTSS(w http.ResponseWriter, r *http.Request) {
	req, err := parseTSSRequest(w, r)
	if err != nil {
		o.writeTSSError(w, r, err)
		return
	}
	resp, err := o.grant(r.Context(), req)
	if err != nil {
		o.writeTSSError(w, r, err)
		return
	}
	setNoStore(w.Header())
	writeJSONBody(w, http.StatusOK, tssTokenBody(tssTokenResponse{
		AccessToken:  resp.GetAccessToken(),
		ExpiresIn:    resp.GetExpiresIn(),
		RefreshToken: resp.GetRefreshToken(),
		TokenType:    resp.GetTokenType(),
	}))
}

// tssTokenResponse is WSTSSAUTH's success body: exactly these members, in
// this order, spelt as TSS spells them (written by tssTokenBody).
type tssTokenResponse struct {
	AccessToken  string `json:"accesstoken"`
	ExpiresIn    int64  `json:"expiresIn"`
	RefreshToken string `json:"refreshToken"`
	TokenType    string `json:"tokenType"`
}

// writeTSSError answers err with the status /oauth2/token would use and a
// {"code", "message"} body, code being the OAuth error code.
func (o *oauthEndpoints) writeTSSError(w http.ResponseWriter, r *http.Request, err error) {
	o.writeErrorAs(w, r, err, false, func(oe *oauthError) any {
		msg := errorDescription(oe.description)
		if msg == "" {
			msg = oe.code.Code()
		}
		return struct {
			Code    string `json:"code"`
			Message string `json:"message"`
		}{oe.code.Code(), msg}
	})
}

// tssRequest is WSTSSAUTH's body. Members it does not name, urlTSS (which
// TSS uses to find itself) among them, are ignored: TSS clients send
// extras. encoding/json matches the names case-insensitively.
type tssRequest struct {
	GrantType json.RawMessage `json:"grantType"`
	// GrantyType is an alias: the TSS document's own example spells it so.
	GrantyType   json.RawMessage `json:"grantyType"`
	ClientID     string          `json:"clientId"`
	ClientSecret string          `json:"clientSecret"`
	RefreshToken string          `json:"refreshToken"`
}

// parseTSSRequest reads a POSTed WSTSSAUTH body into the grant it asks
// for. Its errors are *oauthError.
func parseTSSRequest(w http.ResponseWriter, r *http.Request) (grantRequest, error) {
	if err := requirePost(w, r); err != nil {
		return grantRequest{}, err
	}
	if !jsonish(r.Header.Get("Content-Type")) {
		return grantRequest{}, newOAuthError(errorsv1.OauthError_OAUTH_ERROR_INVALID_REQUEST, "the body must be JSON")
	}
	body, err := readBody(w, r)
	if err != nil {
		return grantRequest{}, err
	}
	body = withoutTrailingComma(body)
	var req tssRequest
	if err := json.Unmarshal(body, &req); err != nil {
		return grantRequest{}, newOAuthError(errorsv1.OauthError_OAUTH_ERROR_INVALID_REQUEST, "the body must be a JSON object")
	}
	if name, ok := duplicateMember(body); ok {
		return grantRequest{}, newOAuthError(errorsv1.OauthError_OAUTH_ERROR_INVALID_REQUEST, fmt.Sprintf("%s: given more than once", name))
	}
	grant, err := req.grantType()
	if err != nil {
		return grantRequest{}, err
	}
	return grantRequest{
		GrantType:    grant,
		ClientID:     req.ClientID,
		ClientSecret: req.ClientSecret,
		RefreshToken: req.RefreshToken,
		// The TSS document's refresh sends only the refresh token, which
		// names its client; credentials, if sent, must match it.
		RefreshTokenAuthenticates: grant == "refresh_token",
	}, nil
}

// withoutTrailingComma drops one comma between an object's last member and
// its closing brace, as the TSS document's refresh example has it
// ({"urlTSS": "…", "grantType": 2, "refreshToken": "…", }); anything else
// is left for the JSON decoder to judge.
func withoutTrailingComma(body []byte) []byte {
	end := len(body)
	for end > 0 && isJSONSpace(body[end-1]) {
		end--
	}
	if end == 0 || body[end-1] != '}' {
		return body
	}
	i := end - 1
	for i > 0 && isJSONSpace(body[i-1]) {
		i--
	}
	if i == 0 || body[i-1] != ',' {
		return body
	}
	out := make([]byte, 0, len(body)-1)
	out = append(out, body[:i-1]...)
	return append(out, body[i:]...)
}

// duplicateMember finds a member the object names twice, names compared
// as strings.ToLower compares them. encoding/json would keep the last one
// (and matches names without regard to case), so
// {"grantType": 2, …, "grantType": 1} would be read as a client-credentials
// grant that a proxy or a log in front saw as a refresh. body is a JSON
// object that json.Unmarshal accepted. It reads the object's names once,
// without decoding the values.
func duplicateMember(body []byte) (string, bool) {
	var small [8]string
	seen := small[:0]
	var many map[string]bool // past len(small) names
	i := skipJSONSpace(body, 0)
	if i >= len(body) || body[i] != '{' {
		return "", false
	}
	i = skipJSONSpace(body, i+1)
	for i < len(body) && body[i] == '"' {
		end, ok := jsonStringEnd(body, i)
		if !ok {
			return "", false
		}
		name, err := memberName(body[i:end])
		if err != nil {
			return "", false
		}
		if many != nil {
			lower := strings.ToLower(name)
			if many[lower] {
				return name, true
			}
			many[lower] = true
		} else {
			for _, prev := range seen {
				if sameMemberName(prev, name) {
					return name, true
				}
			}
			if seen = append(seen, name); len(seen) == len(small) {
				many = make(map[string]bool, 2*len(small))
				for _, n := range seen {
					many[strings.ToLower(n)] = true
				}
			}
		}
		i = skipJSONSpace(body, end)
		if i >= len(body) || body[i] != ':' {
			return "", false
		}
		if i, ok = jsonValueEnd(body, skipJSONSpace(body, i+1)); !ok {
			return "", false
		}
		i = skipJSONSpace(body, i)
		if i < len(body) && body[i] == ',' {
			i = skipJSONSpace(body, i+1)
		}
	}
	return "", false
}

func skipJSONSpace(b []byte, i int) int {
	for i < len(b) && isJSONSpace(b[i]) {
		i++
	}
	return i
}

// jsonStringEnd is the index just past the string that starts at b[i].
func jsonStringEnd(b []byte, i int) (int, bool) {
	for j := i + 1; j < len(b); j++ {
		switch b[j] {
		case '\\':
			j++
		case '"':
			return j + 1, true
		}
	}
	return 0, false
}

// jsonValueEnd is the index just past the value that starts at b[i], in
// JSON that a decoder has already accepted.
func jsonValueEnd(b []byte, i int) (int, bool) {
	depth := 0
	for i < len(b) {
		switch c := b[i]; {
		case c == '"':
			end, ok := jsonStringEnd(b, i)
			if !ok {
				return 0, false
			}
			i = end
		case c == '{' || c == '[':
			depth++
			i++
		case c == '}' || c == ']':
			if depth == 0 {
				return i, true
			}
			depth--
			i++
		case c == ',' && depth == 0:
			return i, true
		default:
			i++
		}
		if depth == 0 && i < len(b) && (b[i] == ',' || b[i] == '}' || isJSONSpace(b[i])) {
			return i, true
		}
	}
	return i, depth == 0
}

// memberName is the name a quoted JSON string stands for, as
// encoding/json reads it (invalid UTF-8 becomes U+FFFD); the names TSS
// clients send are ASCII without escapes and cost no decoding.
func memberName(raw []byte) (string, error) {
	if len(raw) >= 2 && bytes.IndexByte(raw, '\\') < 0 && isASCII(string(raw)) {
		return string(raw[1 : len(raw)-1]), nil
	}
	var name string
	err := json.Unmarshal(raw, &name)
	return name, err
}

// sameMemberName is strings.ToLower(a) == strings.ToLower(b), without
// allocating for ASCII names.
func sameMemberName(a, b string) bool {
	if len(a) != len(b) || !isASCII(a) || !isASCII(b) {
		//lint:ignore SA6005 lower-casing both is the check's definition; EqualFold folds some runes differently
		return strings.ToLower(a) == strings.ToLower(b)
	}
	for i := range len(a) {
		x, y := a[i], b[i]
		if 'A' <= x && x <= 'Z' {
			x += 'a' - 'A'
		}
		if 'A' <= y && y <= 'Z' {
			y += 'a' - 'A'
		}
		if x != y {
			return false
		}
	}
	return true
}

func isASCII(s string) bool {
	for i := range len(s) {
		if s[i] >= 0x80 {
			return false
		}
	}
	return true
}

func isJSONSpace(c byte) bool { return c == ' ' || c == '\t' || c == '\n' || c == '\r' }

// jsonish accepts what TSS clients are seen to send with a JSON body: no
// Content-Type, any JSON type (application/json, text/json,
// application/x-json, …+json, with or without parameters), text/plain, and
// the form type that HTTP helpers such as AdvPL's HttpPost send unless told
// otherwise.
func jsonish(contentType string) bool {
	mt, _, _ := strings.Cut(contentType, ";")
	mt = strings.ToLower(strings.TrimSpace(mt))
	switch {
	case mt == "", mt == "text/plain", mt == "application/x-www-form-urlencoded":
		return true
	}
	_, sub, ok := strings.Cut(mt, "/")
	return ok && (sub == "json" || sub == "x-json" || strings.HasSuffix(sub, "+json"))
}

// grantType is the OAuth grant the request names in grantType or its
// alias grantyType; both may be sent only if they agree.
func (t tssRequest) grantType() (string, error) {
	primary, err := tssGrant(t.GrantType)
	if err != nil {
		return "", err
	}
	alias, err := tssGrant(t.GrantyType)
	if err != nil {
		return "", err
	}
	switch {
	case primary == "" && alias == "":
		return "", newOAuthError(errorsv1.OauthError_OAUTH_ERROR_INVALID_REQUEST, "grantType is required")
	case primary != "" && alias != "" && primary != alias:
		return "", newOAuthError(errorsv1.OauthError_OAUTH_ERROR_INVALID_REQUEST, "grantType and grantyType disagree")
	case primary == "":
		return alias, nil
	}
	return primary, nil
}

// tssGrant reads one grantType value, a JSON number or a numeric string;
// "" means absent (missing, null or an empty string).
func tssGrant(raw json.RawMessage) (string, error) {
	var text string
	switch {
	case len(raw) == 0 || string(raw) == "null":
		return "", nil
	case raw[0] == '"':
		if err := json.Unmarshal(raw, &text); err != nil {
			return "", newOAuthError(errorsv1.OauthError_OAUTH_ERROR_INVALID_REQUEST, "malformed grantType")
		}
		text = strings.TrimSpace(text)
		if text == "" {
			return "", nil
		}
	case raw[0] == '-' || raw[0] >= '0' && raw[0] <= '9':
		text = string(raw)
	default:
		return "", newOAuthError(errorsv1.OauthError_OAUTH_ERROR_INVALID_REQUEST, "grantType must be a number or a numeric string")
	}
	n, err := strconv.Atoi(text)
	if grant, ok := tssGrants[n]; err == nil && ok {
		return grant, nil
	}
	return "", newOAuthError(errorsv1.OauthError_OAUTH_ERROR_UNSUPPORTED_GRANT_TYPE, "grantType must be 1 (client credentials) or 2 (refresh token)")
}
