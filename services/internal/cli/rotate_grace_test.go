package cli_test

import (
	"strings"
	"testing"
	"time"
)

// TestNewRotateWithGrace: --grace and --previous-secret-expire-time keep
// the old secret working until the end they name, the table says until
// when, and bad values are usage errors (exit 2) or the server's 400s.
func TestNewRotateWithGrace(t *testing.T) {
	s := startServer(t)
	op := s.op()
	op.must(t, "tenants", "create", "acme", "--name", "ACME", "--context", "inventory")
	j := op.must(t, "tokens", "create", "--name", "x", "--tenant", "acme", "--context", "inventory", "-o", "json").json(t)
	id, old := j["clientId"].(string), j["clientSecret"].(string)

	rotated := op.must(t, "tokens", "rotate", id, "--grace", "24h", "--yes", "-o", "json").json(t)
	fresh, _ := rotated["clientSecret"].(string)
	tok, _ := rotated["token"].(map[string]any)
	end, err := time.Parse(time.RFC3339, tok["previousSecretExpireTime"].(string))
	if err != nil || end.Before(time.Now().Add(23*time.Hour)) || end.After(time.Now().Add(25*time.Hour)) {
		t.Fatalf("previousSecretExpireTime = %v, %v; want about 24h ahead", tok["previousSecretExpireTime"], err)
	}
	for name, sec := range map[string]string{"old": old, "new": fresh} {
		if got := s.grant(t, id, sec); got != 200 {
			t.Errorf("grant with the %s secret in the grace period: %d", name, got)
		}
	}
	until := time.Now().Add(2 * time.Hour).UTC().Format(time.RFC3339)
	o := op.must(t, "tokens", "rotate", id, "--previous-secret-expire-time", until, "--yes")
	if !strings.Contains(o.stdout, "segredo anterior vale até") {
		t.Errorf("the table does not say until when the old secret works:\n%s", o.stdout)
	}
	if got := s.grant(t, id, old); got != 401 {
		t.Errorf("the first secret after a second rotation: %d, want 401", got)
	}
	if got := s.grant(t, id, fresh); got != 200 {
		t.Errorf("the second secret in its own grace period: %d, want 200", got)
	}

	if ev := op.must(t, "tokens", "events", id); !strings.Contains(ev.stdout, "DETALHES") || !strings.Contains(ev.stdout, "previousSecretExpireTime="+until) {
		t.Errorf("the audit trail does not show the grace end:\n%s", ev.stdout)
	}

	for _, args := range [][]string{
		{"--grace", "soon"},
		{"--grace", "-1h"},
		{"--previous-secret-expire-time", "tomorrow"},
		{"--grace", "1h", "--previous-secret-expire-time", until},
	} {
		if o := op.run(t, append([]string{"tokens", "rotate", id, "--yes"}, args...)...); o.code != 2 {
			t.Errorf("rotate %v: exit %d, want 2 (usage)\n%s", args, o.code, o.stderr)
		}
	}
	if o := op.run(t, "tokens", "rotate", id, "--yes", "--grace", "8d"); o.code == 0 || !strings.Contains(o.stderr, "previousSecretExpireTime") {
		t.Errorf("rotate --grace 8d: exit %d, stderr %q; want the server's refusal naming previousSecretExpireTime", o.code, o.stderr)
	}
}
