package activitydef

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"slices"
	"sync"
	"time"

	"go.mongodb.org/mongo-driver/v2/bson"
	"go.temporal.io/sdk/activity"

	"github.com/optio-temporal/optio/internal/docstore"
	"github.com/optio-temporal/optio/mirror"
)

// Locator tells the mirror activities where execute functions live.
type Locator interface {
	// Holds reports whether this engine holds the execute function of processID.
	Holds(processID string) bool
	// LocalQueue is this engine's worker-specific task queue.
	LocalQueue() string
	// Forget drops processID from this engine's registry (an ephemeral
	// process that is gone).
	Forget(processID string)
}

// Mirror implements the mirror-write activities. The process workflow runs
// them as local activities.
type Mirror struct {
	Store   *docstore.Store
	Locator Locator
	Logger  *slog.Logger
	// BodyHere reports whether a body of the given workflow run runs (or
	// waits to be taken over) on this worker (Bodies.Has); StartRun uses it
	// to tell a lost first workflow task from its retry here. Nil: never.
	BodyHere func(workflowID, runID string) bool

	// parents holds the parent documents of the launches this worker
	// inserts children for (CreateChildrenInput.Launch).
	parents parentCache
}

// parentFor returns the parent document children are inserted under: read
// (and marked as a parent) once per launch, since its fields that children
// take (root, depth, metadata, session) do not change within a launch, while
// its log grows with every child.
func (m *Mirror) parentFor(ctx context.Context, id bson.ObjectID, launch string) (*mirror.Process, error) {
	key := id.Hex() + "/" + launch
	if launch != "" {
		if p := m.parents.get(key); p != nil {
			return p, nil
		}
	}
	p, err := m.Store.ParentForChildren(ctx, id)
	if err == nil {
		err = m.Store.MarkParent(ctx, id)
	}
	if err != nil {
		return nil, err
	}
	if launch != "" {
		m.parents.put(key, p)
	}
	return p, nil
}

// parentCache maps a launch to its parent's document, read and marked as a
// parent; it forgets everything when full (a re-read costs two commands).
type parentCache struct {
	mu   sync.Mutex
	docs map[string]*mirror.Process
}

const parentCacheSize = 1024

func (c *parentCache) get(key string) *mirror.Process {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.docs[key]
}

func (c *parentCache) put(key string, p *mirror.Process) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.docs == nil || len(c.docs) >= parentCacheSize {
		c.docs = make(map[string]*mirror.Process)
	}
	c.docs[key] = p
}

func parseDocID(s string) (bson.ObjectID, error) {
	id, err := bson.ObjectIDFromHex(s)
	if err != nil {
		return id, fmt.Errorf("bad process document id %q: %w", s, err)
	}
	return id, nil
}

// StartRun moves the process from scheduled to running. A retry after a write
// that already landed finds the run started and reports it as such.
func (m *Mirror) StartRun(ctx context.Context, in StartRunInput) (StartRunResult, error) {
	id, err := parseDocID(in.DocID)
	if err != nil {
		return StartRunResult{}, err
	}
	lost := false
	p, err := m.Store.StartClaimed(ctx, id, in.ClaimStamp)
	var conflict *mirror.ConflictError
	switch {
	case err == nil:
	case errors.As(err, &conflict):
		if conflict.Current != mirror.Running {
			return StartRunResult{State: conflict.Current}, nil
		}
		if p, err = m.Store.Get(ctx, id); err != nil {
			return StartRunResult{}, err
		}
		if in.ClaimStamp != "" && docstore.ClaimStamp(p) != in.ClaimStamp {
			// Running for a later launch.
			return StartRunResult{State: p.Status.State}, nil
		}
		if in.ReportLost && activity.IsActivity(ctx) {
			// This launch's run started it already, in a workflow task
			// that never completed: here (retried), or on a worker that was
			// lost, with its body.
			run := activity.GetInfo(ctx).WorkflowExecution
			lost = m.BodyHere == nil || !m.BodyHere(run.ID, run.RunID)
		}
	default:
		return StartRunResult{}, err
	}
	res := StartRunResult{Started: true, State: p.Status.State, Metadata: p.Metadata, Cancellable: p.Cancellable, Lost: lost}
	if p.Status.RunningSince != nil {
		res.RunningSince = *p.Status.RunningSince
	}
	if in.Claim != nil {
		res.Claim, _ = m.ClaimBody(ctx, *in.Claim)
	}
	return res, nil
}

// ClaimBody picks the task queue for a body: this worker's own queue when this
// engine holds the execute function (and is not shutting down), else the hint
// queue, unless the worker behind it was lost during this run.
func (m *Mirror) ClaimBody(_ context.Context, in ClaimBodyInput) (ClaimBodyResult, error) {
	// This engine runs the claim, so it is alive: its own queue is fine even
	// when a heartbeat from it timed out (a loaded machine, not a lost
	// worker), as long as it holds the function.
	if m.Locator.Holds(in.ProcessID) {
		return ClaimBodyResult{Queue: m.Locator.LocalQueue(), Local: true}, nil
	}
	if in.HintQueue != "" && !slices.Contains(in.LostQueues, in.HintQueue) {
		return ClaimBodyResult{Queue: in.HintQueue}, nil
	}
	return ClaimBodyResult{}, nil
}

// EndWritten reports whether the run a body belongs to has its end in its
// document already: done (only the run's own terminal write puts a running
// process there), or the document gone (an ephemeral process's end deletes
// it).
func (m *Mirror) EndWritten(ctx context.Context, docID string) (bool, error) {
	id, err := parseDocID(docID)
	if err != nil {
		return false, err
	}
	p, err := m.Store.Get(ctx, id)
	if errors.Is(err, mirror.ErrNotFound) {
		return true, nil
	}
	if err != nil {
		return false, err
	}
	return p.Status.State == mirror.Done, nil
}

// RequestCancel records a cancel on the document: running moves to
// cancel_requested (a cancel from the Temporal side), then cancel_requested to
// cancelling (the workflow is delivering it to the body). States already past
// those steps are left alone.
func (m *Mirror) RequestCancel(ctx context.Context, in DocInput) (mirror.State, error) {
	id, err := parseDocID(in.DocID)
	if err != nil {
		return "", err
	}
	if _, err := m.Store.RequestCancel(ctx, id); err != nil && !errors.Is(err, mirror.ErrConflict) {
		return "", err
	}
	p, err := m.Store.AckCancel(ctx, id)
	var conflict *mirror.ConflictError
	if errors.As(err, &conflict) {
		return conflict.Current, nil
	}
	if err != nil {
		return "", err
	}
	return p.Status.State, nil
}

// CancelScheduled moves a process whose body never started to cancelled.
func (m *Mirror) CancelScheduled(ctx context.Context, in DocInput) (mirror.State, error) {
	id, err := parseDocID(in.DocID)
	if err != nil {
		return "", err
	}
	p, err := m.Store.CancelScheduledClaimed(ctx, id, in.ClaimStamp)
	var conflict *mirror.ConflictError
	if errors.As(err, &conflict) {
		return conflict.Current, nil
	}
	if err != nil {
		return "", err
	}
	if p.Ephemeral {
		if _, err := m.Store.DeleteTree(ctx, id); err != nil {
			return "", err
		}
		m.Locator.Forget(p.ProcessID)
	}
	return p.Status.State, nil
}

// Finish writes the terminal state of a run and deletes the process if it is
// ephemeral. A body that completed while a cancel was being recorded ends
// cancelled, as in optio-core (the flag was set when it returned).
func (m *Mirror) Finish(ctx context.Context, in FinishInput) (FinishResult, error) {
	id, err := parseDocID(in.DocID)
	if err != nil {
		return FinishResult{}, err
	}
	var p *mirror.Process
	switch in.Outcome {
	case OutcomeDone:
		p, err = m.Store.Complete(ctx, id, in.RunningSince)
		var conflict *mirror.ConflictError
		if errors.As(err, &conflict) && (conflict.Current == mirror.CancelRequested || conflict.Current == mirror.Cancelling) {
			p, err = m.Store.Cancelled(ctx, id)
		}
	case OutcomeCancelled:
		p, err = m.Store.Cancelled(ctx, id)
	case OutcomeFailed:
		if in.Unlogged {
			p, err = m.Store.FailUnlogged(ctx, id, in.Error)
		} else {
			p, err = m.Store.Fail(ctx, id, in.Error, m.stamp(in.Log)...)
		}
	default:
		return FinishResult{}, fmt.Errorf("unknown outcome %q", in.Outcome)
	}
	var conflict *mirror.ConflictError
	switch {
	case errors.As(err, &conflict):
		// Already terminal (a retried write that landed, or the reconciler got
		// there first), or gone: nothing more to write.
		if conflict.Current == "" {
			return FinishResult{Deleted: true}, nil
		}
		m.Logger.Debug("terminal write skipped", "process", in.ProcessID, "want", in.Outcome, "state", conflict.Current)
		if p, err = m.Store.Get(ctx, id); err != nil {
			return FinishResult{}, err
		}
	case err != nil:
		return FinishResult{}, err
	}
	res := FinishResult{State: p.Status.State, Final: p}
	if p.Ephemeral && p.Status.State.End() {
		if _, err := m.Store.DeleteTree(ctx, id); err != nil {
			return res, err
		}
		m.Locator.Forget(p.ProcessID)
		res.Deleted, res.Final = true, nil
	}
	if in.ReturnDoc && !res.Deleted {
		if b, err := bson.Marshal(p); err == nil && len(b) <= MaxReturnedDoc {
			res.Doc = b
		}
	}
	return res, nil
}

// AppendLog appends entries to a process's log.
func (m *Mirror) AppendLog(ctx context.Context, in AppendLogInput) error {
	id, err := parseDocID(in.DocID)
	if err != nil {
		return err
	}
	if err := m.Store.AppendLog(ctx, id, m.stamp(in.Log)...); err != nil {
		return err
	}
	return m.Store.AppendLogOnce(ctx, id, in.Stamped...)
}

func (m *Mirror) stamp(lines []LogLine) []mirror.LogEntry {
	now := m.Store.Now()
	out := make([]mirror.LogEntry, len(lines))
	for i, l := range lines {
		out[i] = mirror.NewLogEntry(now, l.Level, l.Message)
	}
	return out
}

// CreateChildren inserts child documents (state scheduled) under their
// parent, inheriting its metadata, and logs "Spawned child: {name}" on the
// parent for each (or returns those entries, with DeferLog). A processId
// taken by another process is reported as a Duplicate and uses no order
// number. A retry after a partial insert finds its own earlier inserts
// (same parent) and keeps them.
func (m *Mirror) CreateChildren(ctx context.Context, in CreateChildrenInput) (CreateChildrenResult, error) {
	pid, err := parseDocID(in.ParentDocID)
	if err != nil {
		return CreateChildrenResult{}, err
	}
	parent, err := m.parentFor(ctx, pid, in.Launch)
	if err != nil {
		return CreateChildrenResult{}, err
	}
	res := CreateChildrenResult{Children: make([]CreatedChild, len(in.Children))}
	cs := make([]docstore.Child, len(in.Children))
	for i, c := range in.Children {
		cs[i] = docstore.Child{
			ProcessID:   c.ProcessID,
			Name:        c.Name,
			Description: c.Description,
			Params:      c.Params,
			Metadata:    parent.Metadata,
			State:       mirror.Scheduled,
		}
	}
	docs, err := m.Store.InsertMarkedChildren(ctx, parent, in.FirstOrder, cs)
	if err != nil {
		return res, err
	}
	var spawned []LogLine
	// isRecovered[k] says whether spawned[k] is the entry of a child an
	// earlier call inserted; since is the first of their inserts.
	var isRecovered []bool
	var since time.Time
	for i, c := range docs {
		switch {
		case c.Doc == nil, c.Known && !in.Known:
			res.Children[i] = CreatedChild{Duplicate: true}
		case c.Known:
			res.Children[i] = CreatedChild{DocID: c.Doc.ID.Hex(), Order: c.Doc.Order, Known: true, State: c.Doc.Status.State, Error: derefString(c.Doc.Status.Error)}
		default:
			res.Children[i] = CreatedChild{DocID: c.Doc.ID.Hex(), Order: c.Doc.Order}
			if c.Recovered && (since.IsZero() || c.Doc.CreatedAt.Before(since)) {
				since = c.Doc.CreatedAt
			}
			isRecovered = append(isRecovered, c.Recovered)
			spawned = append(spawned, LogLine{Level: mirror.LevelEvent, Message: docstore.MsgSpawnedChild(in.Children[i].Name)})
		}
	}
	if !since.IsZero() {
		if spawned, err = m.unlogged(ctx, pid, spawned, isRecovered, since); err != nil {
			return res, err
		}
	}
	if in.DeferLog {
		res.Log = m.stamp(spawned)
		return res, nil
	}
	if err := m.Store.AppendLog(ctx, pid, m.stamp(spawned)...); err != nil {
		return res, err
	}
	return res, nil
}

// unlogged drops from spawned the entries of recovered children (those
// isRecovered marks) that the call which inserted them already wrote on the
// parent pid: its log entries from since, the first of those inserts, on,
// matched by message. A call interrupted between its inserts and its log write wrote
// none, and a retry after its log write landed, or a children workflow
// reset to before a request (the server gives the new run the request
// again), finds them all; without the check the parent's log would say
// "Spawned child" twice for one child. Entries the log's cap has dropped
// since are written again.
func (m *Mirror) unlogged(ctx context.Context, pid bson.ObjectID, spawned []LogLine, isRecovered []bool, since time.Time) ([]LogLine, error) {
	parent, err := m.Store.Get(ctx, pid)
	if err != nil {
		return nil, err
	}
	since = since.Truncate(time.Millisecond) // as Mongo stores it
	written := map[string]int{}
	for _, e := range parent.Log {
		if at, err := time.Parse(time.RFC3339Nano, e.Timestamp); err == nil && !at.Before(since) {
			written[e.Message]++
		}
	}
	out := spawned[:0:0]
	for k, l := range spawned {
		if isRecovered[k] && written[l.Message] > 0 {
			written[l.Message]--
			continue
		}
		out = append(out, l)
	}
	return out, nil
}

func derefString(s *string) string {
	if s == nil {
		return ""
	}
	return *s
}
