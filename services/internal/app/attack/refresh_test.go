package attack

import (
	"context"
	"net/url"
	"sync"
	"testing"
	"time"

	"github.com/chave/chave/services/revocation"
)

// refresh runs the refresh grant with HTTP Basic client authentication.
func (tg *target) refresh(id, secret, refreshToken string) answer {
	tg.t.Helper()
	return tg.form("/oauth2/token", url.Values{"grant_type": {"refresh_token"}, "refresh_token": {refreshToken}}, id, secret)
}

// expect requires every verifier to give the verdict.
func expect(t *testing.T, verifiers []verifier, what, token string, want verdict) {
	t.Helper()
	for _, v := range verifiers {
		if got := v.check(t, token); got != want {
			t.Errorf("%s: %s says %s, want %s", what, v.name, got, want)
		}
	}
}

// TestRefreshTokenAbuse replays, races and steals refresh tokens. Each row
// is a scenario: what it does, and what must hold after it.
func TestRefreshTokenAbuse(t *testing.T) { forEach(t, testRefreshTokenAbuse) }

func testRefreshTokenAbuse(t *testing.T, tg *target) {
	op := tg.operatorToken()
	tg.tenant(op, "acme")
	verifiers := tg.verifiers(t)
	rows := []struct {
		name string
		run  func(t *testing.T, tg *target, id, secret string)
	}{
		{"a used refresh token presented again: invalid_grant, and the whole family is revoked", func(t *testing.T, tg *target, id, secret string) {
			g := tg.grant(id, secret)
			first, rt0 := g["access_token"].(string), g["refresh_token"].(string)
			r := tg.must(tg.refresh(id, secret, rt0), "first refresh")
			second, rt1 := r["access_token"].(string), r["refresh_token"].(string)
			expect(t, verifiers, "the refreshed access token", second, accepted)
			if a := tg.refresh(id, secret, rt0); a.status != 400 || a.json(t)["error"] != "invalid_grant" {
				t.Fatalf("reuse: %d %s, want 400 invalid_grant", a.status, a.body)
			}
			if a := tg.refresh(id, secret, rt1); a.status != 400 || a.json(t)["error"] != "invalid_grant" {
				t.Errorf("the family's newest refresh token after the reuse: %d %s, want 400 invalid_grant", a.status, a.body)
			}
			expect(t, verifiers, "the family's first access token after the reuse", first, refused)
			expect(t, verifiers, "the family's second access token after the reuse", second, refused)
			// The credential itself is not revoked: a new grant works.
			expect(t, verifiers, "a new grant's token", tg.accessToken(id, secret), accepted)
		}},
		{"eight refreshes of one token at once: exactly one wins", func(t *testing.T, tg *target, id, secret string) {
			rt := tg.grant(id, secret)["refresh_token"].(string)
			const n = 8
			statuses := make([]int, n)
			var start, done sync.WaitGroup
			start.Add(1)
			for i := range n {
				req := tg.request("POST", "/oauth2/token", "", url.Values{"grant_type": {"refresh_token"}, "refresh_token": {rt}})
				req.SetBasicAuth(url.QueryEscape(id), url.QueryEscape(secret))
				done.Add(1)
				go func() {
					defer done.Done()
					start.Wait()
					if a, err := tg.try(req); err == nil {
						statuses[i] = a.status
					}
				}()
			}
			start.Done()
			done.Wait()
			won := 0
			for _, s := range statuses {
				switch s {
				case 200:
					won++
				case 400:
				default:
					t.Errorf("a concurrent refresh answered %d", s)
				}
			}
			if won != 1 {
				t.Errorf("%d of %d concurrent refreshes won (%v), want exactly 1", won, n, statuses)
			}
		}},
		{"another client presents the refresh token: invalid_grant, and the owner's family still works", func(t *testing.T, tg *target, id, secret string) {
			thiefID, thiefSecret := tg.credential(op, "acme", "thief", "inventory")
			rt := tg.grant(id, secret)["refresh_token"].(string)
			if a := tg.refresh(thiefID, thiefSecret, rt); a.status != 400 || a.json(t)["error"] != "invalid_grant" {
				t.Errorf("a stolen refresh token: %d %s, want 400 invalid_grant", a.status, a.body)
			}
			tg.must(tg.refresh(id, secret, rt), "the owner's refresh after the theft attempt")
		}},
		{"another client revokes the refresh token (RFC 7009): nothing is revoked", func(t *testing.T, tg *target, id, secret string) {
			thiefID, thiefSecret := tg.credential(op, "acme", "thief2", "inventory")
			g := tg.grant(id, secret)
			tg.form("/oauth2/revoke", url.Values{"token": {g["refresh_token"].(string)}}, thiefID, thiefSecret)
			tg.form("/oauth2/revoke", url.Values{"token": {g["access_token"].(string)}}, thiefID, thiefSecret)
			expect(t, verifiers, "the owner's access token after another client revoked it", g["access_token"].(string), accepted)
			tg.must(tg.refresh(id, secret, g["refresh_token"].(string)), "the owner's refresh after another client revoked it")
		}},
		{"the owner revokes the refresh token: the family and its access tokens stop", func(t *testing.T, tg *target, id, secret string) {
			g := tg.grant(id, secret)
			tg.must(tg.form("/oauth2/revoke", url.Values{"token": {g["refresh_token"].(string)}}, id, secret), "revoke the refresh token")
			expect(t, verifiers, "the family's access token", g["access_token"].(string), refused)
			if a := tg.refresh(id, secret, g["refresh_token"].(string)); a.status != 400 || a.json(t)["error"] != "invalid_grant" {
				t.Errorf("a revoked refresh token: %d %s, want 400 invalid_grant", a.status, a.body)
			}
		}},
		{"the credential is revoked: its refresh tokens stop", func(t *testing.T, tg *target, id, secret string) {
			g := tg.grant(id, secret)
			tg.must(tg.do("POST", "/v1/tokens/"+id+":revoke", op, map[string]any{}), "revoke the credential")
			if a := tg.refresh(id, secret, g["refresh_token"].(string)); a.status != 400 && a.status != 401 {
				t.Errorf("refresh of a revoked credential: %d %s", a.status, a.body)
			}
			expect(t, verifiers, "the revoked credential's access token", g["access_token"].(string), refused)
		}},
	}
	for i, row := range rows {
		t.Run(row.name, func(t *testing.T) {
			tg := tg.on(t)
			id, secret := tg.credential(op, "acme", "client-"+string(rune('a'+i)), "inventory")
			row.run(t, tg, id, secret)
		})
	}
}

// TestRedisLossNeverRevives revokes a credential, an access token and a
// refresh family, then makes Redis lose everything in each way it can:
// every verifier must refuse the revoked tokens or answer unavailable,
// never accept them, and the valid token must verify again once the
// registry has rebuilt the set from the database.
func TestRedisLossNeverRevives(t *testing.T) {
	tg := start(t, withRedis)
	op := tg.operatorToken()
	tg.tenant(op, "acme")
	verifiers := tg.verifiers(t)

	revokedCred, revokedCredSecret := tg.credential(op, "acme", "revoked", "inventory")
	ofRevokedCredential := tg.accessToken(revokedCred, revokedCredSecret)
	tg.must(tg.do("POST", "/v1/tokens/"+revokedCred+":revoke", op, map[string]any{}), "revoke the credential")
	id, secret := tg.credential(op, "acme", "client", "inventory")
	revokedAccess := tg.accessToken(id, secret)
	tg.must(tg.form("/oauth2/revoke", url.Values{"token": {revokedAccess}}, id, secret), "revoke the access token")
	g := tg.grant(id, secret)
	ofRevokedFamily := g["access_token"].(string)
	tg.must(tg.form("/oauth2/revoke", url.Values{"token": {g["refresh_token"].(string)}}, id, secret), "revoke the family")
	valid := tg.accessToken(id, secret)
	revoked := map[string]string{
		"a revoked credential's token": ofRevokedCredential,
		"a revoked access token":       revokedAccess,
		"a revoked family's token":     ofRevokedFamily,
	}

	neverAccepted := func(t *testing.T, when string) {
		t.Helper()
		for what, tok := range revoked {
			for _, v := range verifiers {
				if got := v.check(t, tok); got == accepted {
					t.Errorf("%s: %s accepted %s", when, v.name, what)
				}
			}
		}
	}
	validAgain := func(t *testing.T, when string) {
		t.Helper()
		deadline := time.Now().Add(20 * time.Second)
		for {
			neverAccepted(t, when)
			all := true
			for _, v := range verifiers {
				all = all && v.check(t, valid) == accepted
			}
			if all {
				return
			}
			if time.Now().After(deadline) {
				t.Fatalf("%s: the valid token never verified again", when)
			}
			time.Sleep(50 * time.Millisecond)
		}
	}
	validAgain(t, "before any loss")

	rows := []struct {
		name string
		lose func(t *testing.T, tg *target)
	}{
		{"FLUSHALL", func(t *testing.T, tg *target) {
			client, err := revocation.ParseURL(tg.redis.URL())
			if err != nil {
				t.Fatal(err)
			}
			defer client.Close()
			if err := client.FlushAll(context.Background()).Err(); err != nil {
				t.Fatal(err)
			}
		}},
		{"kill -9 and a restart without persistence", func(t *testing.T, tg *target) {
			tg.redis.Kill()
			neverAccepted(t, "with Redis dead")
			tg.redis.Restart()
		}},
		{"a graceful restart without persistence", func(t *testing.T, tg *target) {
			tg.redis.Stop()
			tg.redis.Restart()
		}},
	}
	for _, row := range rows {
		t.Run(row.name, func(t *testing.T) {
			row.lose(t, tg.on(t))
			neverAccepted(t, "right after "+row.name)
			validAgain(t, "after "+row.name)
		})
	}
}
