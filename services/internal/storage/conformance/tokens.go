package conformance

import (
	"errors"
	"fmt"
	"testing"
	"time"

	"github.com/chave/chave/services/internal/chave"
	"github.com/chave/chave/services/internal/storage"
)

func runTokens(t *testing.T, open opener) {
	t.Run("CreateGetRoundTrip", func(t *testing.T) {
		s := open(t)
		want := fullToken("tok-full", "acme", at(0))
		// Times written in another zone read back in UTC.
		want.CreateTime = want.CreateTime.In(brt)
		want.ExpireTime = want.ExpireTime.In(brt)
		mustCreateToken(t, s, want)
		checkToken(t, "GetToken", want, mustGetToken(t, s, want.ID))
	})

	t.Run("FalseAndZeroValuesStayZero", func(t *testing.T) {
		s := open(t)
		want := chave.Token{ID: "tok-min", DisplayName: "min", CreateTime: at(0)}
		mustCreateToken(t, s, want)
		checkToken(t, "GetToken", want, mustGetToken(t, s, want.ID))
	})

	t.Run("EmptyCollectionsReadBackNil", func(t *testing.T) {
		s := open(t)
		want := minimalToken("tok-empty", "acme", at(0))
		want.Contexts = []string{}
		want.Parameters = chave.Parameters{}
		want.SecretHash = []byte{}
		want.PreviousSecretHash = []byte{}
		mustCreateToken(t, s, want)
		checkToken(t, "GetToken", want, mustGetToken(t, s, want.ID))
	})

	t.Run("SubMicrosecondTimesKeepMicroseconds", func(t *testing.T) {
		s := open(t)
		tok := minimalToken("tok-nanos", "acme", at(0).Add(999))
		tok.ExpireTime = at(time.Hour).Add(1)
		mustCreateToken(t, s, tok)
		got := mustGetToken(t, s, tok.ID)
		for _, c := range []struct {
			name      string
			want, got time.Time
		}{{"CreateTime", tok.CreateTime, got.CreateTime}, {"ExpireTime", tok.ExpireTime, got.ExpireTime}} {
			if d := c.got.Sub(c.want).Abs(); d >= time.Microsecond {
				t.Errorf("%s: got %v, want %v within a microsecond (off by %v)", c.name, c.got, c.want, d)
			}
		}
	})

	t.Run("CreateRecordsEvent", func(t *testing.T) {
		s := open(t)
		tok := fullToken("tok-ev", "acme", at(0))
		ev := chave.Event{Time: at(0).In(brt), Actor: "op", Action: chave.ActionCreate, Fields: []string{"a", "b"},
			Details: map[string]string{chave.DetailSource: "github", chave.DetailURL: "https://example.com/a?b=\"c\"&d=é"}}
		if err := s.CreateToken(t.Context(), tok, ev); err != nil {
			t.Fatalf("CreateToken: %v", err)
		}
		checkEvents(t, "ListTokenEvents", tok.ID, []chave.Event{ev}, mustEvents(t, s, tok.ID))
	})

	t.Run("CreateDuplicateConflict", func(t *testing.T) {
		s := open(t)
		first := fullToken("tok-dup", "acme", at(0))
		mustCreateToken(t, s, first)
		second := minimalToken("tok-dup", "other", at(time.Hour))
		err := s.CreateToken(t.Context(), second, createEvent(second))
		wantCode(t, "second CreateToken(tok-dup)", err, chave.Conflict)
		checkToken(t, "GetToken after the conflict", first, mustGetToken(t, s, first.ID))
		checkEvents(t, "ListTokenEvents after the conflict", first.ID,
			[]chave.Event{createEvent(first)}, mustEvents(t, s, first.ID))
	})

	t.Run("MissingNotFound", func(t *testing.T) {
		s := open(t)
		mustCreateToken(t, s, minimalToken("tok-other", "acme", at(0)))
		ctx := t.Context()
		_, err := s.GetToken(ctx, "nope")
		wantCode(t, "GetToken(nope)", err, chave.NotFound)
		_, err = s.ListTokenEvents(ctx, "nope")
		wantCode(t, "ListTokenEvents(nope)", err, chave.NotFound)
		wantCode(t, "TouchToken(nope)", s.TouchToken(ctx, "nope", at(time.Hour)), chave.NotFound)
		called := false
		_, err = s.UpdateToken(ctx, "nope", func(*chave.Token) (chave.Event, error) {
			called = true
			return chave.Event{Action: chave.ActionUpdate}, nil
		})
		wantCode(t, "UpdateToken(nope)", err, chave.NotFound)
		if called {
			t.Error("UpdateToken(nope) called the closure for an absent token")
		}
	})

	t.Run("GetBySecretHash", func(t *testing.T) {
		s := open(t)
		ctx := t.Context()
		a := minimalToken("tok-a", "acme", at(0))
		a.SecretHash = []byte("hash-a")
		b := minimalToken("tok-b", "acme", at(time.Second))
		b.SecretHash = []byte("hash-b")
		mustCreateToken(t, s, a)
		mustCreateToken(t, s, b)
		got, err := s.GetTokenBySecretHash(ctx, []byte("hash-b"))
		if err != nil {
			t.Fatalf("GetTokenBySecretHash(hash-b): %v", err)
		}
		checkToken(t, "GetTokenBySecretHash", b, got)
		_, err = s.GetTokenBySecretHash(ctx, []byte("hash-c"))
		wantCode(t, "GetTokenBySecretHash(hash-c)", err, chave.NotFound)
		// After a rotation the old hash finds nothing, the new one the token.
		if _, err := s.UpdateToken(ctx, "tok-a", func(t *chave.Token) (chave.Event, error) {
			t.SecretHash = []byte("hash-a2")
			return chave.Event{TokenID: t.ID, Time: at(time.Minute), Action: chave.ActionRotate}, nil
		}); err != nil {
			t.Fatalf("UpdateToken(tok-a): %v", err)
		}
		_, err = s.GetTokenBySecretHash(ctx, []byte("hash-a"))
		wantCode(t, "GetTokenBySecretHash(hash-a) after rotation", err, chave.NotFound)
		if got, err := s.GetTokenBySecretHash(ctx, []byte("hash-a2")); err != nil || got.ID != "tok-a" {
			t.Fatalf("GetTokenBySecretHash(hash-a2) = %q, %v; want tok-a", got.ID, err)
		}
	})

	t.Run("GetByPreviousSecretHash", func(t *testing.T) {
		s := open(t)
		ctx := t.Context()
		a := minimalToken("tok-a", "acme", at(0))
		a.SecretHash = []byte("hash-a")
		mustCreateToken(t, s, minimalToken("tok-other", "acme", at(time.Second)))
		mustCreateToken(t, s, a)
		// A rotation with a grace period keeps the old hash as the previous
		// one: both find the token, with both stored.
		want := a
		want.SecretHash, want.PreviousSecretHash, want.PreviousSecretExpireTime = []byte("hash-a2"), []byte("hash-a"), at(24*time.Hour)
		ev := chave.Event{Time: at(time.Minute), Action: chave.ActionRotate, Fields: []string{"secret"},
			Details: map[string]string{chave.DetailPreviousSecretExpireTime: at(24 * time.Hour).Format(time.RFC3339)}}
		if _, err := s.UpdateToken(ctx, "tok-a", func(t *chave.Token) (chave.Event, error) {
			t.SecretHash, t.PreviousSecretHash, t.PreviousSecretExpireTime = want.SecretHash, want.PreviousSecretHash, want.PreviousSecretExpireTime
			return ev, nil
		}); err != nil {
			t.Fatalf("UpdateToken(tok-a): %v", err)
		}
		for _, h := range []string{"hash-a", "hash-a2"} {
			got, err := s.GetTokenBySecretHash(ctx, []byte(h))
			if err != nil {
				t.Fatalf("GetTokenBySecretHash(%s): %v", h, err)
			}
			checkToken(t, "GetTokenBySecretHash("+h+")", want, got)
		}
		checkEvents(t, "ListTokenEvents", "tok-a", []chave.Event{createEvent(a), ev}, mustEvents(t, s, "tok-a"))
		// Its end clears the previous hash: it finds nothing any more.
		want.PreviousSecretHash, want.PreviousSecretExpireTime = nil, time.Time{}
		if _, err := s.UpdateToken(ctx, "tok-a", func(t *chave.Token) (chave.Event, error) {
			t.PreviousSecretHash, t.PreviousSecretExpireTime = nil, time.Time{}
			return chave.Event{Time: at(24 * time.Hour), Action: chave.ActionPreviousSecretEnd}, nil
		}); err != nil {
			t.Fatalf("UpdateToken(tok-a): %v", err)
		}
		_, err := s.GetTokenBySecretHash(ctx, []byte("hash-a"))
		wantCode(t, "GetTokenBySecretHash(hash-a) after the grace period", err, chave.NotFound)
		checkToken(t, "GetToken after the grace period", want, mustGetToken(t, s, "tok-a"))
	})

	t.Run("SecretHashVersions", func(t *testing.T) {
		s := open(t)
		ctx := t.Context()
		// A re-hash under another server key version: the hash and its
		// version change, the secret version (fingerprint) is kept.
		a := minimalToken("tok-a", "acme", at(0))
		a.SecretHash, a.SecretHashVersion = []byte("hash-a-v1"), 1
		mustCreateToken(t, s, a)
		want := a
		want.SecretHash, want.SecretHashVersion, want.SecretVersion = []byte("hash-a-v2"), 2, "frozen-fingerprint"
		if _, err := s.UpdateToken(ctx, a.ID, func(t *chave.Token) (chave.Event, error) {
			t.SecretHash, t.SecretHashVersion, t.SecretVersion = want.SecretHash, want.SecretHashVersion, want.SecretVersion
			return chave.Event{TokenID: t.ID, Time: at(time.Minute), Action: chave.ActionRehash}, nil
		}); err != nil {
			t.Fatalf("UpdateToken(tok-a): %v", err)
		}
		checkToken(t, "GetToken after a re-hash", want, mustGetToken(t, s, a.ID))
		got, err := s.GetTokenBySecretHash(ctx, []byte("hash-a-v2"))
		if err != nil {
			t.Fatalf("GetTokenBySecretHash(hash-a-v2): %v", err)
		}
		checkToken(t, "GetTokenBySecretHash after a re-hash", want, got)
		_, err = s.GetTokenBySecretHash(ctx, []byte("hash-a-v1"))
		wantCode(t, "GetTokenBySecretHash(hash-a-v1) after a re-hash", err, chave.NotFound)
		page, err := s.ListTokens(ctx, storage.TokenFilter{Now: at(time.Hour), Limit: 10})
		if err != nil || len(page.Tokens) != 1 {
			t.Fatalf("ListTokens = %d tokens, %v; want 1", len(page.Tokens), err)
		}
		checkToken(t, "ListTokens after a re-hash", want, page.Tokens[0])
	})

	t.Run("UpdateChangesEveryMutableField", testUpdateEveryField(open))
	t.Run("UpdateEventsOldestFirst", testUpdateEventsOrder(open))
	t.Run("UpdateErrorAborts", testUpdateErrorAborts(open))
	t.Run("UpdateKeepsIDAndCreateTime", testUpdateKeepsIdentity(open))
	t.Run("UpdateTouchesOnlyItsToken", testUpdateIsolated(open))
	t.Run("TouchMovesForwardOnly", testTouch(open))
}

func testUpdateEveryField(open opener) func(*testing.T) {
	return func(t *testing.T) {
		s := open(t)
		orig := fullToken("tok-up", "acme", at(0))
		mustCreateToken(t, s, orig)
		want := chave.Token{
			ID:                 orig.ID,
			DisplayName:        "renamed",
			Description:        "",
			Tenant:             "globex",
			Contexts:           []string{"inventory"},
			Parameters:         chave.Parameters{"telegram": {"botToken": "enc:v2:new"}},
			SecretHash:         []byte("rotated-hash"),
			SecretHashVersion:  4,
			SecretVersion:      "",
			CreateTime:         orig.CreateTime,
			ExpireTime:         at(200 * time.Hour).In(brt),
			LastUseTime:        at(3 * time.Hour),
			Creator:            "someone-else",
			Revoker:            "",
			GeneralAccess:      false,
			Operator:           false,
			IssueRefreshTokens: true, // differs from Operator: the columns must not be mixed up
		}
		ev := chave.Event{Time: at(2 * time.Hour), Actor: "admin", Action: chave.ActionUpdate, Fields: []string{"displayName", "expireTime"}}
		got, err := s.UpdateToken(t.Context(), orig.ID, func(tok *chave.Token) (chave.Event, error) {
			checkToken(t, "UpdateToken's closure argument", orig, *tok)
			*tok = want
			return ev, nil
		})
		if err != nil {
			t.Fatalf("UpdateToken: %v", err)
		}
		checkToken(t, "UpdateToken's result", want, got)
		checkToken(t, "GetToken after UpdateToken", want, mustGetToken(t, s, orig.ID))
		checkEvents(t, "ListTokenEvents after UpdateToken", orig.ID,
			[]chave.Event{createEvent(orig), ev}, mustEvents(t, s, orig.ID))
	}
}

func testUpdateEventsOrder(open opener) func(*testing.T) {
	return func(t *testing.T) {
		s := open(t)
		tok := minimalToken("tok-order", "acme", at(0))
		mustCreateToken(t, s, tok)
		want := []chave.Event{createEvent(tok)}
		for i, action := range []string{chave.ActionUpdate, chave.ActionRotate, chave.ActionRevoke} {
			ev := chave.Event{
				TokenID: "some-other-token", // ignored: the event belongs to tok
				Time:    at(time.Duration(i+1) * time.Minute),
				Actor:   fmt.Sprintf("actor-%d", i),
				Action:  action,
			}
			want = append(want, ev)
			if _, err := s.UpdateToken(t.Context(), tok.ID, func(tok *chave.Token) (chave.Event, error) {
				tok.Description = action
				return ev, nil
			}); err != nil {
				t.Fatalf("UpdateToken %d: %v", i, err)
			}
		}
		checkEvents(t, "ListTokenEvents", tok.ID, want, mustEvents(t, s, tok.ID))
		_, err := s.ListTokenEvents(t.Context(), "some-other-token")
		wantCode(t, "ListTokenEvents(some-other-token)", err, chave.NotFound)
	}
}

func testUpdateErrorAborts(open opener) func(*testing.T) {
	return func(t *testing.T) {
		s := open(t)
		orig := fullToken("tok-abort", "acme", at(0))
		mustCreateToken(t, s, orig)
		sentinel := errors.New("closure refused")
		coded := chave.Errorf(chave.FailedPrecondition, "token is revoked")
		for _, want := range []error{sentinel, fmt.Errorf("wrapped: %w", sentinel), coded} {
			_, err := s.UpdateToken(t.Context(), orig.ID, func(tok *chave.Token) (chave.Event, error) {
				tok.DisplayName = "must not be written"
				tok.RevokeTime = time.Time{}
				return chave.Event{Time: at(time.Hour), Action: chave.ActionUpdate}, want
			})
			if !errors.Is(err, want) {
				t.Errorf("UpdateToken: got error %v, want the closure's error %v", err, want)
			}
			if want == coded && !chave.IsCode(err, chave.FailedPrecondition) {
				t.Errorf("UpdateToken: got code %q, want the closure's %q", chave.ErrorCode(err), chave.FailedPrecondition)
			}
		}
		checkToken(t, "GetToken after aborted updates", orig, mustGetToken(t, s, orig.ID))
		checkEvents(t, "ListTokenEvents after aborted updates", orig.ID,
			[]chave.Event{createEvent(orig)}, mustEvents(t, s, orig.ID))
	}
}

func testUpdateKeepsIdentity(open opener) func(*testing.T) {
	return func(t *testing.T) {
		s := open(t)
		orig := fullToken("tok-id", "acme", at(0))
		mustCreateToken(t, s, orig)
		want := orig
		want.Description = "changed"
		got, err := s.UpdateToken(t.Context(), orig.ID, func(tok *chave.Token) (chave.Event, error) {
			tok.ID = "tok-hijack"
			tok.CreateTime = at(time.Hour)
			tok.Description = "changed"
			return chave.Event{Time: at(time.Hour), Action: chave.ActionUpdate}, nil
		})
		if err != nil {
			t.Fatalf("UpdateToken: %v", err)
		}
		checkToken(t, "UpdateToken's result", want, got)
		checkToken(t, "GetToken after UpdateToken", want, mustGetToken(t, s, orig.ID))
		_, err = s.GetToken(t.Context(), "tok-hijack")
		wantCode(t, "GetToken(tok-hijack)", err, chave.NotFound)
		if n := len(mustEvents(t, s, orig.ID)); n != 2 {
			t.Errorf("ListTokenEvents(%s): got %d events, want 2", orig.ID, n)
		}
	}
}

func testUpdateIsolated(open opener) func(*testing.T) {
	return func(t *testing.T) {
		s := open(t)
		a, b := fullToken("tok-a", "acme", at(0)), fullToken("tok-b", "acme", at(time.Second))
		mustCreateToken(t, s, a)
		mustCreateToken(t, s, b)
		if _, err := s.UpdateToken(t.Context(), a.ID, func(tok *chave.Token) (chave.Event, error) {
			tok.DisplayName = "changed"
			tok.RevokeTime = time.Time{}
			return chave.Event{Action: chave.ActionUpdate}, nil
		}); err != nil {
			t.Fatalf("UpdateToken(%s): %v", a.ID, err)
		}
		if err := s.TouchToken(t.Context(), a.ID, at(1000*time.Hour)); err != nil {
			t.Fatalf("TouchToken(%s): %v", a.ID, err)
		}
		checkToken(t, "GetToken of the token not updated", b, mustGetToken(t, s, b.ID))
		checkEvents(t, "ListTokenEvents of the token not updated", b.ID,
			[]chave.Event{createEvent(b)}, mustEvents(t, s, b.ID))
	}
}

func testTouch(open opener) func(*testing.T) {
	return func(t *testing.T) {
		s := open(t)
		want := fullToken("tok-touch", "acme", at(0))
		want.LastUseTime = time.Time{}
		mustCreateToken(t, s, want)
		steps := []struct {
			touch, want time.Time
		}{
			{time.Time{}, time.Time{}},             // the zero time changes nothing
			{at(time.Hour).In(brt), at(time.Hour)}, // first use
			{at(time.Minute), at(time.Hour)},       // earlier: ignored
			{at(time.Hour), at(time.Hour)},         // equal: unchanged
			{at(time.Hour + time.Microsecond), at(time.Hour + time.Microsecond)},
			{at(5 * time.Hour), at(5 * time.Hour)},
			{time.Time{}, at(5 * time.Hour)},
		}
		for i, step := range steps {
			if err := s.TouchToken(t.Context(), want.ID, step.touch); err != nil {
				t.Fatalf("step %d: TouchToken(%v): %v", i, step.touch, err)
			}
			want.LastUseTime = step.want
			checkToken(t, fmt.Sprintf("step %d: GetToken after TouchToken(%v)", i, step.touch),
				want, mustGetToken(t, s, want.ID))
		}
		checkEvents(t, "ListTokenEvents after TouchToken", want.ID,
			[]chave.Event{createEvent(want)}, mustEvents(t, s, want.ID))
	}
}
