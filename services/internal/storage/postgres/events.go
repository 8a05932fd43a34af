package postgres

import (
	"context"
	"fmt"

	"github.com/chave/chave/services/internal/chave"
	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgtype"
)

// insertEvent appends ev to the audit trail of the token tokenID; the
// event's own TokenID is ignored.
func insertEvent(ctx context.Context, tx pgx.Tx, tokenID string, ev chave.Event) error {
	fields, err := encodeStrings(ev.Fields)
	if err != nil {
		return fmt.Errorf("event fields: %w", err)
	}
	_, err = tx.Exec(ctx, `INSERT INTO token_events (token_id, time, actor, action, fields)
		VALUES ($1, $2, $3, $4, $5)`,
		tokenID, encodeTime(ev.Time), ev.Actor, ev.Action, fields)
	if err != nil {
		return fmt.Errorf("insert event: %w", err)
	}
	return nil
}

// ListTokenEvents returns a token's audit trail, oldest first (in the order
// the events were written); NotFound if the token is absent.
func (s *Store) ListTokenEvents(ctx context.Context, tokenID string) ([]chave.Event, error) {
	// One statement, so that the existence check and the events agree: the
	// LEFT JOIN yields one all-NULL event row for a token without events and
	// no row at all for an absent token.
	rows, err := s.pool.Query(ctx, `SELECT e.id, e.time, e.actor, e.action, e.fields
		FROM tokens t LEFT JOIN token_events e ON e.token_id = t.id
		WHERE t.id = $1
		ORDER BY e.id`, tokenID)
	if err != nil {
		return nil, fmt.Errorf("postgres: list events of token %s: %w", tokenID, classify(err))
	}
	defer rows.Close()
	found := false
	var out []chave.Event
	for rows.Next() {
		found = true
		ev, ok, err := scanEvent(rows, tokenID)
		if err != nil {
			return nil, fmt.Errorf("postgres: list events of token %s: %w", tokenID, err)
		}
		if ok {
			out = append(out, ev)
		}
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("postgres: list events of token %s: %w", tokenID, classify(err))
	}
	if !found {
		return nil, fmt.Errorf("postgres: list events of token %s: %w",
			tokenID, chave.Errorf(chave.NotFound, "token %q not found", tokenID))
	}
	return out, nil
}

// scanEvent reads one row of the events query; ok is false for the all-NULL
// row of a token without events.
func scanEvent(row pgx.Row, tokenID string) (ev chave.Event, ok bool, err error) {
	var (
		id, at                pgtype.Int8
		actor, action, fields pgtype.Text
	)
	if err := row.Scan(&id, &at, &actor, &action, &fields); err != nil {
		return chave.Event{}, false, err
	}
	if !id.Valid {
		return chave.Event{}, false, nil
	}
	ev = chave.Event{TokenID: tokenID, Time: decodeTime(at), Actor: actor.String, Action: action.String}
	if ev.Fields, err = decodeStrings(fields.String); err != nil {
		return chave.Event{}, false, fmt.Errorf("event %d: fields: %w", id.Int64, err)
	}
	return ev, true, nil
}
