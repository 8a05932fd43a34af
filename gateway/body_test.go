package gateway_test

import (
	"io"
	"net/http"
	"strings"
	"testing"

	"google.golang.org/grpc/codes"
)

// TestRESTTrailingData: a REST body is one JSON value; whatever follows it
// but white space is a 400 before any registry call.
func TestRESTTrailingData(t *testing.T) {
	h := newHarness(t, nil)
	const obj = `{"displayName":"Financeiro","tenant":"acme","contexts":["inventory"]}`
	for _, tt := range []struct{ name, method, path, body string }{
		{"text after the object", http.MethodPost, "/v1/tokens", obj + "xyz"},
		{"a second object", http.MethodPost, "/v1/tokens", obj + obj},
		{"a second object after white space", http.MethodPost, "/v1/tokens", obj + "\n" + obj},
		{"a closing brace too many", http.MethodPost, "/v1/tokens", obj + "}"},
		{"a number after the object", http.MethodPost, "/v1/tokens", obj + " 1"},
		{"NUL after the object", http.MethodPost, "/v1/tokens", obj + "\x00"},
		{"on a custom method", http.MethodPost, "/v1/tokens/tok_1:revoke", `{}{}`},
		{"on an update", http.MethodPatch, "/v1/tokens/tok_1", `{"displayName":"x"}x`},
	} {
		t.Run(tt.name, func(t *testing.T) {
			resp, body := h.do(t, tt.method, tt.path, http.Header{"Content-Type": {"application/json"}}, tt.body)
			msg := checkStatusBody(t, resp, body, http.StatusBadRequest, codes.InvalidArgument)
			if !strings.Contains(msg, "after the JSON body") {
				t.Errorf("message %q does not say what is wrong", msg)
			}
		})
	}
	if n := len(h.reg.callLog()); n != 0 {
		t.Errorf("registry called %d times", n)
	}

	// White space after the value, and no body at all, are fine.
	for _, body := range []string{obj + " \r\n\t", ""} {
		if resp, b := h.do(t, http.MethodPost, "/v1/tokens", http.Header{"Content-Type": {"application/json"}}, body); resp.StatusCode != http.StatusOK {
			t.Errorf("body %q: status %d, body %s", body, resp.StatusCode, b)
		}
	}
}

// unsized hides a body's length, so that the client sends it chunked and
// only reading it finds it too large.
type unsized struct{ io.Reader }

// TestBodyTooLarge: every endpoint that reads a body answers a too-large
// one with 413 and its own JSON error shape, whether the client announced
// the length or not.
func TestBodyTooLarge(t *testing.T) {
	h := newHarness(t, nil)
	pad := strings.Repeat("a", 2<<20)
	form := "grant_type=client_credentials&client_id=c&client_secret=s&pad=" + pad
	tests := []struct {
		name, path, contentType, body string
		errorMember                   string // the member of the JSON error body that must be set
	}{
		{"REST create", "/v1/tokens", "application/json", `{"displayName":"` + pad + `"}`, "message"},
		{"REST custom method", "/v1/tokens/tok_1:revoke", "application/json", `{"x":"` + pad + `"}`, "message"},
		{"token endpoint", "/oauth2/token", "application/x-www-form-urlencoded", form, "error"},
		{"revocation endpoint", "/oauth2/revoke", "application/x-www-form-urlencoded", "token=t&" + form, "error"},
		{"introspection endpoint", "/oauth2/introspect", "application/x-www-form-urlencoded", "token=t&" + form, "error"},
		{"TSS", "/rest/WSTSSAUTH", "application/json", `{"grantType":1,"clientId":"c","pad":"` + pad + `"}`, "message"},
	}
	for _, tt := range tests {
		for _, chunked := range []bool{false, true} {
			name := tt.name
			if chunked {
				name += " chunked"
			}
			t.Run(name, func(t *testing.T) {
				var rd io.Reader = strings.NewReader(tt.body)
				if chunked {
					rd = unsized{rd}
				}
				req, err := http.NewRequestWithContext(t.Context(), http.MethodPost, h.url+tt.path, rd)
				if err != nil {
					t.Fatal(err)
				}
				req.Header.Set("Content-Type", tt.contentType)
				resp, err := http.DefaultClient.Do(req)
				if err != nil {
					t.Fatal(err)
				}
				defer resp.Body.Close()
				body, _ := io.ReadAll(resp.Body)
				if resp.StatusCode != http.StatusRequestEntityTooLarge {
					t.Fatalf("status %d, want 413 (body %.200s)", resp.StatusCode, body)
				}
				if got := decodeObject(t, body); got[tt.errorMember] == nil || got[tt.errorMember] == "" {
					t.Errorf("error body %s lacks %q", body, tt.errorMember)
				}
			})
		}
	}
	if n := len(h.reg.callLog()); n != 0 {
		t.Errorf("registry called %d times", n)
	}
}

// TestRESTBadValueNamesField: a value its field cannot hold (a time past
// year 9999, a malformed one, a wrong type) is a 400 whose message starts
// with the field's name, on create and on update.
func TestRESTBadValueNamesField(t *testing.T) {
	h := newHarness(t, nil)
	for _, tt := range []struct{ name, method, path, body, field string }{
		{"year 10000", http.MethodPost, "/v1/tokens", `{"displayName":"x","expireTime":"10000-01-01T00:00:00Z"}`, "expireTime"},
		{"past 9999 once in UTC", http.MethodPost, "/v1/tokens", `{"displayName":"x","expireTime":"9999-12-31T23:59:59-01:00"}`, "expireTime"},
		{"not a time", http.MethodPost, "/v1/tokens", `{"displayName":"x","expireTime":"soon"}`, "expireTime"},
		{"a number", http.MethodPost, "/v1/tokens", `{"expireTime":1893456000,"displayName":"x"}`, "expireTime"},
		{"snake case name", http.MethodPost, "/v1/tokens", `{"expire_time":"10000-01-01T00:00:00Z"}`, "expire_time"},
		{"on update", http.MethodPatch, "/v1/tokens/tok_1", `{"displayName":"x","expireTime":"99999-01-01T00:00:00Z"}`, "expireTime"},
		{"wrong type", http.MethodPost, "/v1/tokens", `{"displayName":"x","contexts":"inventory"}`, "contexts"},
	} {
		t.Run(tt.name, func(t *testing.T) {
			resp, body := h.do(t, tt.method, tt.path, http.Header{"Content-Type": {"application/json"}}, tt.body)
			msg := checkStatusBody(t, resp, body, http.StatusBadRequest, codes.InvalidArgument)
			if !strings.HasPrefix(msg, tt.field+": ") {
				t.Errorf("message %q does not name %s", msg, tt.field)
			}
		})
	}
	if n := len(h.reg.callLog()); n != 0 {
		t.Errorf("registry called %d times", n)
	}
}
