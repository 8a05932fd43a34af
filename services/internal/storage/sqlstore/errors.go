package sqlstore

import (
	"fmt"

	"github.com/chave/chave/services/internal/chave"
)

// NotFound is the error for a missing row: a chave NotFound error naming
// the resource, e.g. NotFound("token", id), for sql.ErrNoRows.
func NotFound(kind, id string) error {
	return chave.Errorf(chave.NotFound, "%s %q not found", kind, id)
}

// Conflict is the error for a duplicate id: a chave Conflict error naming
// the resource that keeps cause, the driver's unique-violation error, as
// its cause.
func Conflict(kind, id string, cause error) error {
	return &chave.Error{
		Code:    chave.Conflict,
		Message: fmt.Sprintf("%s %q already exists", kind, id),
		Err:     cause,
	}
}
