package app

import (
	"encoding/json"
	"reflect"
	"strings"
	"sync/atomic"
	"testing"
	"time"
)

// aheadClock is the registry's clock in a test: the real time moved
// forward by what the test says.
type aheadClock struct{ ahead atomic.Int64 }

func (c *aheadClock) now() time.Time          { return time.Now().Add(time.Duration(c.ahead.Load())) }
func (c *aheadClock) advance(d time.Duration) { c.ahead.Add(int64(d)) }
func forEachDeploymentWith(t *testing.T, configure func(*Config), test func(t *testing.T, e *e2e)) {
	for _, d := range deployments {
		t.Run(d.name, func(t *testing.T) { test(t, startE2EWith(t, d, configure)) })
	}
}

// The revocation set answers Unavailable when Redis does not answer in
// time, which a loaded test machine makes happen: these retry what says so
// (a 503, an unavailable verdict) for up to 10s, as a client would.
func (e *e2e) doRetrying(method, path, bearer string, body any) response {
	e.t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for {
		r := e.do(method, path, bearer, body)
		if r.status != 503 || time.Now().After(deadline) {
			return r
		}
		time.Sleep(20 * time.Millisecond)
	}
}

func (p *paths) checkRetrying(t *testing.T, id, secret, token string) map[string]verdict {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for {
		got := p.check(t, id, secret, token)
		settled := true
		for _, v := range got {
			settled = settled && v != unavailable
		}
		if settled || time.Now().After(deadline) {
			return got
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// eventually retries cond every 20ms for up to 5s.
func eventually(t *testing.T, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(5 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("%s: never happened", what)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// TestNewRotationGracePeriodE2E: over REST, a rotation with a grace period
// lets both secrets (and the tokens of both) work until it ends, and only
// the new one after (the registry's clock moved past it); bad grace ends
// are 400s naming the field.
func TestNewRotationGracePeriodE2E(t *testing.T) {
	clocks := map[string]*aheadClock{}
	forEachDeploymentWith(t, func(cfg *Config) {
		c := &aheadClock{}
		clocks[cfg.DB] = c
		cfg.RegistryClock = c.now
	}, func(t *testing.T, e *e2e) { testRotationGracePeriod(t, e, clocks[e.db]) })
}

func testRotationGracePeriod(t *testing.T, e *e2e, clock *aheadClock) {
	op := e.accessToken(e.opID, e.opSec)
	id, oldSecret := e.credential(t, op, nil)
	p := newPaths(t, e)
	oldGrant := e.grant(id, oldSecret, "").json(t)
	oldAT, oldRT := oldGrant["access_token"].(string), oldGrant["refresh_token"].(string)

	for name, end := range map[string]time.Time{
		"in the past":      clock.now().Add(-time.Minute),
		"beyond 7 days":    clock.now().Add(7*24*time.Hour + time.Minute),
		"beyond year 9999": time.Date(9999, 12, 31, 23, 59, 59, 0, time.UTC),
	} {
		r := e.doRetrying("POST", "/v1/tokens/"+id+":rotate", op, map[string]any{"previousSecretExpireTime": end.Format(time.RFC3339)})
		if r.status != 400 || !strings.Contains(string(r.body), "previousSecretExpireTime") {
			t.Errorf("rotate with a grace end %s: %d %s, want 400 naming previousSecretExpireTime", name, r.status, r.body)
		}
	}
	if r := e.doRetrying("POST", "/v1/tokens/"+id+":rotate", op, map[string]any{"previousSecretExpireTime": "tomorrow"}); r.status != 400 {
		t.Errorf("rotate with a grace end that is no time: %d %s, want 400", r.status, r.body)
	}

	end := clock.now().Add(time.Hour).UTC().Truncate(time.Second)
	r := e.doRetrying("POST", "/v1/tokens/"+id+":rotate", op, map[string]any{"previousSecretExpireTime": end.Format(time.RFC3339)})
	if r.status != 200 {
		t.Fatalf("rotate with a grace period: %d %s", r.status, r.body)
	}
	rotated := r.json(t)
	newSecret := rotated["clientSecret"].(string)
	if got := rotated["token"].(map[string]any)["previousSecretExpireTime"]; got != end.Format(time.RFC3339) {
		t.Errorf("rotated token's previousSecretExpireTime = %v, want %s", got, end.Format(time.RFC3339))
	}
	if got := e.doRetrying("GET", "/v1/tokens/"+id, op, nil).json(t)["previousSecretExpireTime"]; got != end.Format(time.RFC3339) {
		t.Errorf("GET token's previousSecretExpireTime = %v, want %s", got, end.Format(time.RFC3339))
	}

	// The grace period: both secrets, and what each got, work.
	for name, secret := range map[string]string{"old": oldSecret, "new": newSecret} {
		if r := e.grant(id, secret, ""); r.status != 200 {
			t.Errorf("grant with the %s secret in the grace period: %d %s", name, r.status, r.body)
		}
	}
	expectAll(t, "the old secret's access token in the grace period", p.checkRetrying(t, e.opID, e.opSec, oldAT), accepted)
	refreshed := e.refresh(id, oldSecret, oldRT, "")
	if refreshed.status != 200 {
		t.Fatalf("refresh of the old secret's family in the grace period: %d %s", refreshed.status, refreshed.body)
	}
	oldRT = refreshed.json(t)["refresh_token"].(string)
	newAT := e.grant(id, newSecret, "").json(t)["access_token"].(string)

	// Past its end: only the new secret.
	clock.advance(time.Hour + time.Second)
	if r := e.grant(id, oldSecret, ""); r.status != 401 {
		t.Errorf("grant with the old secret after the grace period: %d %s, want 401", r.status, r.body)
	}
	if r := e.grant(id, newSecret, ""); r.status != 200 {
		t.Errorf("grant with the new secret after the grace period: %d %s", r.status, r.body)
	}
	if r := e.refresh(id, newSecret, oldRT, ""); r.status != 400 || r.json(t)["error"] != "invalid_grant" {
		t.Errorf("refresh of the old secret's family after the grace period: %d %s, want invalid_grant", r.status, r.body)
	}
	if got := e.introspect(e.opID, e.opSec, oldRT); got["active"] != false {
		t.Errorf("the old secret's refresh token introspects %v after the grace period", got)
	}
	// The keeper puts the old version's revocation in the set at its next
	// tick: then every verifier refuses the old secret's access token.
	eventually(t, "the old secret's access token refused everywhere", func() bool {
		for _, v := range p.checkRetrying(t, e.opID, e.opSec, oldAT) {
			if v != refused {
				return false
			}
		}
		return true
	})
	expectAll(t, "the new secret's access token after the grace period", p.checkRetrying(t, e.opID, e.opSec, newAT), accepted)
	if got := e.doRetrying("GET", "/v1/tokens/"+id, op, nil).json(t); got["previousSecretExpireTime"] != nil || got["state"] != "TOKEN_STATE_ACTIVE" {
		t.Errorf("token after the grace period: %v", got)
	}
	eventually(t, "the audit trail records the previous secret's end", func() bool {
		evs := e.doRetrying("GET", "/v1/tokens/"+id+"/events", op, nil).json(t)["events"].([]any)
		last := evs[len(evs)-1].(map[string]any)
		rot := evs[len(evs)-2].(map[string]any)
		return last["action"] == "previous secret ended" && rot["action"] == "rotate" &&
			rot["details"].(map[string]any)["previousSecretExpireTime"] == end.Format(time.RFC3339Nano)
	})
}

// TestNewLeakReportE2E: POST /v1/leaks without a credential revokes the
// credential of each chave secret in it before the answer returns (its
// access and refresh tokens fail at once on every verifier), answers per
// string without naming tenant or token, records the source and the URL
// in the audit trail, and refuses bad input with 400s naming the field
// and a source over its limit with 429.
func TestNewLeakReportE2E(t *testing.T) {
	forEachDeploymentWith(t, func(cfg *Config) { cfg.LeakReportsPerMinute = 4 }, testLeakReport)
}

func testLeakReport(t *testing.T, e *e2e) {
	op := e.accessToken(e.opID, e.opSec)
	id, secret := e.credential(t, op, nil)
	other, otherSecret := e.credential(t, op, nil)
	p := newPaths(t, e)
	g := e.grant(id, secret, "").json(t)
	at, rt := g["access_token"].(string), g["refresh_token"].(string)
	otherAT := e.accessToken(other, otherSecret)
	expectAll(t, "before the report", p.checkRetrying(t, e.opID, e.opSec, at), accepted)

	bad := []byte(secret)
	bad[len(bad)-1] ^= 1 // fails the checksum
	r := e.doRetrying("POST", "/v1/leaks", "", map[string]any{
		"secrets": []string{"hello", string(bad), secret},
		"source":  "github", "url": "https://github.com/acme/app/blob/main/.env",
	})
	if r.status != 200 {
		t.Fatalf("leak report: %d %s", r.status, r.body)
	}
	// protojson varies its spacing: compare the JSON, not the bytes.
	var answer, want any
	_ = json.Unmarshal([]byte(`{"results":[{"revoked":false},{"revoked":false},{"revoked":true}]}`), &want)
	if err := json.Unmarshal(r.body, &answer); err != nil || !reflect.DeepEqual(answer, want) {
		t.Errorf("answer = %s, want the three results in order and nothing else", r.body)
	}
	for _, leak := range []string{id, "acme", "chave_ci_"} {
		if strings.Contains(string(r.body), leak) {
			t.Errorf("the answer reveals %q: %s", leak, r.body)
		}
	}
	// No waiting: the revocation is in force when the answer returns.
	expectAll(t, "right after the report", p.checkRetrying(t, e.opID, e.opSec, at), refused)
	if r := e.grant(id, secret, ""); r.status != 401 {
		t.Errorf("grant with the reported secret: %d %s, want 401", r.status, r.body)
	}
	if r := e.refresh(id, secret, rt, ""); r.status == 200 {
		t.Errorf("refresh of the reported credential's family: %d %s", r.status, r.body)
	}
	expectAll(t, "another credential", p.checkRetrying(t, e.opID, e.opSec, otherAT), accepted)
	tok := e.doRetrying("GET", "/v1/tokens/"+id, op, nil).json(t)
	if tok["state"] != "TOKEN_STATE_REVOKED" || tok["revoker"] != "leak-report" {
		t.Errorf("reported token = %v", tok)
	}
	evs := e.doRetrying("GET", "/v1/tokens/"+id+"/events", op, nil).json(t)["events"].([]any)
	last := evs[len(evs)-1].(map[string]any)
	if d, _ := last["details"].(map[string]any); last["action"] != "revoked: secret reported leaked" ||
		d["source"] != "github" || d["url"] != "https://github.com/acme/app/blob/main/.env" {
		t.Errorf("last event = %v", last)
	}

	for name, body := range map[string]struct {
		req   map[string]any
		field string
	}{
		"no source":    {map[string]any{"secrets": []string{secret}}, "source"},
		"ftp url":      {map[string]any{"secrets": []string{secret}, "source": "x", "url": "ftp://a.example/"}, "url"},
		"long string":  {map[string]any{"secrets": []string{secret + "A"}, "source": "x"}, "secrets[0]"},
		"101 strings":  {map[string]any{"secrets": make([]string, 101), "source": "x"}, "secrets"},
		"unknown body": {map[string]any{"secrets": []string{secret}, "source": "x", "tenant": "acme"}, ""},
	} {
		r := e.doRetrying("POST", "/v1/leaks", "", body.req)
		if r.status != 400 || !strings.Contains(string(r.body), body.field) {
			t.Errorf("%s: %d %s, want 400 naming %q", name, r.status, r.body, body.field)
		}
	}
	// The limit is 4 a minute per source: "github" made one.
	for i := range 3 {
		if r := e.doRetrying("POST", "/v1/leaks", "", map[string]any{"secrets": []string{"x"}, "source": "github"}); r.status != 200 {
			t.Fatalf("report %d of github: %d %s", i+2, r.status, r.body)
		}
	}
	if r := e.doRetrying("POST", "/v1/leaks", "", map[string]any{"secrets": []string{"x"}, "source": "github"}); r.status != 429 {
		t.Errorf("5th report of github in a minute: %d %s, want 429", r.status, r.body)
	}
	if r := e.doRetrying("POST", "/v1/leaks", "", map[string]any{"secrets": []string{"x"}, "source": "scanner"}); r.status != 200 {
		t.Errorf("another source: %d %s", r.status, r.body)
	}
}
