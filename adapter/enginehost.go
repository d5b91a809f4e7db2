package adapter

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"sync/atomic"
	"time"

	"go.mongodb.org/mongo-driver/v2/bson"

	"github.com/optio-temporal/optio/activities"
	"github.com/optio-temporal/optio/adapter/internal/bodyhost"
	"github.com/optio-temporal/optio/internal/activitydef"
	"github.com/optio-temporal/optio/internal/docstore"
	"github.com/optio-temporal/optio/internal/workflowdef"
	"github.com/optio-temporal/optio/mirror"
	"github.com/optio-temporal/optio/workflows"
)

// engineHost runs a body for the engine: progress and checkpoints go to
// Mongo through buffers, children are child workflows asked for with
// workflow updates.
type engineHost struct {
	e *Engine
	// ctx is the body's context.
	ctx        context.Context
	proc       bodyhost.Process
	docID      bson.ObjectID
	workflowID string
	runID      string
	// revision is the process workflow's revision (BodyInput.Revision).
	revision int
	progress *docstore.ProgressBuffer
	// listener forwards this child's reports to its parent's tracker.
	listener func(percent *float64, message *string)
	// body is the body activity's run (heartbeat details); attempt is
	// BodyInput.Attempt, above 1 for a re-run after a lost worker.
	body    *activitydef.BodyRun
	attempt int

	spawnerOnce sync.Once
	spawner     *spawner
	// spawned is set once the body asked for a child.
	spawned atomic.Bool
	// childRequests counts the children this body asked for.
	childRequests atomic.Int64
}

var _ bodyhost.Host[TaskFunc] = (*engineHost)(nil)

func (h *engineHost) Process() bodyhost.Process { return h.proc }

func (h *engineHost) Report(percent *float64, message *string) {
	h.progress.Report(percent, message)
	if h.listener != nil {
		h.listener(percent, message)
	}
}

func (h *engineHost) SetEphemeral(ctx context.Context) error {
	return h.e.store.SetEphemeral(ctx, h.docID)
}

// LoadCheckpoint reads the saved checkpoint from Mongo and, for a re-run,
// the lost body's last heartbeat, whichever is later.
func (h *engineHost) LoadCheckpoint(ctx context.Context) (bodyhost.Saved, error) {
	e, id := h.e, h.proc.ProcessID
	saved := bodyhost.Saved{Rerun: h.attempt > 1}
	rec, err := e.store.LoadCheckpoint(ctx, h.docID)
	if err != nil {
		return saved, fmt.Errorf("load checkpoint of %q: %w", id, err)
	}
	switch {
	case saved.Rerun:
		saved.Latest = rec.Checkpoint()
		prev, err := activitydef.PreviousCheckpoint(ctx, e.cfg.Temporal, h.workflowID, h.runID)
		if err != nil {
			e.log.Warn("could not read the lost body's last heartbeat", "process", id, "error", err)
		}
		e.log.Info("re-run after a lost worker reads its checkpoint", "process", id,
			"mongoSeq", seqOf(saved.Latest), "heartbeatSeq", seqOf(prev))
		if prev != nil && (saved.Latest == nil || prev.Seq > saved.Latest.Seq) {
			saved.Latest = prev
		}
	case rec != nil && rec.Resume:
		saved.Resumed = true
		saved.Latest = rec.Checkpoint()
	}
	if rec != nil {
		saved.Seq = rec.Seq
	}
	if saved.Latest != nil {
		saved.Seq = max(saved.Seq, saved.Latest.Seq)
	}
	return saved, nil
}

// CheckpointWriter buffers checkpoints for Mongo and puts the latest on the
// body's heartbeats.
func (h *engineHost) CheckpointWriter(current func() *mirror.Checkpoint) bodyhost.CheckpointWriter {
	buf := docstore.NewCheckpointBuffer(h.e.store, h.docID, h.e.cfg.ProgressFlushInterval)
	if h.body != nil {
		h.body.SetCheckpointSource(current)
	}
	return buf
}

func (h *engineHost) SetHasSavedState(ctx context.Context) error {
	return h.e.store.SetHasSavedState(ctx, h.docID, true)
}

func (h *engineHost) ClearSavedState(ctx context.Context) error {
	return h.e.store.ClearSavedState(ctx, h.docID)
}

// CheckChildID refuses a child whose workflow ID Temporal would not take
// (Engine.CheckProcessID), or whose parent's children workflow would have an
// ID longer than the server accepts.
func (h *engineHost) CheckChildID(processID string) error {
	if h.revision < 2 {
		return h.e.CheckProcessID(processID) // its workflow starts its children itself
	}
	if err := h.e.checkIDLength(h.proc.ProcessID, "the ID of the children workflow that starts its children", len(workflows.ChildrenIDSuffix)); err != nil {
		return err
	}
	return h.e.CheckProcessID(processID)
}

// AdmitChild refuses a child while a launch block matches the process's
// metadata.
func (h *engineHost) AdmitChild(ctx context.Context, processID string) error {
	blocked, err := h.e.checkBlocks(ctx, h.proc.Metadata)
	if err != nil {
		return err
	}
	if blocked != nil {
		return fmt.Errorf("spawn child %q: %w: %w", processID, ReasonLaunchBlocked, blocked)
	}
	return nil
}

// RunChild asks this process's workflow to run the child and waits for it.
func (h *engineHost) RunChild(ctx context.Context, child bodyhost.Child[TaskFunc]) (bodyhost.Reply, error) {
	e := h.e
	e.reg.addChild(child.ProcessID, childEntry{
		execute:    child.Execute,
		params:     child.Params,
		onProgress: child.OnProgress,
	})
	// Progress reported before the child starts is logged before it, whose
	// "Spawned child" entry is written with its insert: for a launch's first
	// children. Past workflowdef.SpawnLogFrom of them the entries are
	// written apart, later, and a flush per child would only add a rewrite
	// of the parent's document (and its growing log) per child.
	if h.childRequests.Add(1) <= workflowdef.SpawnLogFrom {
		h.progress.Flush(context.WithoutCancel(ctx))
	}

	// The request outlives a cancel of this body: the child is cancelled
	// with it and RunChild returns once the child has ended.
	waitCtx := context.WithoutCancel(ctx)
	stop := context.AfterFunc(ctx, func() {
		// A cancel of this process reaches its child workflows through
		// Temporal anyway; a shutdown does not, so cancel them here. A body
		// cut short by the SDK (heartbeats failing) leaves its children
		// running: the re-run body attaches to them again.
		cause := context.Cause(ctx)
		if !errors.Is(cause, activities.ErrCancelRequested) && !errors.Is(cause, activities.ErrShutdown) {
			return
		}
		cctx, cancel := context.WithTimeout(waitCtx, 30*time.Second)
		defer cancel()
		if _, err := e.Cancel(cctx, child.ProcessID); err != nil {
			e.log.Debug("cancel child with parent", "child", child.ProcessID, "error", err)
		}
	})
	defer stop()
	// Watched before the child can start, so that its end is not missed.
	wfID := e.WorkflowID(child.ProcessID)
	watch := e.ends.watch(wfID)
	defer watch.close()
	reply, err := h.spawns().request(workflowdef.ChildRequest{
		ProcessID:   child.ProcessID,
		Name:        child.Name,
		Description: child.Description,
		Params:      child.Params,
		BodyQueue:   e.localQueue,
	}, child.SpecSize, child.Queued)
	if err == nil && !reply.Duplicate && !reply.Refused && reply.WorkflowID != "" && reply.State == "" {
		ends := watch.notices()
		if reply.WorkflowID != wfID {
			ends = nil // not the run watched: wait on Temporal alone
		}
		reply = e.awaitChild(waitCtx, reply.WorkflowID, reply.RunID, ends)
	}
	return bodyhost.Reply{State: reply.State, Error: reply.Error, Refused: reply.Refused, Duplicate: reply.Duplicate}, err
}

// CancelChild cancels a child as Engine.Cancel does.
func (h *engineHost) CancelChild(ctx context.Context, processID string) bool {
	out, err := h.e.Cancel(ctx, processID)
	if err != nil {
		h.e.log.Debug("cancel sibling", "child", processID, "error", err)
		return true
	}
	return out.OK || !errors.Is(out.Reason, ReasonNotFound)
}

// RefusedChild queues the refusal for the process's log, after the
// progress reported so far. The progress buffer writes it, with the other
// refusals and reports of its interval: a body that goes on spawning after
// a cancel makes one write per interval, not one per refused child (each a
// rewrite of the parent's document and its growing log on FerretDB), and
// nothing once its run has ended.
func (h *engineHost) RefusedChild(_ context.Context, name, processID string) {
	h.progress.Log(mirror.LevelEvent, docstore.MsgRefusedChild(name, processID))
}

// needWorkflow tells a body started inline that it is about to ask its
// workflow for children, which that workflow can answer only once the
// local activity holding its task open has let the body go.
func (h *engineHost) needWorkflow() {
	if h.body != nil {
		h.body.NeedWorkflow()
	}
}
