package engineapi

import (
	"context"
	"encoding/json"
	"fmt"

	"github.com/redis/go-redis/v9"

	"github.com/optio-temporal/optio/mirror"
	"github.com/optio-temporal/optio/rpc"
)

// Service is the clamator service name of the optio-engine contract.
const Service = "optio-engine"

// KeyPrefix returns the key prefix of the engines of database db and
// collection prefix prefix, "{db}/{prefix}": the rpc.ClientOptions.KeyPrefix
// of their clients.
func KeyPrefix(db, prefix string) string { return db + "/" + prefix }

// HeartbeatKey returns the Redis key a serving engine refreshes every 5 s
// with a 15 s expiry, "{db}/{prefix}:heartbeat"; optio-api counts an engine
// as live while it exists.
func HeartbeatKey(keyPrefix string) string { return keyPrefix + ":heartbeat" }

// Live reports whether an engine serves keyPrefix: whether its heartbeat key
// exists. A client should ask before its first call, because a call sent
// where no engine serves is never answered and waits out its whole timeout.
func Live(ctx context.Context, rdb redis.Cmdable, keyPrefix string) (bool, error) {
	n, err := rdb.Exists(ctx, HeartbeatKey(keyPrefix)).Result()
	if err != nil {
		return false, fmt.Errorf("read the heartbeat of %q: %w", keyPrefix, err)
	}
	return n > 0, nil
}

// The params of the contract's methods, decoded as strictly as optio-core's
// generated models decode them: unknown keys, missing required keys and
// wrong JSON types are -32602, and null counts as absent for optional keys
// (Python clients send every optional key, as null when unset).

// LaunchParams are the params of launch.
type LaunchParams struct {
	// ProcessID names the process by processId or _id; at least one
	// character.
	ProcessID string `json:"processId"`
	// Resume relaunches a resumable process from its saved state.
	Resume *bool `json:"resume"`
	// SessionID's key must be present (string or null). It becomes the
	// run's originatingSessionId.
	SessionID *string `json:"sessionId" rpc:"required"`
}

// ProcessIDParams are the params of cancel and dismiss.
type ProcessIDParams struct {
	// ProcessID names the process by processId or _id; at least one
	// character.
	ProcessID string `json:"processId"`
}

// ResyncParams are the params of the resync notification.
type ResyncParams struct {
	// Clean deletes the processes whose definitions are gone.
	Clean *bool `json:"clean"`
	// MetadataFilter restricts the resync to the matching definitions.
	MetadataFilter *Filter `json:"metadataFilter"`
}

// GroupCancelParams are the params of groupCancel and groupCancelAndWait.
type GroupCancelParams struct {
	// MetadataFilter selects the processes; it must not be empty.
	MetadataFilter   Filter  `json:"metadataFilter"`
	BlockNewLaunches *bool   `json:"blockNewLaunches"`
	Persist          *bool   `json:"persist"`
	Reason           *string `json:"reason"`
	PurgeRecords     *bool   `json:"purgeRecords"`
}

// BlockLaunchesParams are the params of blockLaunches.
type BlockLaunchesParams struct {
	LaunchFilter LaunchFilter `json:"launchFilter"`
	Reason       *string      `json:"reason"`
}

// UnblockLaunchesParams are the params of unblockLaunches.
type UnblockLaunchesParams struct {
	LaunchFilter LaunchFilter `json:"launchFilter"`
}

// MaterializeUploadParams are the params of materializeUpload: optio-api
// has streamed an uploaded file into GridFS (the database's default bucket,
// "fs") and names the blob and the process whose task should receive it.
type MaterializeUploadParams struct {
	ProcessID string `json:"processId"`
	BlobID    string `json:"blobId"`
	Filename  string `json:"filename"`
}

// The contract's results, in its key order.

// ProcessResult is the result of a launch, cancel or dismiss that took
// place: the process document as [ProcessJSON] writes it (null when an
// ephemeral process is already gone).
type ProcessResult struct {
	OK      bool            `json:"ok"`
	Process json.RawMessage `json:"process"`
}

// ReasonResult is the result of a call refused for a contract reason.
type ReasonResult struct {
	OK     bool          `json:"ok"`
	Reason mirror.Reason `json:"reason"`
}

// CountResult is the result of groupCancel and groupCancelAndWait.
type CountResult struct {
	OK             bool `json:"ok"`
	CancelledCount int  `json:"cancelledCount"`
}

// OKResult is the result of blockLaunches.
type OKResult struct {
	OK bool `json:"ok"`
}

// RemovedResult is the result of unblockLaunches: how many blocks went.
type RemovedResult struct {
	Removed int `json:"removed"`
}

// UploadResult is the result of materializeUpload: the path the task wrote
// the file to, or why it was not written (free text, in optio-core the repr
// of the exception that stopped it).
type UploadResult struct {
	OK     bool   `json:"ok"`
	Path   string `json:"path,omitempty"`
	Reason string `json:"reason,omitempty"`
}

// CheckProcessID enforces the contract's minimum length of 1 on a processId,
// with the -32602 error optio-core's model gives.
func CheckProcessID(id string) error {
	if id != "" {
		return nil
	}
	return rpc.InvalidParams(rpc.FieldError{
		Type:  "string_too_short",
		Loc:   []any{"processId"},
		Msg:   "String should have at least 1 character",
		Input: "",
		Ctx:   map[string]any{"min_length": 1},
	})
}
