package gateway

import (
	"encoding/json"
	"strings"
	"testing"
)

// TestNewOpenAPIMergeRefusesOverrides: the supplement may not replace what
// the protos generate, and the generated document names no OAuth endpoint
// (they are the supplement's alone).
func TestNewOpenAPIMergeRefusesOverrides(t *testing.T) {
	var gen struct {
		Paths map[string]json.RawMessage `json:"paths"`
	}
	if err := json.Unmarshal(generatedOpenAPI, &gen); err != nil {
		t.Fatal(err)
	}
	for path := range gen.Paths {
		if strings.HasPrefix(path, "/oauth2/") {
			t.Errorf("the generated document has %s: an auth.proto HTTP rule is back", path)
		}
	}
	for _, sup := range []string{
		`{"paths": {"/v1/tokens": {}}}`,
		`{"paths": {}, "definitions": {"v1Tenant": {}}}`,
	} {
		if _, err := mergeOpenAPI(generatedOpenAPI, []byte(sup)); err == nil {
			t.Errorf("merging %s succeeded, want an error", sup)
		}
	}
	if _, err := mergeOpenAPI(generatedOpenAPI, []byte(`{"paths": {"/x": {"get": {"tags": ["X"]}}}, "tags": [{"name": "X"}]}`)); err != nil {
		t.Errorf("merging a new path: %v", err)
	}
}
