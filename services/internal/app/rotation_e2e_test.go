package app

import (
	"net/url"
	"testing"
	"time"
)

// TestRotationRevokesWhatTheOldSecretIssued: rotating a secret without a
// grace period makes every access and refresh token issued under the old
// one fail before the rotate call returns, on every verifier (the
// introspection endpoint, VerifyToken, the Go package over the shared
// revocation set, the registry's own Bearer check), while the new secret's
// tokens work; and losing Redis does not bring the old tokens back.
func TestRotationRevokesWhatTheOldSecretIssued(t *testing.T) {
	forEachDeployment(t, testRotationRevokesWhatTheOldSecretIssued)
}

func testRotationRevokesWhatTheOldSecretIssued(t *testing.T, e *e2e) {
	op := e.accessToken(e.opID, e.opSec)
	id, secret := e.credential(t, op, map[string]any{"contexts": []string{"inventory", "registry.admin"}})
	p := newPaths(t, e)

	old := e.grant(id, secret, "").json(t)
	oldAT, oldRT := old["access_token"].(string), old["refresh_token"].(string)
	// An access token minted by a refresh under the old secret too.
	refreshed := e.refresh(id, secret, oldRT, "")
	if refreshed.status != 200 {
		t.Fatalf("refresh before rotation: %d %s", refreshed.status, refreshed.body)
	}
	oldRefreshedAT, oldRT := refreshed.json(t)["access_token"].(string), refreshed.json(t)["refresh_token"].(string)
	expectAll(t, "before the rotation", p.check(t, e.opID, e.opSec, oldAT), accepted)
	if r := e.do("GET", "/v1/tokens/"+id, oldAT, nil); r.status != 200 {
		t.Fatalf("registry API with the admin's token before rotation: %d %s", r.status, r.body)
	}

	// The credential rotates its own secret with its own token.
	r := e.do("POST", "/v1/tokens/"+id+":rotate", oldAT, map[string]any{})
	if r.status != 200 {
		t.Fatalf("rotate: %d %s", r.status, r.body)
	}
	newSecret := r.json(t)["clientSecret"].(string)

	for name, tok := range map[string]string{"access token": oldAT, "access token from a refresh": oldRefreshedAT} {
		expectAll(t, name+" after the rotation", p.check(t, e.opID, e.opSec, tok), refused)
		if r := e.do("GET", "/v1/tokens/"+id, tok, nil); r.status != 401 {
			t.Errorf("registry API with the admin's %s from before the rotation: %d %s, want 401", name, r.status, r.body)
		}
	}
	if got := e.introspect(e.opID, e.opSec, oldRT); got["active"] != false {
		t.Errorf("refresh token from before the rotation introspects %v", got)
	}
	if r := e.refresh(id, newSecret, oldRT, ""); r.status != 400 || r.json(t)["error"] != "invalid_grant" {
		t.Errorf("refresh token from before the rotation: %d %s, want invalid_grant", r.status, r.body)
	}
	if r := e.grant(id, secret, ""); r.status != 401 {
		t.Errorf("grant with the old secret: %d %s", r.status, r.body)
	}

	// The new secret's tokens work everywhere, at once.
	fresh := e.grant(id, newSecret, "").json(t)
	freshAT := fresh["access_token"].(string)
	expectAll(t, "a token of the new secret", p.check(t, e.opID, e.opSec, freshAT), accepted)
	if r := e.do("GET", "/v1/tokens/"+id, freshAT, nil); r.status != 200 {
		t.Fatalf("registry API with a token of the new secret: %d %s", r.status, r.body)
	}
	if r := e.refresh(id, newSecret, fresh["refresh_token"].(string), ""); r.status != 200 {
		t.Fatalf("refresh under the new secret: %d %s", r.status, r.body)
	}

	if e.redis == nil {
		return
	}
	// Redis loses everything: once the keeper has rebuilt the set from the
	// database, the new token verifies again and the old one still fails.
	if err := flushAll(e); err != nil {
		t.Fatal(err)
	}
	deadline := time.Now().Add(10 * time.Second)
	for {
		got := p.check(t, e.opID, e.opSec, oldAT)
		for path, v := range got {
			if v == accepted {
				t.Fatalf("after FLUSHALL: %s accepted a token of the rotated secret", path)
			}
		}
		rebuilt := true
		for _, v := range p.check(t, e.opID, e.opSec, freshAT) {
			rebuilt = rebuilt && v == accepted
		}
		if rebuilt {
			// Checked again: the set may have been rebuilt between the two.
			expectAll(t, "after the rebuild", p.check(t, e.opID, e.opSec, oldAT), refused)
			break
		}
		if time.Now().After(deadline) {
			t.Fatal("the revocation set was never rebuilt")
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// TestRotationByTheOperatorCutsOffAnotherAdmin: the operator rotates a
// tenant admin's credential; the admin's JWT stops working for the
// registry API at once.
func TestRotationByTheOperatorCutsOffAnotherAdmin(t *testing.T) {
	e := startE2E(t, deployments[0])
	op := e.accessToken(e.opID, e.opSec)
	id, secret := e.credential(t, op, map[string]any{"contexts": []string{"registry.admin"}})
	admin := e.accessToken(id, secret)
	if r := e.do("GET", "/v1/tokens", admin, nil); r.status != 200 {
		t.Fatalf("admin lists tokens: %d %s", r.status, r.body)
	}
	if r := e.do("POST", "/v1/tokens/"+id+":rotate", op, map[string]any{}); r.status != 200 {
		t.Fatalf("rotate: %d %s", r.status, r.body)
	}
	if r := e.do("GET", "/v1/tokens", admin, nil); r.status != 401 {
		t.Fatalf("admin's token after the operator rotated its secret: %d %s, want 401", r.status, r.body)
	}
	if r := e.form("/oauth2/introspect", url.Values{"token": {admin}}, e.opID, e.opSec); r.json(t)["active"] != false {
		t.Fatalf("introspection after rotation: %s", r.body)
	}
}
