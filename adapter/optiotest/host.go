package optiotest

import (
	"context"
	"encoding/json"
	"sync"

	"github.com/optio-temporal/optio/activities"
	"github.com/optio-temporal/optio/adapter"
	"github.com/optio-temporal/optio/adapter/internal/bodyhost"
	"github.com/optio-temporal/optio/internal/docstore"
	"github.com/optio-temporal/optio/mirror"
)

// tree is what the hosts of one Run share.
type tree struct {
	opts Options
	// hookMu makes the cancel hooks see one report at a time.
	hookMu sync.Mutex
	root   *host

	mu  sync.Mutex
	ids map[string]bool // the process IDs taken in the tree
}

// claim takes a process ID and reports whether it was free.
func (t *tree) claim(processID string) bool {
	t.mu.Lock()
	defer t.mu.Unlock()
	if t.ids[processID] {
		return false
	}
	t.ids[processID] = true
	return true
}

// host runs one body of the tree and records what it does in res.
type host struct {
	tree *tree
	// ctx is the body's context; cancel cancels the process.
	ctx    context.Context
	cancel context.CancelCauseFunc
	proc   bodyhost.Process
	saved  bodyhost.Saved
	// onProgress is the parent's tracker (children only).
	onProgress func(percent *float64, message *string)

	mu  sync.Mutex
	res *Result
	// closed is set once the body has returned: spawns are refused.
	closed  bool
	running map[string]*host
	wg      sync.WaitGroup
}

var _ bodyhost.Host[adapter.TaskFunc] = (*host)(nil)

// newRoot makes the host of the process under test. Its context is not
// ctx but is cancelled with it, as a cancel request cancels a body (so that
// its Err is context.Canceled whatever ends ctx).
func (t *tree) newRoot(ctx context.Context, saved bodyhost.Saved) *host {
	o := t.opts
	h := t.newHost(context.WithoutCancel(ctx), bodyhost.Process{
		ProcessID: o.ProcessID,
		Params:    orEmpty(o.Params),
		Metadata:  orEmpty(o.Metadata),
		Services:  o.Services,
	}, "")
	h.saved = saved
	if saved.Latest != nil {
		h.res.Checkpoint = saved.Latest.Data
		h.res.HasSavedState = true
	}
	t.root = h
	return h
}

func (t *tree) newHost(parent context.Context, proc bodyhost.Process, name string) *host {
	ctx, cancel := context.WithCancelCause(parent)
	return &host{
		tree:    t,
		ctx:     ctx,
		cancel:  cancel,
		proc:    proc,
		res:     &Result{ProcessID: proc.ProcessID, Name: name, Params: proc.Params},
		running: map[string]*host{},
	}
}

func orEmpty(m map[string]any) map[string]any {
	if m == nil {
		return map[string]any{}
	}
	return m
}

// cancelProcess cancels the process as a cancel request does.
func (h *host) cancelProcess() { h.cancel(activities.ErrCancelRequested) }

func (h *host) isRoot() bool { return h == h.tree.root }

// execute runs the body, then, as the engine's workflow does, cancels the
// children still running if it failed and waits for them all.
func (h *host) execute(fn adapter.TaskFunc) *Result {
	state, err := adapter.RunHosted(h.ctx, h, fn)
	h.mu.Lock()
	h.closed = true
	var running []*host
	for _, c := range h.running {
		running = append(running, c)
	}
	h.mu.Unlock()
	if state == adapter.StateFailed {
		for _, c := range running {
			c.cancelProcess()
		}
	}
	h.wg.Wait()
	h.cancel(nil)
	h.res.State, h.res.Err = state, err
	return h.res
}

func (h *host) Process() bodyhost.Process { return h.proc }

func (h *host) Report(percent *float64, message *string) {
	r := Report{Percent: adapter.Indeterminate}
	if percent != nil {
		r.Percent = *percent
	}
	if message != nil {
		r.Message = *message
	}
	h.mu.Lock()
	h.res.Progress = append(h.res.Progress, r)
	if r.Message != "" {
		h.res.Log = append(h.res.Log, LogEntry{Level: LevelInfo, Message: r.Message})
	}
	h.mu.Unlock()
	h.tree.sawReport(h, r)
	if h.onProgress != nil {
		h.onProgress(percent, message)
	}
}

// sawReport runs the cancel hooks on a report.
func (t *tree) sawReport(h *host, r Report) {
	o := t.opts
	if o.CancelWhen == nil && o.CancelChildWhen == nil {
		return
	}
	t.hookMu.Lock()
	defer t.hookMu.Unlock()
	if o.CancelWhen != nil && o.CancelWhen(h.proc.ProcessID, r) {
		t.root.cancelProcess()
	}
	if o.CancelChildWhen != nil && !h.isRoot() && o.CancelChildWhen(h.proc.ProcessID, r) {
		h.cancelProcess()
	}
}

func (h *host) SetEphemeral(context.Context) error {
	h.mu.Lock()
	defer h.mu.Unlock()
	h.res.Ephemeral = true
	return nil
}

func (h *host) LoadCheckpoint(context.Context) (bodyhost.Saved, error) { return h.saved, nil }

func (h *host) CheckpointWriter(func() *mirror.Checkpoint) bodyhost.CheckpointWriter {
	return checkpoints{h}
}

func (h *host) SetHasSavedState(context.Context) error {
	h.mu.Lock()
	defer h.mu.Unlock()
	h.res.HasSavedState = h.isRoot()
	return nil
}

func (h *host) ClearSavedState(context.Context) error {
	h.mu.Lock()
	defer h.mu.Unlock()
	h.res.HasSavedState = false
	h.res.Checkpoint = nil
	return nil
}

// CheckChildID accepts every processId: the kit starts no workflows, and
// knows no server's limit on their IDs.
func (h *host) CheckChildID(string) error { return nil }

// AdmitChild admits every child: the kit has no launch blocks.
func (h *host) AdmitChild(context.Context, string) error { return nil }

// RunChild runs the child in process, on a host of its own whose context
// is the parent's (a cancel of the parent reaches it).
func (h *host) RunChild(_ context.Context, child bodyhost.Child[adapter.TaskFunc]) (bodyhost.Reply, error) {
	h.mu.Lock()
	if h.closed || h.ctx.Err() != nil {
		h.mu.Unlock()
		return bodyhost.Reply{Refused: true}, nil
	}
	if !h.tree.claim(child.ProcessID) {
		h.mu.Unlock()
		return bodyhost.Reply{Duplicate: true}, nil
	}
	c := h.tree.newHost(h.ctx, bodyhost.Process{
		ProcessID: child.ProcessID,
		Params:    orEmpty(child.Params),
		Metadata:  h.proc.Metadata,
		Services:  h.proc.Services,
	}, child.Name)
	c.onProgress = child.OnProgress
	h.running[child.ProcessID] = c
	h.res.Children = append(h.res.Children, c.res)
	h.res.Log = append(h.res.Log, LogEntry{Level: LevelEvent, Message: docstore.MsgSpawnedChild(child.Name)})
	h.wg.Add(1)
	h.mu.Unlock()
	defer h.wg.Done()
	if child.Queued != nil {
		child.Queued()
	}

	res := c.execute(child.Execute)
	h.mu.Lock()
	delete(h.running, child.ProcessID)
	h.mu.Unlock()
	reply := bodyhost.Reply{State: res.State}
	if res.State == adapter.StateFailed {
		reply.Error = res.Err.Error()
	}
	return reply, nil
}

func (h *host) CancelChild(_ context.Context, processID string) bool {
	h.mu.Lock()
	c := h.running[processID]
	h.mu.Unlock()
	if c != nil {
		c.cancelProcess()
	}
	return c != nil
}

func (h *host) RefusedChild(_ context.Context, name, processID string) {
	h.mu.Lock()
	defer h.mu.Unlock()
	h.res.Log = append(h.res.Log, LogEntry{Level: LevelEvent, Message: docstore.MsgRefusedChild(name, processID)})
}

// checkpoints records a body's checkpoints in its Result.
type checkpoints struct{ h *host }

func (w checkpoints) Save(cp mirror.Checkpoint) {
	h := w.h
	h.mu.Lock()
	defer h.mu.Unlock()
	h.res.Checkpoint = json.RawMessage(cp.Data)
	h.res.HasSavedState = h.isRoot()
}

func (checkpoints) Flush(context.Context) error { return nil }
func (checkpoints) Forget()                     {}
func (checkpoints) Close(context.Context) error { return nil }
