package mirror

import (
	"errors"
	"fmt"

	"go.mongodb.org/mongo-driver/v2/bson"
)

// ErrNotFound is returned when no process document matches.
var ErrNotFound = errors.New("process not found")

// ErrDuplicateProcessID is returned when an insert would create a second
// document with an existing processId.
var ErrDuplicateProcessID = errors.New("processId already exists")

// ErrConflict is returned (wrapped in a *ConflictError) when a compare-and-set
// write found the document in a state the write may not start from.
var ErrConflict = errors.New("state conflict")

// ConflictError reports a refused compare-and-set write.
type ConflictError struct {
	// ID is the document's _id.
	ID bson.ObjectID
	// To is the state the write was to set.
	To State
	// Allowed are the states the write accepted the document in.
	Allowed []State
	// Current is the state the document was in; empty when the document
	// is gone.
	Current State
}

// Error says which move was refused, and why.
func (e *ConflictError) Error() string {
	if e.Current == "" {
		return fmt.Sprintf("process %s: cannot move to %s: document is gone", e.ID.Hex(), e.To)
	}
	return fmt.Sprintf("process %s: cannot move from %s to %s (allowed from %v)", e.ID.Hex(), e.Current, e.To, e.Allowed)
}

// Unwrap makes errors.Is(err, ErrConflict) true.
func (e *ConflictError) Unwrap() error { return ErrConflict }
