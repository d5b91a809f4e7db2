package mirror

import (
	"encoding/json"
	"time"

	"go.mongodb.org/mongo-driver/v2/bson"
)

// Query selects processes for List. Zero fields do not filter.
type Query struct {
	State    State
	RootID   *bson.ObjectID
	ParentID *bson.ObjectID
	// Metadata matches metadata.<key> == value for every entry (Mongo equality).
	Metadata map[string]any
	// RootsOnly keeps documents without a parent.
	RootsOnly bool
	// States keeps documents in any of these states.
	States []State
}

// LaunchBlock is one document of {prefix}_launch_blocks: launches of processes
// whose metadata matches Filter are refused with "launch-blocked".
type LaunchBlock struct {
	ID        bson.ObjectID  `bson:"_id"`
	Filter    map[string]any `bson:"filter"`
	CreatedAt time.Time      `bson:"createdAt"`
	Reason    *string        `bson:"reason"`
}

// Checkpoint is one saved checkpoint: the body's value as JSON, numbered so
// that of two copies (the Mongo one and a body activity's last heartbeat
// details) the later one wins. Seq counts saves across the runs of a
// process, from 1.
type Checkpoint struct {
	Seq  int64           `json:"seq"`
	Data json.RawMessage `json:"data"`
}
