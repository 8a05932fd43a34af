package app

import (
	"bytes"
	"encoding/json"
	"fmt"
	"net/http"
	"strings"
	"testing"
)

func (e *e2e) tss(path, body string) response {
	e.t.Helper()
	req, _ := http.NewRequest("POST", e.base+path, strings.NewReader(body))
	req.Header.Set("Content-Type", "application/json")
	return e.send(req)
}

// TestTSSEndpoint walks the TSS document's own examples, spelling included.
func TestTSSEndpoint(t *testing.T) { forEachDeployment(t, testTSSEndpoint) }

func testTSSEndpoint(t *testing.T, e *e2e) {
	op := e.accessToken(e.opID, e.opSec)
	id, secret := e.credential(t, op, nil)

	// The document's example: "grantyType" and a numeric string.
	r := e.tss("/rest/WSTSSAUTH", fmt.Sprintf(`{"urlTSS": "http://localhost:8080/", "grantyType": "1", "clientId": %q, "clientSecret": %q}`, id, secret))
	if r.status != 200 {
		t.Fatalf("TSS client credentials: %d %s", r.status, r.body)
	}
	var got map[string]any
	if err := json.Unmarshal(r.body, &got); err != nil {
		t.Fatal(err)
	}
	if len(got) != 4 || got["tokenType"] != "Bearer" || got["expiresIn"] != float64(1800) || got["accesstoken"] == "" || got["refreshToken"] == "" {
		t.Fatalf("TSS answer = %s", r.body)
	}
	if !bytes.HasPrefix(bytes.TrimSpace(r.body), []byte(`{"accesstoken"`)) {
		t.Fatalf("TSS answer does not start with accesstoken: %s", r.body)
	}
	claims := verifyWithGoJose(t, e, got["accesstoken"].(string))
	if claims["tenantid"] != "acme" {
		t.Fatalf("tenantid = %v", claims["tenantid"])
	}

	// Refresh with a numeric grantType, path in another case.
	r = e.tss("/rest/wstssauth", fmt.Sprintf(`{"urlTSS": "x", "grantType": 2, "clientId": %q, "clientSecret": %q, "refreshToken": %q}`, id, secret, got["refreshToken"]))
	if r.status != 200 {
		t.Fatalf("TSS refresh: %d %s", r.status, r.body)
	}
	var refreshed map[string]any
	json.Unmarshal(r.body, &refreshed)
	if len(refreshed) != 4 || refreshed["refreshToken"] == got["refreshToken"] {
		t.Fatalf("TSS refresh answer = %s", r.body)
	}

	// Failures: non-200 with code and message.
	for _, body := range []string{
		fmt.Sprintf(`{"grantType": 1, "clientId": %q, "clientSecret": "wrong"}`, id),
		`{"grantType": 3}`,
		`{"grantType": "abc"}`,
		`{not json`,
		fmt.Sprintf(`{"grantType": 2, "clientId": %q, "clientSecret": %q, "refreshToken": %q}`, id, secret, got["refreshToken"]),
	} {
		r := e.tss("/rest/WSTSSAUTH", body)
		var m map[string]any
		if r.status == 200 || json.Unmarshal(r.body, &m) != nil || m["code"] == nil || m["message"] == nil {
			t.Errorf("TSS %s: %d %s", body, r.status, r.body)
		}
	}
}
