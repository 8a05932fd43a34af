package app

import (
	"context"
	"encoding/json"
	"fmt"
	"math"
	"math/rand/v2"
	"strings"
	"testing"
	"time"

	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/credentials/insecure"
	"google.golang.org/grpc/metadata"
	"google.golang.org/grpc/status"
	"google.golang.org/protobuf/types/known/fieldmaskpb"
	"google.golang.org/protobuf/types/known/timestamppb"

	registryv1 "github.com/chave/chave/proto/chave/registry/v1"
	"github.com/chave/chave/services/internal/chave"
)

// wireTime is one expire time as each transport carries it: a Timestamp
// over gRPC, a JSON value over REST.
type wireTime struct {
	name string
	ts   *timestamppb.Timestamp
	json any // the REST body's expireTime
}

// rfc3339 writes any Unix time as RFC 3339, years past 9999 and before 0
// included (as a client might), so that REST is sent the same instant.
func rfc3339(seconds int64, nanos int32) string {
	t := time.Unix(seconds, int64(nanos)).UTC()
	if t.Year() >= 0 && t.Year() <= 9999 {
		return t.Format(time.RFC3339Nano)
	}
	return fmt.Sprintf("%d-%s", t.Year(), t.Format("01-02T15:04:05Z"))
}

// timestampCases are the edges of what a client can send, then n random
// ones drawn around each edge.
func timestampCases(rng *rand.Rand, now time.Time, n int) []wireTime {
	maxSec := chave.MaxTime.Unix()
	zero := time.Time{}.Unix() // 0001-01-01T00:00:00Z
	edges := []struct {
		name    string
		seconds int64
		nanos   int32
	}{
		{"zero time", zero, 0},
		{"Unix epoch", 0, 0},
		{"negative seconds", -1, 0},
		{"min int64 seconds", math.MinInt64, 0},
		{"year 10000", maxSec + 1, 0},
		{"max int64 seconds", math.MaxInt64, 0},
		{"last second of 9999", maxSec, 999_999_999},
		{"negative nanos", now.Add(time.Hour).Unix(), -1},
		{"a second of nanos", now.Add(time.Hour).Unix(), 1_000_000_000},
		{"max int32 nanos", now.Add(time.Hour).Unix(), math.MaxInt32},
		{"a second ago", now.Add(-time.Second).Unix(), 0},
		{"in a minute", now.Add(time.Minute).Unix(), 0},
		{"in a year", now.AddDate(1, 0, 0).Unix(), 123_456_789},
		{"far future", maxSec - 86400, 0},
	}
	var out []wireTime
	for _, e := range edges {
		out = append(out, wireTime{e.name, &timestamppb.Timestamp{Seconds: e.seconds, Nanos: e.nanos}, rfc3339(e.seconds, e.nanos)})
	}
	centres := []int64{zero, 0, now.Unix(), maxSec}
	for i := range n {
		var seconds int64
		switch i % 3 {
		case 0: // anywhere
			seconds = int64(rng.Uint64())
		case 1: // near an edge, within a day
			seconds = centres[rng.IntN(len(centres))] + rng.Int64N(2*86400) - 86400
		default: // between now and the end of 9999, give or take
			seconds = now.Unix() + rng.Int64N(maxSec-now.Unix()+86400)
		}
		nanos := int32(rng.Int64N(1_000_000_000))
		if rng.IntN(8) == 0 {
			nanos = int32(rng.Uint32())
		}
		out = append(out, wireTime{fmt.Sprintf("random %d", i), &timestamppb.Timestamp{Seconds: seconds, Nanos: nanos}, rfc3339(seconds, nanos)})
	}
	// What only JSON can carry.
	for _, v := range []any{"0001-01-01T00:00:00Z", "0000-01-01T00:00:00Z", "0001-01-01T00:00:00+01:00",
		"9999-12-31T23:59:59.999999999Z", "9999-12-31T23:59:59-01:00", "9999-12-31T23:59:60Z", "2030-13-01T00:00:00Z",
		"2030-01-01", "2030-01-01T00:00:00+14:00", "", "never", 1893456000, true, map[string]any{"seconds": 1893456000}} {
		out = append(out, wireTime{name: fmt.Sprintf("JSON %v", v), json: v})
	}
	return out
}

// TestEndToEndTimestamps creates and updates tokens with every kind of
// expire time over gRPC and REST, then lists, gets and grants them, as the
// operator and as the tenant's admin: whatever was sent, the answer is
// never a 500 or an Internal, and a refused time is named expireTime.
func TestEndToEndTimestamps(t *testing.T) { forEachDeployment(t, testEndToEndTimestamps) }

func testEndToEndTimestamps(t *testing.T, e *e2e) {
	seed := time.Now().UnixNano()
	t.Logf("seed %d", seed)
	rng := rand.New(rand.NewPCG(uint64(seed), 14))
	now := time.Now()
	op := e.accessToken(e.opID, e.opSec)
	adminID, adminSecret := e.credential(t, op, map[string]any{"contexts": []string{"registry.admin"}})
	admin := e.accessToken(adminID, adminSecret)
	reg := registryClient(t, e)
	ctx := metadata.AppendToOutgoingContext(context.Background(), "authorization", "Bearer "+op)

	// The token every update goes to; it keeps a valid expiry.
	base := now.Add(48 * time.Hour).UTC().Truncate(time.Second)
	updated, _ := e.credential(t, op, map[string]any{"expireTime": base.Format(time.RFC3339)})

	// An accepted update may set an expiry that passes before the next
	// one: put the base one back each time.
	restore := func() {
		t.Helper()
		if r := e.do("PATCH", "/v1/tokens/"+updated, op, map[string]any{"expireTime": base.Format(time.RFC3339)}); r.status != 200 {
			t.Fatalf("restoring the expiry: %d %s", r.status, r.body)
		}
	}
	created := []string{adminID}
	checkGRPC := func(what string, err error) bool {
		t.Helper()
		switch status.Code(err) {
		case codes.OK:
			return true
		case codes.InvalidArgument:
			if msg := status.Convert(err).Message(); !strings.Contains(msg, "expireTime") {
				t.Errorf("%s: InvalidArgument that does not name expireTime: %s", what, msg)
			}
		default:
			t.Errorf("%s: %v", what, err)
		}
		return false
	}
	checkREST := func(what string, r response) bool {
		t.Helper()
		switch r.status {
		case 200:
			return true
		case 400:
			if !strings.Contains(string(r.body), "expireTime") {
				t.Errorf("%s: 400 that does not name expireTime: %s", what, r.body)
			}
		default:
			t.Errorf("%s: %d %s", what, r.status, r.body)
		}
		return false
	}
	for _, c := range timestampCases(rng, now, 40) {
		if c.ts != nil {
			resp, err := reg.CreateToken(ctx, &registryv1.CreateTokenRequest{DisplayName: c.name, Tenant: "acme",
				Contexts: []string{"inventory"}, ExpireTime: c.ts})
			if checkGRPC("gRPC create, "+c.name, err) {
				created = append(created, resp.GetClientId())
				if got := resp.GetToken().GetExpireTime(); got.CheckValid() != nil || !got.AsTime().After(now) {
					t.Errorf("gRPC create, %s: accepted as %v", c.name, got)
				}
			}
			_, err = reg.UpdateToken(ctx, &registryv1.UpdateTokenRequest{Token: &registryv1.Token{Id: updated, ExpireTime: c.ts},
				UpdateMask: &fieldmaskpb.FieldMask{Paths: []string{"expire_time"}}})
			if checkGRPC("gRPC update, "+c.name, err) {
				restore()
			}
		}
		r := e.do("POST", "/v1/tokens", op, map[string]any{"displayName": c.name, "tenant": "acme", "contexts": []string{"inventory"}, "expireTime": c.json})
		if checkREST("REST create, "+c.name, r) {
			created = append(created, r.json(t)["clientId"].(string))
		}
		if checkREST("REST update, "+c.name, e.do("PATCH", "/v1/tokens/"+updated, op, map[string]any{"expireTime": c.json})) {
			restore()
		}
	}

	// The zero time is a date in the past: refused, and it never removes
	// an expiry.
	for _, body := range []map[string]any{{"expireTime": "0001-01-01T00:00:00Z"}, {"expireTime": "1970-01-01T00:00:00Z"}} {
		r := e.do("PATCH", "/v1/tokens/"+updated, op, body)
		if r.status != 400 || !strings.Contains(string(r.body), "future") {
			t.Errorf("PATCH %v: %d %s; want 400, in the past", body, r.status, r.body)
		}
	}
	r := e.do("GET", "/v1/tokens/"+updated, op, nil)
	if got := r.json(t)["expireTime"]; got == nil {
		t.Errorf("the expiry was removed: %s", r.body)
	}

	e.readEverything(t, op, admin, created)
}

// readEverything lists, gets and grants the tokens every way chave offers;
// nothing may answer 500.
func (e *e2e) readEverything(t *testing.T, op, admin string, ids []string) {
	t.Helper()
	for _, bearer := range []string{op, admin} {
		for _, path := range []string{"/v1/tokens?pageSize=1000", "/v1/tokens?tenant=acme&pageSize=1000",
			"/v1/tokens?tenant=acme&state=TOKEN_STATE_ACTIVE", "/v1/tokens?tenant=acme&state=TOKEN_STATE_EXPIRED"} {
			if r := e.do("GET", path, bearer, nil); r.status != 200 {
				t.Errorf("GET %s: %d %s", path, r.status, r.body)
			}
		}
	}
	for _, id := range ids {
		for _, path := range []string{"/v1/tokens/" + id, "/v1/tokens/" + id + "/events"} {
			if r := e.do("GET", path, op, nil); r.status != 200 {
				t.Errorf("GET %s: %d %s", path, r.status, r.body)
			}
		}
		// The secrets of these tokens were not kept: a wrong one must still
		// get as far as the credential's expire time without a 500.
		if r := e.grant(id, "chave_sk_wrong", ""); r.status >= 500 {
			t.Errorf("grant for %s: %d %s", id, r.status, r.body)
		}
		body, _ := json.Marshal(map[string]any{"grantType": 1, "clientId": id, "clientSecret": "chave_sk_wrong"})
		if r := e.tss("/rest/WSTSSAUTH", string(body)); r.status >= 500 {
			t.Errorf("TSS for %s: %d %s", id, r.status, r.body)
		}
	}
}

// registryClient dials the server's gRPC port.
func registryClient(t *testing.T, e *e2e) registryv1.RegistryServiceClient {
	t.Helper()
	conn, err := grpc.NewClient("passthrough:///"+e.srv.GRPCAddr(), grpc.WithTransportCredentials(insecure.NewCredentials()))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { conn.Close() })
	return registryv1.NewRegistryServiceClient(conn)
}

// TestEndToEndStoredTimesOutOfRange: a row that somehow holds a time no
// Timestamp can carry (written before the input rules, or by hand) is
// still listed, read and granted: never a 500.
func TestEndToEndStoredTimesOutOfRange(t *testing.T) {
	forEachDeployment(t, testEndToEndStoredTimesOutOfRange)
}

func testEndToEndStoredTimesOutOfRange(t *testing.T, e *e2e) {
	op := e.accessToken(e.opID, e.opSec)
	adminID, adminSecret := e.credential(t, op, map[string]any{"contexts": []string{"registry.admin"}})
	admin := e.accessToken(adminID, adminSecret)
	store, err := OpenStore(context.Background(), e.db)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { store.Close() })
	var ids []string
	secrets := map[string]string{}
	for _, expire := range []time.Time{
		time.Date(10000, 1, 1, 0, 0, 0, 0, time.UTC),
		time.UnixMicro(math.MaxInt64).UTC(),
		time.Date(1, 1, 1, 0, 0, 1, 0, time.UTC),
	} {
		id, secret := e.credential(t, op, nil)
		ids, secrets[id] = append(ids, id), secret
		if _, err := store.UpdateToken(context.Background(), id, func(tok *chave.Token) (chave.Event, error) {
			tok.ExpireTime = expire
			return chave.Event{TokenID: id, Time: time.Now(), Actor: "test", Action: chave.ActionUpdate, Fields: []string{"expireTime"}}, nil
		}); err != nil {
			t.Fatal(err)
		}
	}
	e.readEverything(t, op, admin, ids)
	// With their real secrets: the far ones grant, capped as any other.
	for i, id := range ids {
		r := e.grant(id, secrets[id], "")
		want := 200
		if i == 2 { // expired in year 1
			want = 401
		}
		if r.status != want {
			t.Errorf("grant for a token expiring %d: %d %s", i, r.status, r.body)
		}
		body, _ := json.Marshal(map[string]any{"grantType": 1, "clientId": id, "clientSecret": secrets[id]})
		if r := e.tss("/rest/WSTSSAUTH", string(body)); r.status != want {
			t.Errorf("TSS for a token expiring %d: %d %s", i, r.status, r.body)
		}
	}
	got := e.do("GET", "/v1/tokens/"+ids[0], op, nil).json(t)
	if got["expireTime"] != "9999-12-31T23:59:59Z" || got["state"] != "TOKEN_STATE_ACTIVE" {
		t.Errorf("a token expiring in year 10000 reads as %v, %v", got["expireTime"], got["state"])
	}
}
