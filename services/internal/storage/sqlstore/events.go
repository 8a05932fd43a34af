package sqlstore

import (
	"context"
	"database/sql"
	"fmt"

	"github.com/chave/chave/services/internal/chave"
)

// insertEventSQL appends an event to a token's audit trail; it takes
// eventArgs.
const insertEventSQL = `INSERT INTO token_events (token_id, time, actor, action, fields, details)
	VALUES ($1, $2, $3, $4, $5, $6)`

// listEventsSQL reads a token's events in one statement, so that the
// existence check and the events agree: the LEFT JOIN yields one all-NULL
// event row for a token without events and no row at all for an absent
// token.
const listEventsSQL = `SELECT e.id, e.time, e.actor, e.action, e.fields, e.details
	FROM tokens t LEFT JOIN token_events e ON e.token_id = t.id
	WHERE t.id = $1
	ORDER BY e.id`

// eventArgs returns the values of insertEventSQL: ev as an event of the
// token tokenID (ev's own TokenID is ignored).
func eventArgs(tokenID string, ev chave.Event) ([]any, error) {
	fields, err := encodeStrings(ev.Fields)
	if err != nil {
		return nil, fmt.Errorf("event fields: %w", err)
	}
	details, err := encodeDetails(ev.Details)
	if err != nil {
		return nil, fmt.Errorf("event details: %w", err)
	}
	return []any{tokenID, encodeTime(ev.Time), ev.Actor, ev.Action, fields, details}, nil
}

// insertEvent appends ev to the audit trail of the token tokenID through
// exec, within the caller's transaction; ev's own TokenID is ignored.
func insertEvent(exec Exec, tokenID string, ev chave.Event) error {
	args, err := eventArgs(tokenID, ev)
	if err != nil {
		return err
	}
	if err := exec(insertEventSQL, args...); err != nil {
		return fmt.Errorf("insert event: %w", err)
	}
	return nil
}

// listTokenEvents returns a token's audit trail through q, oldest first (in
// the order the events were written); NotFound if the token is absent.
func listTokenEvents(q Query, tokenID string) ([]chave.Event, error) {
	found := false
	var out []chave.Event
	err := q(listEventsSQL, []any{tokenID}, func(rows Rows) error {
		for rows.Next() {
			found = true
			ev, ok, err := scanEvent(rows, tokenID)
			if err != nil {
				return err
			}
			if ok {
				out = append(out, ev)
			}
		}
		return rows.Err()
	})
	if err != nil {
		return nil, err
	}
	if !found {
		return nil, NotFound("token", tokenID)
	}
	return out, nil
}

// scanEvent reads one row of listEventsSQL; ok is false for the all-NULL
// row of a token without events.
func scanEvent(row Scanner, tokenID string) (ev chave.Event, ok bool, err error) {
	var (
		id, at                sql.NullInt64
		actor, action, fields sql.NullString
		details               sql.NullString
	)
	if err := row.Scan(&id, &at, &actor, &action, &fields, &details); err != nil {
		return chave.Event{}, false, err
	}
	if !id.Valid {
		return chave.Event{}, false, nil
	}
	ev = chave.Event{TokenID: tokenID, Time: decodeTime(at), Actor: actor.String, Action: action.String}
	if ev.Fields, err = decodeStrings(fields.String); err != nil {
		return chave.Event{}, false, fmt.Errorf("event %d: fields: %w", id.Int64, err)
	}
	if ev.Details, err = decodeDetails(details.String); err != nil {
		return chave.Event{}, false, fmt.Errorf("event %d: details: %w", id.Int64, err)
	}
	return ev, true, nil
}

// ListTokenEvents returns a token's audit trail, oldest first (in the order
// the events were written); NotFound if the token is absent.
func (s *Store) ListTokenEvents(ctx context.Context, tokenID string) ([]chave.Event, error) {
	out, err := listTokenEvents(queryOn(ctx, s.read), tokenID)
	if err != nil {
		return nil, s.fail(err, "list events of token %s", tokenID)
	}
	return out, nil
}
