package app

import (
	"context"
	"testing"

	"github.com/chave/chave/services/revocation"
)

// TestRetriedRevokeAfter503: with Redis refusing writes (full, under
// noeviction) a credential's revoke is recorded in the database but not in
// the revocation set, and answers 503; the token already shows REVOKED.
// Retrying is safe: while Redis still refuses it answers 503 again, once
// Redis takes writes it answers 200, and the audit trail holds one revoke,
// at the first call's time.
func TestRetriedRevokeAfter503(t *testing.T) {
	for _, d := range deployments {
		if d.redis {
			t.Run(d.name, func(t *testing.T) { testRetriedRevoke(t, startE2E(t, d)) })
		}
	}
}

func testRetriedRevoke(t *testing.T, e *e2e) {
	op := e.accessToken(e.opID, e.opSec)
	id, _ := e.credential(t, op, nil)
	setMaxMemory := func(v string) {
		t.Helper()
		client, err := revocation.ParseURL(e.redis.URL())
		if err != nil {
			t.Fatal(err)
		}
		defer client.Close()
		if err := client.ConfigSet(context.Background(), "maxmemory", v).Err(); err != nil {
			t.Fatal(err)
		}
	}
	setMaxMemory("1") // every write is refused: OOM under noeviction; reads still work
	r := e.do("POST", "/v1/tokens/"+id+":revoke", op, map[string]any{})
	if r.status != 503 {
		t.Fatalf("revoke with Redis refusing writes: %d %s, want 503", r.status, r.body)
	}
	got := e.do("GET", "/v1/tokens/"+id, op, nil).json(t)
	if got["state"] != "TOKEN_STATE_REVOKED" {
		t.Fatalf("after the 503, the database holds state %v, want TOKEN_STATE_REVOKED", got["state"])
	}
	revokeTime := got["revokeTime"]
	if r := e.do("POST", "/v1/tokens/"+id+":revoke", op, map[string]any{}); r.status != 503 {
		t.Fatalf("retry while Redis still refuses writes: %d %s, want 503", r.status, r.body)
	}
	setMaxMemory("0")
	r = e.do("POST", "/v1/tokens/"+id+":revoke", op, map[string]any{})
	if r.status != 200 {
		t.Fatalf("retry once Redis takes writes: %d %s", r.status, r.body)
	}
	if m := r.json(t); m["state"] != "TOKEN_STATE_REVOKED" || m["revokeTime"] != revokeTime {
		t.Errorf("after the retries: state %v, revokeTime %v; want REVOKED at the first call's %v", m["state"], m["revokeTime"], revokeTime)
	}
	events := e.do("GET", "/v1/tokens/"+id+"/events", op, nil).json(t)["events"].([]any)
	revokes := 0
	for _, ev := range events {
		if ev.(map[string]any)["action"] == "revoke" {
			revokes++
		}
	}
	if revokes != 1 {
		t.Errorf("audit trail holds %d revoke events, want 1: %v", revokes, events)
	}
}
