package console

import (
	"encoding/json"
	"io/fs"
	"maps"
	"net/http"
	"net/http/httptest"
	"regexp"
	"slices"
	"strings"
	"testing"
)

// catalog reads one language's message catalog.
func catalog(t *testing.T, lang string) map[string]string {
	t.Helper()
	data, err := assets.ReadFile("assets/i18n/" + lang + ".json")
	if err != nil {
		t.Fatal(err)
	}
	var m map[string]string
	if err := json.Unmarshal(data, &m); err != nil {
		t.Fatalf("%s.json: %v", lang, err)
	}
	return m
}

// usedKeys returns the message keys the code names: t('key') in the
// JavaScript modules and data-i18n="key" in the HTML.
func usedKeys(t *testing.T) map[string][]string {
	t.Helper()
	used := map[string][]string{}
	patterns := map[string]*regexp.Regexp{
		".js":   regexp.MustCompile(`\bt\(\s*'([^']+)'`),
		".html": regexp.MustCompile(`data-i18n="([^"]+)"`),
	}
	err := fs.WalkDir(assets, "assets", func(p string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() {
			return err
		}
		for ext, re := range patterns {
			if !strings.HasSuffix(p, ext) {
				continue
			}
			data, err := assets.ReadFile(p)
			if err != nil {
				return err
			}
			for _, m := range re.FindAllStringSubmatch(string(data), -1) {
				used[m[1]] = append(used[m[1]], p)
			}
			// i18n.js itself translates the data-i18n keys counted above.
			if ext == ".js" && p != "assets/js/i18n.js" && regexp.MustCompile(`\bt\(\s*[^'\s)]`).Match(data) {
				t.Errorf("%s calls t() with a key that is not a string literal: this test could not check it", p)
			}
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	return used
}

func TestCatalogsHoldTheSameKeys(t *testing.T) {
	pt, en := catalog(t, "pt-BR"), catalog(t, "en")
	for k := range pt {
		if _, ok := en[k]; !ok {
			t.Errorf("key %q is in pt-BR.json but not in en.json", k)
		}
	}
	for k := range en {
		if _, ok := pt[k]; !ok {
			t.Errorf("key %q is in en.json but not in pt-BR.json", k)
		}
	}
	for lang, m := range map[string]map[string]string{"pt-BR": pt, "en": en} {
		for k, v := range m {
			if strings.TrimSpace(v) == "" {
				t.Errorf("%s.json: key %q is empty", lang, k)
			}
		}
	}
}

func TestEveryKeyInUseIsInTheCatalogs(t *testing.T) {
	used := usedKeys(t)
	if len(used) < 50 {
		t.Fatalf("found only %d keys in the code: the pattern no longer matches how the code names them", len(used))
	}
	for _, lang := range []string{"pt-BR", "en"} {
		m := catalog(t, lang)
		for _, k := range slices.Sorted(maps.Keys(used)) {
			if _, ok := m[k]; !ok {
				t.Errorf("key %q (used in %v) is missing from %s.json", k, used[k], lang)
			}
		}
		for k := range m {
			if _, ok := used[k]; !ok {
				t.Errorf("%s.json: key %q is used nowhere", lang, k)
			}
		}
	}
}

// The product document's labels, exactly as written there (issue 8).
func TestProductLabelsVerbatim(t *testing.T) {
	pt := catalog(t, "pt-BR")
	want := map[string]string{
		"list.generate":       "+ GERAR TOKEN",
		"field.name":          "Nome",
		"field.expireTime":    "Data de Expiração",
		"field.description":   "Descrição",
		"field.company":       "Empresa",
		"field.access":        "Permissão de Acesso",
		"access.general":      "Acesso Geral",
		"access.custom":       "Acesso personalizado",
		"field.parameters":    "Parâmetros do Token",
		"secret.warning":      "Certifique-se de copiar o seu token no momento da geração, por questões de segurança ele não é armazenado e você não poderá vê-lo novamente.",
		"secret.confirmTitle": "Você copiou o token?",
		"state.active":        "Ativo",
		"state.revoked":       "Revogado",
		"state.expired":       "Expirado",
		"state.soon":          "Expira em breve",
		"field.lastUse":       "Último uso",
		"token.neverUsed":     "nunca",
		"list.showing":        "Mostrando {n} tokens",
		"list.loadMore":       "Carregar mais",
	}
	for k, v := range want {
		if pt[k] != v {
			t.Errorf("pt-BR %s = %q, want %q", k, pt[k], v)
		}
	}
}

// Data from the API is written as text: no HTML sinks, no eval, nothing
// inline that the Content-Security-Policy would have to allow, and only the
// language preference in localStorage.
func TestNoUnsafeSinks(t *testing.T) {
	forbidden := map[string][]string{
		".js":   {"innerHTML", "outerHTML", "insertAdjacentHTML", "document.write", "eval(", "new Function", "setAttribute('style'", "document.cookie"},
		".html": {"style=", "<style", " on", "javascript:"},
	}
	inlineScript := regexp.MustCompile(`<script(?:\s[^>]*)?>[^<]+</script>`)
	localStorage := regexp.MustCompile(`localStorage\.setItem\(\s*([A-Za-z_]+)`)
	err := fs.WalkDir(assets, "assets", func(p string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() {
			return err
		}
		data, err := assets.ReadFile(p)
		if err != nil {
			return err
		}
		for ext, words := range forbidden {
			if !strings.HasSuffix(p, ext) {
				continue
			}
			for _, w := range words {
				if ext == ".html" && w == " on" {
					if regexp.MustCompile(`\son[a-z]+=`).Match(data) {
						t.Errorf("%s has an inline event handler", p)
					}
					continue
				}
				if strings.Contains(string(data), w) {
					t.Errorf("%s contains %q", p, w)
				}
			}
		}
		if strings.HasSuffix(p, ".html") && inlineScript.Match(data) {
			t.Errorf("%s has an inline script", p)
		}
		for _, m := range localStorage.FindAllStringSubmatch(string(data), -1) {
			if !(p == "assets/js/i18n.js" && m[1] == "STORE") {
				t.Errorf("%s writes localStorage (%s): only the language preference may be kept there", p, m[0])
			}
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
}

func TestHandler(t *testing.T) {
	srv := httptest.NewServer(Handler())
	t.Cleanup(srv.Close)
	get := func(path string, header http.Header) *http.Response {
		t.Helper()
		req, _ := http.NewRequestWithContext(t.Context(), http.MethodGet, srv.URL+path, nil)
		for k, v := range header {
			req.Header[k] = v
		}
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		return resp
	}
	for path, ct := range map[string]string{
		"/":                     "text/html; charset=utf-8",
		"/console/js/app.js":    "text/javascript; charset=utf-8",
		"/console/app.css":      "text/css; charset=utf-8",
		"/console/i18n/en.json": "application/json; charset=utf-8",
		"/console/favicon.svg":  "image/svg+xml",
	} {
		resp := get(path, nil)
		if resp.StatusCode != 200 || resp.Header.Get("Content-Type") != ct {
			t.Errorf("GET %s: %d %q, want 200 %q", path, resp.StatusCode, resp.Header.Get("Content-Type"), ct)
		}
		checkSecurityHeaders(t, path, resp.Header)
		if resp.Header.Get("Cache-Control") != "no-cache" || resp.Header.Get("ETag") == "" {
			t.Errorf("GET %s: Cache-Control %q, ETag %q: want revalidation by ETag", path, resp.Header.Get("Cache-Control"), resp.Header.Get("ETag"))
		}
		if again := get(path, http.Header{"If-None-Match": {resp.Header.Get("ETag")}}); again.StatusCode != http.StatusNotModified {
			t.Errorf("GET %s with its ETag: %d, want 304", path, again.StatusCode)
		}
	}
	for _, path := range []string{"/console/", "/console/js/", "/console/missing.js", "/console/../go.mod"} {
		resp := get(path, nil)
		if resp.StatusCode != http.StatusNotFound {
			t.Errorf("GET %s: %d, want 404", path, resp.StatusCode)
		}
		checkSecurityHeaders(t, path, resp.Header)
	}
}

func checkSecurityHeaders(t *testing.T, path string, h http.Header) {
	t.Helper()
	want := map[string]string{
		"Content-Security-Policy": "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; connect-src 'self'; frame-ancestors 'none'; base-uri 'none'; form-action 'self'",
		"X-Content-Type-Options":  "nosniff",
		"Referrer-Policy":         "no-referrer",
	}
	for k, v := range want {
		if got := h.Get(k); got != v {
			t.Errorf("GET %s: %s = %q, want %q", path, k, got, v)
		}
	}
}
