package adapter

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"sync"
	"time"

	"github.com/optio-temporal/optio/adapter/internal/bodyhost"
	"github.com/optio-temporal/optio/mirror"
)

// RunKind says how a run of a body began: afresh, again after its worker was
// lost, or as the resume of an earlier run.
type RunKind int

const (
	// FreshRun is a launch without resume (or a resume of a process with
	// no saved state, which optio downgrades to a fresh launch). No
	// checkpoint is loaded: a fresh launch deletes the previous one.
	FreshRun RunKind = iota
	// RerunAfterLostWorker is the same launch run again because the worker
	// running the body was lost (killed, cut off from Temporal): the body
	// reads the last checkpoint it saved before.
	RerunAfterLostWorker
	// ResumedRun is a launch with resume (WithResume, RPC launch {resume:
	// true}, or an automatic resume after an engine restart): the body
	// reads the checkpoint of the run it continues.
	ResumedRun
)

// String names the kind: "fresh", "re-run after a lost worker", "resumed".
func (k RunKind) String() string {
	switch k {
	case FreshRun:
		return "fresh"
	case RerunAfterLostWorker:
		return "re-run after a lost worker"
	case ResumedRun:
		return "resumed"
	}
	return fmt.Sprintf("RunKind(%d)", int(k))
}

// MaxCheckpointSize is the largest checkpoint SaveCheckpoint accepts, as
// JSON: a checkpoint is a position to continue from (an index, a cursor, a
// few counters), not the work's data.
const MaxCheckpointSize = 64 << 10

// ErrCheckpointTooLarge is returned by SaveCheckpoint for a value whose
// JSON is larger than MaxCheckpointSize. It matches ErrInvalidInput.
var ErrCheckpointTooLarge = fmt.Errorf("%w: checkpoint larger than %d bytes", ErrInvalidInput, MaxCheckpointSize)

// checkpoints is a ProcessContext's checkpoint state, set up on first use.
type checkpoints struct {
	kind    RunKind
	loadErr error

	mu     sync.Mutex
	latest *mirror.Checkpoint
	seq    int64
	buf    bodyhost.CheckpointWriter
}

// checkpointState returns the checkpoint state, asking the host for the
// saved checkpoint the first time (the engine reads Mongo and, for a
// re-run, the workflow's history): only bodies that use checkpoints pay
// for it.
func (c *ProcessContext) checkpointState() *checkpoints {
	c.cpOnce.Do(func() {
		st := &c.cp
		ctx, cancel := context.WithTimeout(context.WithoutCancel(c.ctx), 30*time.Second)
		defer cancel()
		saved, err := c.host.LoadCheckpoint(ctx)
		switch {
		case saved.Rerun:
			st.kind = RerunAfterLostWorker
		case saved.Resumed:
			st.kind = ResumedRun
		}
		if err != nil {
			st.loadErr = err
			return
		}
		st.latest, st.seq = saved.Latest, saved.Seq
	})
	return &c.cp
}

// seqOf is a checkpoint's number for logs, 0 for none.
func seqOf(cp *mirror.Checkpoint) int64 {
	if cp == nil {
		return 0
	}
	return cp.Seq
}

// RunKind says whether this run is fresh, a re-run after a lost worker, or
// the resume of an earlier run. The first call of RunKind, LoadCheckpoint
// or SaveCheckpoint reads the saved checkpoint; if that read fails, RunKind
// still tells a re-run from a first run, and LoadCheckpoint returns the
// error.
func (c *ProcessContext) RunKind() RunKind { return c.checkpointState().kind }

// SaveCheckpoint records v, encoded as JSON, as the point this process
// continues from when its body runs again: after a lost worker (whichever
// worker runs it), or when the process is resumed later (a cancelled or
// failed process can be). It is cheap enough to call for every item: it
// encodes v and returns; the latest checkpoint rides on the body's next
// heartbeat and is written to Mongo at most once per
// Config.ProgressFlushInterval (with a final write when the body returns),
// never as a Temporal history event. A checkpoint is therefore durable
// within about a flush interval; call FlushCheckpoint when the next step
// must not start before it is.
//
// The first checkpoint written marks the document's hasSavedState (on a
// top-level process). The checkpoint outlives the run and is deleted with
// the process, by a fresh launch, or by ClearHasSavedState. A value that
// cannot be encoded, or whose JSON is over MaxCheckpointSize, is refused
// with an error matching ErrInvalidInput, and the previous checkpoint
// stays.
func (c *ProcessContext) SaveCheckpoint(v any) error {
	data, err := json.Marshal(v)
	if err != nil {
		return fmt.Errorf("%w: checkpoint of %q: %v", ErrInvalidInput, c.processID, err)
	}
	if len(data) > MaxCheckpointSize {
		return fmt.Errorf("checkpoint of %q (%d bytes): %w", c.processID, len(data), ErrCheckpointTooLarge)
	}
	st := c.checkpointState()
	st.mu.Lock()
	defer st.mu.Unlock()
	if st.buf == nil {
		st.buf = c.host.CheckpointWriter(st.current)
	}
	st.seq++
	cp := mirror.Checkpoint{Seq: st.seq, Data: data}
	st.latest = &cp
	st.buf.Save(cp)
	return nil
}

// current is the heartbeat's checkpoint source.
func (st *checkpoints) current() *mirror.Checkpoint {
	st.mu.Lock()
	defer st.mu.Unlock()
	return st.latest
}

// LoadCheckpoint decodes the last checkpoint into v (as json.Unmarshal
// does) and reports whether there was one: the last one this run saved,
// else, for a re-run or a resumed run, the last one saved before it. A
// fresh run starts with none.
func (c *ProcessContext) LoadCheckpoint(v any) (bool, error) {
	st := c.checkpointState()
	if st.loadErr != nil {
		return false, st.loadErr
	}
	cp := st.current()
	if cp == nil {
		return false, nil
	}
	if err := json.Unmarshal(cp.Data, v); err != nil {
		return false, fmt.Errorf("%w: decode checkpoint of %q: %v", ErrInvalidInput, c.processID, err)
	}
	return true, nil
}

// FlushCheckpoint writes the latest checkpoint to Mongo now and returns once
// it is there (or the write failed).
func (c *ProcessContext) FlushCheckpoint() error {
	st := c.checkpointState()
	st.mu.Lock()
	buf := st.buf
	st.mu.Unlock()
	if buf == nil {
		return nil
	}
	ctx, cancel := context.WithTimeout(context.WithoutCancel(c.ctx), 30*time.Second)
	defer cancel()
	return buf.Flush(ctx)
}

// MarkHasSavedState sets the document's hasSavedState, for a body that keeps
// its state somewhere of its own rather than in checkpoints: a resume is
// then a resume (RunKind ResumedRun) rather than a fresh launch. Saving a
// checkpoint marks it already. Child processes have no such field; for them
// it does nothing.
func (c *ProcessContext) MarkHasSavedState() error {
	ctx, cancel := context.WithTimeout(context.WithoutCancel(c.ctx), 30*time.Second)
	defer cancel()
	return c.host.SetHasSavedState(ctx)
}

// ClearHasSavedState clears the document's hasSavedState and deletes the
// saved checkpoint, for a body that has nothing left to resume (typically
// at the very end of its work): a later resume starts afresh.
func (c *ProcessContext) ClearHasSavedState() error {
	st := c.checkpointState()
	st.mu.Lock()
	st.latest = nil
	buf := st.buf
	st.mu.Unlock()
	if buf != nil {
		buf.Forget() // waits for a write in flight, which the delete follows
	}
	ctx, cancel := context.WithTimeout(context.WithoutCancel(c.ctx), 30*time.Second)
	defer cancel()
	return c.host.ClearSavedState(ctx)
}

// closeCheckpoints makes the final checkpoint write when the body returns.
func (c *ProcessContext) closeCheckpoints(ctx context.Context) error {
	st := &c.cp
	st.mu.Lock()
	buf := st.buf
	st.mu.Unlock()
	if buf == nil {
		return nil
	}
	if err := buf.Close(ctx); err != nil && !errors.Is(err, context.Canceled) {
		return err
	}
	return nil
}
