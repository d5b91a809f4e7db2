package docstore

import (
	"context"
	"fmt"

	"github.com/optio-temporal/optio/mirror"
	"go.mongodb.org/mongo-driver/v2/bson"
	"go.mongodb.org/mongo-driver/v2/mongo/options"
)

// ActiveHeads returns every process in an active state (scheduled, running,
// cancel_requested, cancelling) with only _id, processId, parentId, status
// and createdAt read: the engine's reconciler lists them on every pass, and
// a long-running process's log (up to LogLimit entries) is what would make
// that read grow. On MongoDB the filter uses the status.state index.
func (s *Store) ActiveHeads(ctx context.Context) ([]mirror.Process, error) {
	cur, err := s.procs.Find(ctx,
		bson.D{{Key: "status.state", Value: bson.D{{Key: "$in", Value: []mirror.State{mirror.Scheduled, mirror.Running, mirror.CancelRequested, mirror.Cancelling}}}}},
		options.Find().SetProjection(bson.D{
			{Key: "_id", Value: 1}, {Key: "processId", Value: 1}, {Key: "parentId", Value: 1},
			{Key: "status", Value: 1}, {Key: "createdAt", Value: 1},
		}))
	if err != nil {
		return nil, fmt.Errorf("list active processes: %w", err)
	}
	out := []mirror.Process{}
	if err := cur.All(ctx, &out); err != nil {
		return nil, fmt.Errorf("list active processes: %w", err)
	}
	return out, nil
}

// TaskRoots returns the top-level processes that are not ad-hoc (those a
// resync may find removed from the task definitions), whose metadata
// matches every entry of metadata, with only _id, processId, adhoc and
// status read: a resync lists them all, and their logs are most of what
// they weigh.
func (s *Store) TaskRoots(ctx context.Context, metadata map[string]any) ([]mirror.Process, error) {
	cur, err := s.procs.Find(ctx, taskRootsFilter(metadata), options.Find().SetProjection(bson.D{
		{Key: "_id", Value: 1}, {Key: "processId", Value: 1}, {Key: "adhoc", Value: 1}, {Key: "status", Value: 1},
	}))
	if err != nil {
		return nil, fmt.Errorf("list task roots: %w", err)
	}
	out := []mirror.Process{}
	if err := cur.All(ctx, &out); err != nil {
		return nil, fmt.Errorf("list task roots: %w", err)
	}
	return out, nil
}

// taskRootsFilter matches the top-level processes that are not ad-hoc and
// whose metadata matches every entry of metadata.
func taskRootsFilter(metadata map[string]any) bson.D {
	f := queryFilter(mirror.Query{RootsOnly: true, Metadata: metadata})
	return append(f, bson.E{Key: "adhoc", Value: bson.D{{Key: "$ne", Value: true}}})
}
