package app

import (
	"encoding/json"
	"net/url"
	"strings"
	"testing"
)

// TestEndToEndControlCharacters: control characters and invalid UTF-8 in
// any text field are refused with a 400 naming the field, on every
// backend alike (SQLite used to store a NUL that PostgreSQL refused), and
// ids or filters holding them find nothing instead of failing.
func TestEndToEndControlCharacters(t *testing.T) {
	forEachDeployment(t, testEndToEndControlCharacters)
}

func testEndToEndControlCharacters(t *testing.T, e *e2e) {
	op := e.accessToken(e.opID, e.opSec)
	id, secret := e.credential(t, op, map[string]any{"contexts": []string{"inventory"}})
	if r := e.do("PATCH", "/v1/tenants/acme", op, map[string]any{"contexts": []string{"inventory", "foccohub", "telegram"}}); r.status != 200 {
		t.Fatalf("entitle: %d %s", r.status, r.body)
	}
	token := func(edit func(map[string]any)) map[string]any {
		b := map[string]any{"displayName": "Financeiro", "tenant": "acme", "contexts": []string{"inventory"}}
		edit(b)
		return b
	}
	bad := []struct{ name, text string }{
		{"NUL", "a\x00b"}, {"line feed", "a\nb"}, {"tab", "a\tb"}, {"carriage return", "a\rb"}, {"escape", "a\x1b[2Jb"},
		{"DEL", "a\x7fb"}, {"C1 NEL", "a\u0085b"}, {"C1 CSI", "a\u009bb"},
	}
	type write struct {
		method, path string
		body         any
		field        string
	}
	var writes []write
	for _, b := range bad {
		writes = append(writes,
			write{"POST", "/v1/tokens", token(func(m map[string]any) { m["displayName"] = b.text }), "displayName"},
			write{"PATCH", "/v1/tokens/" + id, map[string]any{"displayName": b.text}, "displayName"},
			write{"POST", "/v1/tenants", map[string]any{"id": "globex", "displayName": b.text}, "displayName"},
			write{"PATCH", "/v1/tenants/acme", map[string]any{"displayName": b.text}, "displayName"},
			write{"POST", "/v1/tenants", map[string]any{"id": "glo" + b.text, "displayName": "Globex"}, "id"},
			write{"POST", "/v1/tokens", token(func(m map[string]any) { m["tenant"] = "ac" + b.text }), "tenant"},
			write{"POST", "/v1/tokens", token(func(m map[string]any) {
				m["contexts"] = []string{"foccohub"}
				m["parameters"] = map[string]any{"foccohub": map[string]string{"marketplace": "mercadolivre" + b.text}}
			}), "parameters.foccohub.marketplace"},
			write{"POST", "/v1/tokens", token(func(m map[string]any) {
				m["contexts"] = []string{"telegram"}
				m["parameters"] = map[string]any{"telegram": map[string]string{"botToken": botToken + b.text}}
			}), "parameters.telegram.botToken"},
		)
		if b.name != "line feed" && b.name != "tab" { // a description may have lines
			writes = append(writes,
				write{"POST", "/v1/tokens", token(func(m map[string]any) { m["description"] = b.text }), "description"},
				write{"PATCH", "/v1/tokens/" + id, map[string]any{"description": b.text}, "description"})
		}
	}
	// Invalid UTF-8 cannot be written by encoding/json: raw bodies.
	writes = append(writes,
		write{"POST", "/v1/tokens", `{"displayName":"a` + "\xff" + `b","tenant":"acme","contexts":["inventory"]}`, "displayName"},
		write{"POST", "/v1/tokens", `{"displayName":"ok","description":"a` + "\xc3" + `","tenant":"acme","contexts":["inventory"]}`, "description"},
		write{"POST", "/v1/tenants", `{"id":"globex","displayName":"` + "\xed\xa0\x80" + `"}`, "displayName"},
	)
	for _, w := range writes {
		r := e.do(w.method, w.path, op, w.body)
		var got struct{ Message string }
		_ = json.Unmarshal(r.body, &got)
		if r.status != 400 || !strings.HasPrefix(got.Message, w.field+": ") {
			t.Errorf("%s %s %q: %d %s; want 400 naming %s", w.method, w.path, w.body, r.status, r.body, w.field)
		}
	}
	if r := e.do("POST", "/v1/tokens", op, token(func(m map[string]any) {
		m["displayName"], m["description"] = "Produção 🚀", "Token para consulta\n\tda equipe do financeiro"
	})); r.status != 200 {
		t.Errorf("accents, emoji, lines and tabs: %d %s", r.status, r.body)
	}

	// Ids and filters: nothing is found, nothing fails.
	for _, path := range []string{"/v1/tokens/" + url.PathEscape(id+"\x00"), "/v1/tokens/" + url.PathEscape("\x00"),
		"/v1/tokens/" + url.PathEscape(id+"\x00") + "/events", "/v1/tenants/" + url.PathEscape("acme\x00"),
		"/v1/tokens?tenant=" + url.QueryEscape("acme\x00"), "/v1/contexts?tenant=" + url.QueryEscape("acme\x00"),
		"/v1/tokens?pageToken=" + url.QueryEscape("\x00")} {
		if r := e.do("GET", path, op, nil); r.status >= 500 || r.status == 200 && !strings.Contains(path, "?") {
			t.Errorf("GET %s: %d %s", path, r.status, r.body)
		}
	}
	for _, cid := range []string{id + "\x00", "\x00", "chave_ci_\x00\x00"} {
		if r := e.form("/oauth2/token", url.Values{"grant_type": {"client_credentials"}, "client_id": {cid}, "client_secret": {secret}}, "", ""); r.status != 401 {
			t.Errorf("grant as %q: %d %s", cid, r.status, r.body)
		}
		body, _ := json.Marshal(map[string]any{"grantType": 1, "clientId": cid, "clientSecret": secret})
		if r := e.tss("/rest/WSTSSAUTH", string(body)); r.status >= 500 || r.status == 200 {
			t.Errorf("TSS as %q: %d %s", cid, r.status, r.body)
		}
	}
}
