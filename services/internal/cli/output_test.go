package cli

import (
	"bytes"
	"encoding/json"
	"strings"
	"testing"
	"time"
)

func TestAgo(t *testing.T) {
	now := time.Date(2026, 12, 1, 12, 0, 0, 0, time.UTC)
	pt, en := &style{now: now, lang: ptBR}, &style{now: now, lang: english}
	for _, tc := range []struct {
		t      time.Time
		pt, en string
	}{
		{time.Time{}, "nunca", "never"},
		{now.Add(-20 * time.Second), "agora", "just now"},
		{now.Add(-2*time.Hour - 5*time.Minute), "há 2 horas", "2 hours ago"},
		{now.Add(-time.Hour), "há 1 hora", "1 hour ago"},
		{now.Add(3*24*time.Hour + time.Hour), "em 3 dias", "in 3 days"},
		{now.Add(24 * time.Hour), "em 1 dia", "in 1 day"},
		{now.Add(5 * time.Minute), "em 5 minutos", "in 5 minutes"},
		{now.Add(90 * 24 * time.Hour), "em 3 meses", "in 3 months"},
		{now.Add(-40 * 24 * time.Hour), "há 1 mês", "1 month ago"},
		{now.Add(90*24*time.Hour - time.Second), "em 3 meses", "in 3 months"},
		{now.Add(-time.Hour - 59*time.Minute), "há 2 horas", "2 hours ago"},
		{now.Add(-800 * 24 * time.Hour), "há 2 anos", "2 years ago"},
	} {
		if got := pt.ago(tc.t); got != tc.pt {
			t.Errorf("pt-BR %v: %q, want %q", tc.t.Sub(now), got, tc.pt)
		}
		if got := en.ago(tc.t); got != tc.en {
			t.Errorf("en %v: %q, want %q", tc.t.Sub(now), got, tc.en)
		}
	}
}

func TestLangFromEnvironment(t *testing.T) {
	for env, want := range map[string]lang{
		"":                              ptBR,
		"LANG=en_US.UTF-8":              english,
		"LANG=pt_BR.UTF-8":              ptBR,
		"LC_ALL=en_GB.UTF-8 LANG=pt_BR": english,
		"LC_ALL=pt_BR.UTF-8 LANG=en_US": ptBR,
		"LC_MESSAGES=en LANG=pt_BR":     english,
	} {
		vars := map[string]string{}
		for _, kv := range strings.Fields(env) {
			k, v, _ := strings.Cut(kv, "=")
			vars[k] = v
		}
		e := &Env{LookupEnv: func(k string) (string, bool) { v, ok := vars[k]; return v, ok }}
		if got := langFrom(e); got != want {
			t.Errorf("%q: %v, want %v", env, got, want)
		}
	}
}

func TestJSONPath(t *testing.T) {
	doc := `{"tokens": [{"id": "a", "state": "TOKEN_STATE_ACTIVE", "contexts": ["x", "y"], "n": 3},
		{"id": "b", "state": "TOKEN_STATE_REVOKED", "generalAccess": true}], "nextPageToken": "p"}`
	var v any
	dec := json.NewDecoder(strings.NewReader(doc))
	dec.UseNumber()
	if err := dec.Decode(&v); err != nil {
		t.Fatal(err)
	}
	for tmpl, want := range map[string]string{
		"{.nextPageToken}":                      "p\n",
		"{.tokens[*].id}":                       "a\nb\n",
		"{.tokens[1].state}":                    "TOKEN_STATE_REVOKED\n",
		"{.tokens[0].contexts}":                 `["x","y"]` + "\n",
		"{.tokens[0].contexts[*]}":              "x\ny\n",
		"{.tokens[0].n}":                        "3\n",
		"{.tokens[1].generalAccess}":            "true\n",
		"{.tokens[0].id}={.tokens[0].n}":        "a=3\n",
		`{.tokens[0].id}{"\t"}{.nextPageToken}`: "a\tp\n",
		"{.missing}":                            "\n",
		"{.tokens[7].id}":                       "\n",
		"{$.nextPageToken}":                     "p\n",
	} {
		jp, err := parseJSONPath(tmpl)
		if err != nil {
			t.Errorf("%s: %v", tmpl, err)
			continue
		}
		var out bytes.Buffer
		if err := jp.execute(&out, v); err != nil {
			t.Fatal(err)
		}
		if out.String() != want {
			t.Errorf("%s: %q, want %q", tmpl, out.String(), want)
		}
	}
	for _, bad := range []string{"", "{.a", "{a}", "{.a[x]}", "{.a[}", "{..a}", "{.a[-1]}"} {
		if _, err := parseJSONPath(bad); err == nil {
			t.Errorf("%q accepted", bad)
		}
	}
}

func FuzzJSONPath(f *testing.F) {
	for _, s := range []string{"{.a}", "{.a[*].b}", `x{"\n"}y`, "{.a[0]}", "{"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, tmpl string) {
		jp, err := parseJSONPath(tmpl)
		if err != nil {
			return
		}
		var v any = map[string]any{"a": []any{map[string]any{"b": "c"}, "d"}}
		_ = jp.execute(&bytes.Buffer{}, v)
	})
}

func TestParseExpires(t *testing.T) {
	saoPaulo := time.FixedZone("-03", -3*3600)
	got, err := parseExpires("2027-01-31", saoPaulo)
	if err != nil || !got.Equal(time.Date(2027, 2, 1, 3, 0, 0, 0, time.UTC)) {
		t.Errorf("a date is the end of that day, local time: %v %v", got, err)
	}
	got, err = parseExpires("2027-01-31T18:00:00-03:00", time.UTC)
	if err != nil || !got.Equal(time.Date(2027, 1, 31, 21, 0, 0, 0, time.UTC)) {
		t.Errorf("RFC 3339: %v %v", got, err)
	}
	for _, bad := range []string{"31/01/2027", "2027-02-30", "tomorrow", ""} {
		if _, err := parseExpires(bad, time.UTC); err == nil {
			t.Errorf("%q accepted", bad)
		}
	}
	for in, want := range map[string]time.Duration{"90d": 90 * 24 * time.Hour, "12h": 12 * time.Hour, "1d12h": 36 * time.Hour, "30m": 30 * time.Minute} {
		if d, err := parseDays(in); err != nil || d != want {
			t.Errorf("%s: %v %v, want %v", in, d, err, want)
		}
	}
	for _, bad := range []string{"d", "xd", "soon", "1d2"} {
		if _, err := parseDays(bad); err == nil {
			t.Errorf("%q accepted", bad)
		}
	}
}
