package sqlstore

import (
	"database/sql"
	"encoding/json"
	"time"

	"github.com/chave/chave/services/internal/chave"
)

// Column encodings, shared by every table:
//   - times: unix microseconds UTC in a BIGINT, NULL for the zero time,
//     carried as sql.NullInt64, which database/sql and pgx both bind and
//     scan;
//   - string lists: a JSON array, "[]" when empty; read back as nil;
//   - parameters: a JSON object, "{}" when empty; read back as nil;
//   - byte strings: a BLOB or BYTEA, NULL when empty; read back as nil.

func encodeTime(t time.Time) sql.NullInt64 {
	if t.IsZero() {
		return sql.NullInt64{}
	}
	return sql.NullInt64{Int64: t.UnixMicro(), Valid: true}
}

func decodeTime(n sql.NullInt64) time.Time {
	if !n.Valid {
		return time.Time{}
	}
	return time.UnixMicro(n.Int64).UTC()
}

func encodeStrings(s []string) (string, error) {
	if len(s) == 0 {
		return "[]", nil
	}
	b, err := json.Marshal(s)
	return string(b), err
}

func decodeStrings(text string) ([]string, error) {
	var s []string
	if err := json.Unmarshal([]byte(text), &s); err != nil {
		return nil, err
	}
	if len(s) == 0 {
		return nil, nil
	}
	return s, nil
}

func encodeParameters(p chave.Parameters) (string, error) {
	if len(p) == 0 {
		return "{}", nil
	}
	b, err := json.Marshal(p)
	return string(b), err
}

func decodeParameters(text string) (chave.Parameters, error) {
	var p chave.Parameters
	if err := json.Unmarshal([]byte(text), &p); err != nil {
		return nil, err
	}
	if len(p) == 0 {
		return nil, nil
	}
	return p, nil
}

func encodeBytes(b []byte) []byte {
	if len(b) == 0 {
		return nil
	}
	return b
}

func encodeDetails(d map[string]string) (string, error) {
	if len(d) == 0 {
		return "{}", nil
	}
	b, err := json.Marshal(d)
	return string(b), err
}

func decodeDetails(text string) (map[string]string, error) {
	if text == "" {
		return nil, nil
	}
	var d map[string]string
	if err := json.Unmarshal([]byte(text), &d); err != nil {
		return nil, err
	}
	if len(d) == 0 {
		return nil, nil
	}
	return d, nil
}
