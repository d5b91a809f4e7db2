package mirror

import (
	"context"

	"go.mongodb.org/mongo-driver/v2/bson"
)

// Reader is the read side of the mirror: the queries code outside the engine
// may run on the process documents and launch blocks. The engine alone
// writes them (claims, transitions, logs); adapter.Engine.Store hands out a
// Reader so that no other caller can.
type Reader interface {
	// Get returns the process with the given _id, or ErrNotFound.
	Get(ctx context.Context, id bson.ObjectID) (*Process, error)
	// Resolve finds a process by either form of id, as optio-core does: a
	// 24-digit hex string is tried as an _id first, then any string as a
	// processId. It returns ErrNotFound when neither matches.
	Resolve(ctx context.Context, id string) (*Process, error)
	// ByProcessID returns the process with the given processId, or
	// ErrNotFound.
	ByProcessID(ctx context.Context, processID string) (*Process, error)
	// List returns the processes matching q, sorted by depth, order, then
	// _id.
	List(ctx context.Context, q Query) ([]Process, error)
	// Descendants returns the _ids of every process below id, at any depth.
	Descendants(ctx context.Context, id bson.ObjectID) ([]bson.ObjectID, error)
	// Blocks returns every persisted launch block.
	Blocks(ctx context.Context) ([]LaunchBlock, error)
}
