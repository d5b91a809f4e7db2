package adapter

import (
	"context"
	"fmt"

	"go.mongodb.org/mongo-driver/v2/bson"

	"github.com/optio-temporal/optio/mirror"
)

// GetProcess returns the document of a process, by processId or by _id in
// hex. It returns an error wrapping ReasonNotFound when there is none.
func (e *Engine) GetProcess(ctx context.Context, id string) (*Process, error) {
	if err := validID(id); err != nil {
		return nil, err
	}
	p, err := e.store.Resolve(ctx, id)
	if isNotFound(err) {
		return nil, fmt.Errorf("process %q: %w", id, ReasonNotFound)
	}
	return p, err
}

// ListOptions filters ListProcesses. Zero fields do not filter.
type ListOptions struct {
	// State keeps processes in this state.
	State State
	// RootID keeps the processes of one tree: the root's _id in hex.
	RootID string
	// Metadata keeps processes whose metadata.<key> equals each value.
	Metadata map[string]any
}

// ListProcesses returns the processes matching opts, roots and children
// alike, sorted by depth, order, then _id.
func (e *Engine) ListProcesses(ctx context.Context, opts ListOptions) ([]Process, error) {
	q := mirror.Query{State: opts.State, Metadata: opts.Metadata}
	if opts.State != "" && !opts.State.Valid() {
		return nil, fmt.Errorf("%w: unknown state %q", ErrInvalidInput, opts.State)
	}
	if opts.RootID != "" {
		oid, err := bson.ObjectIDFromHex(opts.RootID)
		if err != nil {
			return nil, fmt.Errorf("%w: root id %q is not a 24-digit hex ObjectId", ErrInvalidInput, opts.RootID)
		}
		q.RootID = &oid
	}
	return e.store.List(ctx, q)
}
