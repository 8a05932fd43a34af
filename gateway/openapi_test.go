package gateway_test

import (
	"encoding/json"
	"net/http"
	"strings"
	"testing"
)

type openAPIOperation struct {
	Consumes   []string `json:"consumes"`
	Parameters []struct {
		Name, In string
		Required bool
	} `json:"parameters"`
	Responses map[string]struct {
		Schema struct {
			Ref string `json:"$ref"`
		} `json:"schema"`
	} `json:"responses"`
	Tags []string `json:"tags"`
}

// TestNewOpenAPIDescribesTheRealOAuthEndpoints: the served document has no
// JSON-body /oauth2/token (the transcoding nothing served), and describes
// the three OAuth endpoints as they are: form parameters, RFC 6749 error
// bodies for every failure, pointing at the RFC 8414 metadata.
func TestNewOpenAPIDescribesTheRealOAuthEndpoints(t *testing.T) {
	h := newHarness(t, nil)
	resp, body := h.do(t, http.MethodGet, "/openapi.json", nil, "")
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("status %d", resp.StatusCode)
	}
	var doc struct {
		Swagger string `json:"swagger"`
		Info    struct {
			Title, Description string
		} `json:"info"`
		Tags        []struct{ Name string } `json:"tags"`
		Paths       map[string]map[string]openAPIOperation
		Definitions map[string]json.RawMessage `json:"definitions"`
	}
	if err := json.Unmarshal(body, &doc); err != nil {
		t.Fatal(err)
	}
	if doc.Swagger != "2.0" || doc.Paths["/v1/tokens"] == nil {
		t.Fatalf("not the whole document: %.300s", body)
	}
	if !strings.Contains(doc.Info.Description, "/.well-known/oauth-authorization-server") {
		t.Errorf("info.description does not point at the RFC 8414 metadata: %q", doc.Info.Description)
	}
	for _, tag := range doc.Tags {
		if tag.Name == "AuthService" || tag.Name == "CredentialService" {
			t.Errorf("tag %s has no REST operation", tag.Name)
		}
	}
	want := map[string][]string{
		"/oauth2/token":      {"grant_type"},
		"/oauth2/revoke":     {"token"},
		"/oauth2/introspect": {"token"},
	}
	for path, required := range want {
		item := doc.Paths[path]
		if len(item) != 1 || item["post"].Tags == nil {
			t.Errorf("%s: operations %v, want POST alone", path, item)
			continue
		}
		op := item["post"]
		if len(op.Consumes) != 1 || op.Consumes[0] != "application/x-www-form-urlencoded" {
			t.Errorf("%s consumes %v, want a form", path, op.Consumes)
		}
		got := map[string]bool{}
		for _, p := range op.Parameters {
			if p.In != "formData" {
				t.Errorf("%s: parameter %s in %s, want formData", path, p.Name, p.In)
			}
			if p.Required {
				got[p.Name] = true
			}
		}
		for _, r := range required {
			if !got[r] {
				t.Errorf("%s: %s is not a required form parameter", path, r)
			}
		}
		for code, r := range op.Responses {
			if code == "200" {
				continue
			}
			if r.Schema.Ref != "#/definitions/oauth2Error" {
				t.Errorf("%s %s answers %q, want the RFC 6749 error body", path, code, r.Schema.Ref)
			}
		}
		if _, ok := op.Responses["default"]; ok {
			t.Errorf("%s has a default (google.rpc.Status) response", path)
		}
	}
	if doc.Definitions["oauth2Error"] == nil {
		t.Error("no oauth2Error definition")
	}
}
