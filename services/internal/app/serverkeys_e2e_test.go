package app

import (
	"bytes"
	"context"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/url"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/testutil"

	"github.com/chave/chave/services/internal/app/apptest"
	"github.com/chave/chave/services/internal/registry"
	"github.com/chave/chave/services/internal/secrets"
	"github.com/chave/chave/services/internal/testserver"
)

// TestNewServerKeysRotateUnderLoad rotates each server key (hmac, seal,
// refresh: add, activate, drain or rewrap, retire) while clients keep
// granting, refreshing, reading and updating their credentials, on SQLite
// and on PostgreSQL with two replicas that share the secrets file (each
// client alternates between them, so a value one replica made under a
// version just activated reaches the other before it has looked at the
// file): no request fails, no credential, parameter or refresh token is
// lost, and every old version ends retired.
func TestNewServerKeysRotateUnderLoad(t *testing.T) {
	for _, c := range []struct {
		d        deployment
		replicas int
	}{
		{deployment{name: "sqlite", db: sqliteURL}, 1},
		{deployment{name: "postgres-2-replicas", db: func(t *testing.T, _ string) string { return testserver.Postgres(t) }}, 2},
	} {
		t.Run(c.d.name, func(t *testing.T) { testServerKeysRotateUnderLoad(t, c.d, c.replicas) })
	}
}

// keyLoad is the clients' side: each worker owns a credential, grants,
// refreshes its refresh token and reads its parameter, over and over.
type keyLoad struct {
	bases  []string // the replicas
	client *http.Client
	op     atomic.Value // string: the operator's access token

	grants, refreshes, reads, updates atomic.Int64
	// expired counts refresh tokens that outlived their lifetime in a
	// slow loop (the race detector on a busy machine): not a rotation's
	// doing, and replaced by the next grant's.
	expired  atomic.Int64
	mu       sync.Mutex
	failures []string
}

func (l *keyLoad) fail(format string, args ...any) {
	l.mu.Lock()
	defer l.mu.Unlock()
	if len(l.failures) < 20 {
		l.failures = append(l.failures, fmt.Sprintf(format, args...))
	}
}

func (l *keyLoad) post(replica int, form url.Values, id, secret string) (int, map[string]any) {
	req, _ := http.NewRequest("POST", l.bases[replica%len(l.bases)]+"/oauth2/token", strings.NewReader(form.Encode()))
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	req.SetBasicAuth(url.QueryEscape(id), url.QueryEscape(secret))
	return l.send(req)
}

func (l *keyLoad) send(req *http.Request) (int, map[string]any) {
	resp, err := l.client.Do(req)
	if err != nil {
		return 0, map[string]any{"error": err.Error()}
	}
	defer resp.Body.Close()
	data, _ := io.ReadAll(resp.Body)
	var m map[string]any
	_ = json.Unmarshal(data, &m)
	return resp.StatusCode, m
}

func (l *keyLoad) api(replica int, method, path string, body any) (int, map[string]any) {
	var rd io.Reader
	if body != nil {
		data, _ := json.Marshal(body)
		rd = bytes.NewReader(data)
	}
	req, _ := http.NewRequest(method, l.bases[replica%len(l.bases)]+path, rd)
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("Authorization", "Bearer "+l.op.Load().(string))
	return l.send(req)
}

// run drives one credential until ctx ends: each refresh uses the token
// the previous one returned, so tokens made under a version just before
// its successor was activated are refreshed after.
func (l *keyLoad) run(ctx context.Context, id, secret, botToken string, writer bool) {
	rt := ""
	for i := 0; ctx.Err() == nil; i++ {
		st, m := l.post(i, url.Values{"grant_type": {"client_credentials"}}, id, secret)
		if st != 200 {
			l.fail("grant %s: %d %v", id, st, m)
			continue
		}
		l.grants.Add(1)
		if rt == "" {
			rt = m["refresh_token"].(string)
		}
		granted := m["refresh_token"].(string)
		st, m = l.post(i+1, url.Values{"grant_type": {"refresh_token"}, "refresh_token": {rt}}, id, secret)
		switch {
		case st != 200 && refreshTokenExpired(rt):
			l.expired.Add(1)
			rt = granted
		case st != 200:
			l.fail("refresh %s: %d %v", id, st, m)
		default:
			rt = m["refresh_token"].(string)
			l.refreshes.Add(1)
		}
		if st, m := l.api(i, "GET", "/v1/tokens/"+id, nil); st != 200 {
			l.fail("get %s: %d %v", id, st, m)
		} else if got := m["parameters"].(map[string]any)["telegram"].(map[string]any)["botToken"]; got != "********"+botToken[len(botToken)-4:] {
			l.fail("get %s: bot token reads %v: lost", id, got)
		} else {
			l.reads.Add(1)
		}
		if writer && i%3 == 0 {
			// Writes seal under whichever version this replica has active.
			if st, m := l.api(i+1, "PATCH", "/v1/tokens/"+id, map[string]any{"parameters": map[string]any{"telegram": map[string]any{"botToken": botToken}}}); st != 200 {
				l.fail("update %s: %d %v", id, st, m)
			} else {
				l.updates.Add(1)
			}
		}
	}
}

// refreshTokenExpired reads a refresh token's expiry from its payload.
func refreshTokenExpired(rt string) bool {
	payload, _, _ := strings.Cut(strings.TrimPrefix(rt, "chave_rt_"), ".")
	data, err := base64.RawURLEncoding.DecodeString(payload)
	var p struct{ E int64 }
	if err != nil || json.Unmarshal(data, &p) != nil {
		return false
	}
	return !time.Now().Before(time.Unix(p.E, 0))
}

func testServerKeysRotateUnderLoad(t *testing.T, d deployment, replicas int) {
	const (
		interval        = 50 * time.Millisecond // the servers' look at the secrets file
		refreshLifetime = 4 * time.Second
		workers         = 4
	)
	dir := t.TempDir()
	logs := &apptest.Buffer{}
	var stdout bytes.Buffer
	cfg := Config{
		HTTPAddr: "127.0.0.1:0", GRPCAddr: "127.0.0.1:0", DB: d.db(t, dir),
		SecretsFile: filepath.Join(dir, "secrets.json"), SigningKeysFile: filepath.Join(dir, "signing-keys.json"),
		SecretsCheckInterval: interval, RefreshTokenLifetime: refreshLifetime,
		// One issuer for the replicas: each verifies what the other signs.
		Issuer: "http://chave.test", Audience: "http://chave.test",
		PrintBootstrapCredential: true, Stdout: &stdout,
		Logger: slog.New(slog.NewJSONHandler(logs, &slog.HandlerOptions{Level: slog.LevelInfo})),
	}
	var bases []string
	var srv *Server
	for i := range replicas {
		c := cfg
		if i > 0 {
			c.PrintBootstrapCredential, c.Stdout = false, io.Discard
		}
		s, err := Start(context.Background(), c)
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() {
			ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
			defer cancel()
			s.Stop(ctx)
		})
		bases = append(bases, "http://"+s.HTTPAddr())
		if i == 0 {
			srv = s
		}
	}
	e := &e2e{t: t, srv: srv, base: "http://" + srv.HTTPAddr(), dir: dir, db: cfg.DB, logs: logs, client: &http.Client{Timeout: 10 * time.Second}}
	var cred struct{ ClientID, ClientSecret string }
	lines := strings.Split(strings.TrimSpace(stdout.String()), "\n")
	if err := json.Unmarshal([]byte(lines[len(lines)-1]), &cred); err != nil {
		t.Fatalf("no operator credential: %q", stdout.String())
	}
	e.opID, e.opSec = cred.ClientID, cred.ClientSecret
	op := e.accessToken(e.opID, e.opSec)
	if r := e.do("POST", "/v1/tenants", op, map[string]any{"id": "keys", "displayName": "Keys", "contexts": []string{"inventory", "telegram"}}); r.status != 200 {
		t.Fatalf("create tenant: %d %s", r.status, r.body)
	}
	type credential struct{ id, secret, rt, bot string }
	var creds []credential
	for i := range workers + 2 { // two never used during the rotation: they must survive too
		bot := fmt.Sprintf("12345678%d:AAHdqTcvCH1vGWJxfSeofSAs0K5PALDs%02d", i, i)
		r := e.do("POST", "/v1/tokens", op, map[string]any{"tenant": "keys", "displayName": fmt.Sprintf("worker %d", i),
			"contexts": []string{"inventory", "telegram"}, "issueRefreshTokens": true,
			"parameters": map[string]any{"telegram": map[string]any{"botToken": bot}}})
		if r.status != 200 {
			t.Fatalf("create credential: %d %s", r.status, r.body)
		}
		c := credential{id: r.json(t)["clientId"].(string), secret: r.json(t)["clientSecret"].(string), bot: bot}
		g := e.grant(c.id, c.secret, "")
		if g.status != 200 || g.json(t)["refresh_token"] == nil {
			t.Fatalf("first grant: %d %s", g.status, g.body)
		}
		c.rt = g.json(t)["refresh_token"].(string)
		creds = append(creds, c)
	}

	load := &keyLoad{bases: bases, client: e.client}
	load.op.Store(op)
	ctx, stop := context.WithCancel(context.Background())
	var wg sync.WaitGroup
	for i, c := range creds[:workers] {
		wg.Go(func() { load.run(ctx, c.id, c.secret, c.bot, i%2 == 0) })
	}
	stopped := false
	stopLoad := func() {
		if !stopped {
			stopped = true
			stop()
			wg.Wait()
		}
	}
	defer stopLoad()

	// What chave keys server and chave keys rewrap do, from another
	// process's point of view: their own store and registry over the file.
	store, err := OpenStore(context.Background(), cfg.DB)
	if err != nil {
		t.Fatal(err)
	}
	defer store.Close()
	admin := func() *registry.Service {
		reg, err := NewRegistry(Config{DB: cfg.DB, SecretsFile: cfg.SecretsFile, Logger: cfg.Logger}.Registry(), store)
		if err != nil {
			t.Fatal(err)
		}
		return reg
	}
	update := func(f func(*secrets.Keys) error) {
		t.Helper()
		if _, err := secrets.UpdateKeyFile(cfg.SecretsFile, f); err != nil {
			t.Fatal(err)
		}
	}
	progressed := func(what string) {
		t.Helper()
		g, r := load.grants.Load(), load.refreshes.Load()
		deadline := time.Now().Add(10 * time.Second)
		for load.grants.Load() < g+int64(workers) || load.refreshes.Load() < r+int64(workers) {
			if time.Now().After(deadline) {
				t.Fatalf("%s: the load made no progress", what)
			}
			time.Sleep(5 * time.Millisecond)
		}
	}
	waitFor := func(what string, cond func() bool) {
		t.Helper()
		deadline := time.Now().Add(20 * time.Second)
		for !cond() {
			if time.Now().After(deadline) {
				t.Fatalf("timed out waiting for %s", what)
			}
			time.Sleep(20 * time.Millisecond)
		}
	}
	usage := func() registry.KeyUsage {
		t.Helper()
		u, err := admin().KeyUsage(context.Background())
		if err != nil {
			t.Fatal(err)
		}
		return u
	}
	retire := func(kind secrets.Kind, v int, check secrets.RetireCheck) {
		t.Helper()
		update(func(k *secrets.Keys) error {
			if err := k.Ring(kind).CheckRetire(kind, v, check); err != nil {
				return err
			}
			return k.Ring(kind).Retire(v, time.Now())
		})
	}
	addActivate := func(kind secrets.Kind) int {
		t.Helper()
		var v int
		update(func(k *secrets.Keys) error {
			var err error
			if v, err = k.Ring(kind).Add(time.Now()); err != nil {
				return err
			}
			return nil
		})
		progressed(string(kind) + " added")
		update(func(k *secrets.Keys) error { return k.Ring(kind).Activate(v, time.Now()) })
		progressed(string(kind) + " activated")
		return v
	}
	progressed("start")

	// hmac: secrets re-hash on their next use; the two idle credentials and
	// the operator are used once, as their owners would.
	hv := addActivate(secrets.KindHMAC)
	time.Sleep(3 * interval)
	for _, c := range creds[workers:] {
		if r := e.grant(c.id, c.secret, ""); r.status != 200 {
			t.Fatalf("idle credential after the hmac rotation: %d %s", r.status, r.body)
		}
	}
	load.op.Store(e.accessToken(e.opID, e.opSec))
	waitFor("every secret re-hashed", func() bool { return usage().Credentials[1] == 0 })
	if u := usage(); u.Credentials[hv] != workers+2+1 {
		t.Fatalf("credentials under hmac version %d: %d, want %d", hv, u.Credentials[hv], workers+3)
	}
	retire(secrets.KindHMAC, 1, secrets.RetireCheck{InUse: usage().Credentials[1]})
	progressed("hmac version 1 retired")

	// seal: once the servers have read the activation, rewrap; writes that
	// raced it are caught by the count, and a second rewrap takes them.
	sv := addActivate(secrets.KindSeal)
	time.Sleep(3 * interval)
	res, err := admin().RewrapParameters(context.Background(), 2, nil)
	if err != nil || len(res.Failed) != 0 || res.Values == 0 {
		t.Fatalf("rewrap = %+v, %v", res, err)
	}
	waitFor("every parameter re-sealed", func() bool {
		if _, err := admin().RewrapParameters(context.Background(), 2, nil); err != nil {
			t.Fatal(err)
		}
		return usage().Parameters[1] == 0
	})
	retire(secrets.KindSeal, 1, secrets.RetireCheck{InUse: usage().Parameters[1]})
	if u := usage(); u.Parameters[sv] != workers+2 {
		t.Fatalf("parameters under seal version %d: %d, want %d", sv, u.Parameters[sv], workers+2)
	}
	progressed("seal version 1 retired")

	// refresh: refused until the refresh-token lifetime (plus the servers'
	// look at the file) has passed since version 1 stopped being active.
	addActivate(secrets.KindRefresh)
	deactivated := time.Now()
	early := secrets.RetireCheck{RefreshTokenLifetime: refreshLifetime + 3*interval, Now: time.Now()}
	update(func(k *secrets.Keys) error {
		if err := k.RefreshToken.CheckRetire(secrets.KindRefresh, 1, early); err == nil {
			return fmt.Errorf("refresh version 1 may retire at once")
		}
		return nil
	})
	time.Sleep(time.Until(deactivated.Add(refreshLifetime + 4*interval)))
	retire(secrets.KindRefresh, 1, secrets.RetireCheck{RefreshTokenLifetime: refreshLifetime + 3*interval, Now: time.Now()})
	time.Sleep(3 * interval)
	progressed("refresh version 1 retired")

	stopLoad()
	if len(load.failures) > 0 {
		t.Fatalf("%d+ requests failed during the rotation, the first: %s", len(load.failures), strings.Join(load.failures, "\n"))
	}
	t.Logf("%d grants, %d refreshes, %d reads, %d updates, none failed (%d refresh tokens outlived a slow loop)",
		load.grants.Load(), load.refreshes.Load(), load.reads.Load(), load.updates.Load(), load.expired.Load())

	// Every old version is retired, and nothing was lost: every credential
	// grants with its secret, refreshes, and reads its bot token.
	keys, err := secrets.ReadKeyFile(cfg.SecretsFile)
	if err != nil {
		t.Fatal(err)
	}
	for _, kind := range secrets.Kinds {
		r := keys.Ring(kind)
		if v1, _ := r.Version(1); !v1.Retired() || r.Active != 2 {
			t.Errorf("%s: version 1 retired %v, active %d", kind, v1.Retired(), r.Active)
		}
	}
	op = e.accessToken(e.opID, e.opSec)
	for _, c := range creds {
		g := e.grant(c.id, c.secret, "")
		if g.status != 200 {
			t.Fatalf("grant of %s after the rotations: %d %s", c.id, g.status, g.body)
		}
		if r := e.refresh(c.id, c.secret, g.json(t)["refresh_token"].(string), ""); r.status != 200 {
			t.Fatalf("refresh of %s after the rotations: %d %s", c.id, r.status, r.body)
		}
		r := e.do("GET", "/v1/tokens/"+c.id, op, nil)
		if got := r.json(t)["parameters"].(map[string]any)["telegram"].(map[string]any)["botToken"]; got != "********"+c.bot[len(c.bot)-4:] {
			t.Fatalf("bot token of %s after the rotations: %v", c.id, got)
		}
	}
	// The idle credentials' first refresh tokens were made under the
	// retired refresh version and outlived their lifetime: they are gone,
	// as they would be without any rotation.
	if r := e.refresh(creds[workers].id, creds[workers].secret, creds[workers].rt, ""); r.status != 400 {
		t.Fatalf("a refresh token of the retired version: %d %s", r.status, r.body)
	}
	if strings.Contains(logs.String(), `"level":"ERROR"`) {
		t.Fatalf("errors logged during the rotation:\n%s", logs.String())
	}
}

// TestNewServerKeyMetrics: the active and usable versions of each key a
// process holds are exported, and follow the file.
func TestNewServerKeyMetrics(t *testing.T) {
	path := filepath.Join(t.TempDir(), "secrets.json")
	p, err := secrets.NewFileProvider(path, time.Millisecond)
	if err != nil {
		t.Fatal(err)
	}
	reg := prometheus.NewRegistry()
	if err := registerServerKeys(reg, p, useRefreshKey); err != nil {
		t.Fatal(err)
	}
	if _, err := secrets.UpdateKeyFile(path, func(k *secrets.Keys) error {
		v, _ := k.RefreshToken.Add(time.Now())
		return k.RefreshToken.Activate(v, time.Now())
	}); err != nil {
		t.Fatal(err)
	}
	deadline := time.Now().Add(5 * time.Second)
	for {
		want := `
# HELP chave_server_key_active_version The version of the server key (hmac, seal, refresh) that new values are made under.
# TYPE chave_server_key_active_version gauge
chave_server_key_active_version{kind="refresh"} 2
# HELP chave_server_key_usable 1 for each version of the server key whose values this process accepts.
# TYPE chave_server_key_usable gauge
chave_server_key_usable{kind="refresh",version="1"} 1
chave_server_key_usable{kind="refresh",version="2"} 1
`
		err := testutil.GatherAndCompare(reg, strings.NewReader(want))
		if err == nil {
			return
		}
		if time.Now().After(deadline) {
			t.Fatal(err)
		}
		time.Sleep(5 * time.Millisecond)
	}
}
