package adapter

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"sync"
	"time"

	"github.com/google/uuid"
	enumspb "go.temporal.io/api/enums/v1"
	"go.temporal.io/api/serviceerror"
	"go.temporal.io/sdk/client"

	"github.com/optio-temporal/optio/adapter/internal/bodyhost"
	"github.com/optio-temporal/optio/internal/textclip"
	"github.com/optio-temporal/optio/internal/workflowdef"
	"github.com/optio-temporal/optio/mirror"
	"github.com/optio-temporal/optio/workflows"
)

// ChildSpec describes a child process for RunChild and ParallelGroup.Spawn.
type ChildSpec struct {
	// Execute is the child's body. Required.
	Execute TaskFunc
	// ProcessID must be unique among all processes; a run of a body that
	// asks for a child of one processId again once it has its end gets
	// ErrInvalidInput. Required.
	ProcessID string
	// Name is the display name. Required.
	Name string
	// Description is optional.
	Description string
	// Params reach the child as ProcessContext.Params.
	Params map[string]any
	// SurviveFailure makes RunChild return a failed child's state without an
	// error. Ignored by Spawn (the group's options decide).
	SurviveFailure bool
	// SurviveCancel likewise for a cancelled child.
	SurviveCancel bool
	// OnChildProgress, when set, becomes the parent's child-progress callback
	// (replacing any earlier one). Ignored by Spawn.
	OnChildProgress func([]ChildProgressInfo)
}

// MaxChildSpecSize is the most a child's ProcessID, Name, Description and
// Params (as JSON) may take together. They reach the children workflow in
// a workflow update, with other children's, and Temporal caps a payload (2
// MB by default): a child's work data belongs in Mongo or a store of its
// own, with a reference to it in Params.
const MaxChildSpecSize = 256 << 10

// maxSpawnBatchBytes bounds the specs that go in one update, as
// specSize counts them (Temporal warns of payloads past 512 KB).
const maxSpawnBatchBytes = 512 << 10

// validate checks a spec on its own and returns its specSize.
func (s ChildSpec) validate() (int, error) {
	switch {
	case s.Execute == nil:
		return 0, fmt.Errorf("%w: child %q: Execute must not be nil", ErrInvalidInput, textclip.Clip(s.ProcessID, 64))
	case s.ProcessID == "":
		return 0, fmt.Errorf("%w: child %q: ProcessID must not be empty", ErrInvalidInput, textclip.Clip(s.Name, 64))
	case s.Name == "":
		return 0, fmt.Errorf("%w: child %q: Name must not be empty", ErrInvalidInput, textclip.Clip(s.ProcessID, 64))
	}
	n, err := specSize(s.ProcessID, s.Name, s.Description, s.Params)
	if err != nil {
		return 0, fmt.Errorf("%w: child %q: Params cannot be encoded as JSON: %v", ErrInvalidInput, textclip.Clip(s.ProcessID, 64), err)
	}
	if n > MaxChildSpecSize {
		return 0, fmt.Errorf("%w: child %q: its ProcessID, Name, Description and Params take %d bytes, more than MaxChildSpecSize (%d)",
			ErrInvalidInput, textclip.Clip(s.ProcessID, 64), n, MaxChildSpecSize)
	}
	return n, nil
}

// specSize is about what a child's request takes in an update's payload.
func specSize(processID, name, description string, params map[string]any) (int, error) {
	b, err := json.Marshal(params)
	return len(processID) + len(name) + len(description) + len(b), err
}

// checkChild refuses a spec this process cannot run as a child, before
// anything is written (RunChild, Spawn; verb names the call in the error),
// and returns its specSize.
func (c *ProcessContext) checkChild(spec ChildSpec, verb string) (int, error) {
	size, err := spec.validate()
	if err != nil {
		return 0, err
	}
	if err := c.host.CheckChildID(spec.ProcessID); err != nil {
		return 0, fmt.Errorf("%s: %w", verb, err)
	}
	return size, nil
}

// checkChildNotEnded refuses a child of processID when this run of the body
// has already been answered with the end of one (its tracker holds that
// end): asked again, it would be answered with that recorded end without
// running (the durable-children rule, meant for a body re-run after a lost
// worker, whose new run asks afresh), where optio-core's second insert
// fails on the unique processId. A child still running may be asked for
// again, and is waited for.
func (c *ProcessContext) checkChildNotEnded(processID, verb string) error {
	if c.tracker().ended(processID) {
		return fmt.Errorf("%w: %s: child process id %q has already run in this run of the body", ErrInvalidInput, verb, processID)
	}
	return nil
}

// ErrParentCancelled is returned (wrapped) when a child is refused because its
// parent was already cancelled; no document is created. It matches
// context.Canceled: a body that returns it ends cancelled.
var ErrParentCancelled error = cancellation("parent already cancelled")

// ErrBodyReturned is returned (wrapped) by RunChild and ParallelGroup.Spawn
// when a goroutine asks for a child after its process's body has returned
// and the children it started have ended: the process is ending, so no
// document is created.
var ErrBodyReturned = errors.New("the parent's body has already returned")

// ErrChildrenWorkflowClosed is returned (wrapped) by RunChild when the
// process's children workflow ("{workflow ID}#children") was ended from the
// Temporal side while the body runs (terminated or deleted in the Web UI,
// say): the run can start no more children, and a ParallelGroup child asked
// for then ends failed with its text. The children it started run on, and
// the body may still wait for them; one it asks for again (as a body re-run
// after a lost worker does) is not refused but waited for.
var ErrChildrenWorkflowClosed = errors.New("children workflow closed")

// ChildError reports a child that ended failed or cancelled where the parent
// did not choose to survive it. Inspect it with errors.As. A cancelled child's
// error also matches context.Canceled, so a parent that returns it while
// being cancelled itself ends cancelled.
type ChildError struct {
	// ProcessID is the child's processId.
	ProcessID string
	// Name is the child's display name.
	Name string
	// State is failed or cancelled.
	State State
	// Err is the child's status.error (for a failed child).
	Err string
}

// Error describes the child's end in optio-core's wording.
func (e *ChildError) Error() string {
	if e.State == StateCancelled {
		return fmt.Sprintf("Child '%s' (process_id=%s) was cancelled", e.Name, e.ProcessID)
	}
	return fmt.Sprintf("Child '%s' (process_id=%s) failed: %s", e.Name, e.ProcessID, e.Err)
}

// Unwrap returns context.Canceled for a cancelled child.
func (e *ChildError) Unwrap() error {
	if e.State == StateCancelled {
		return context.Canceled
	}
	return nil
}

// ChildResult is the outcome of one child of a ParallelGroup.
type ChildResult struct {
	// ProcessID is the child's processId.
	ProcessID string
	// Name is the child's display name.
	Name string
	// State is done, failed or cancelled.
	State State
	// Error is the child's error text when it did not end done.
	Error string
}

// ChildProgressInfo is one child's entry in the list passed to an
// on-child-progress callback.
type ChildProgressInfo struct {
	// ProcessID is the child's processId.
	ProcessID string
	// Name is the child's display name.
	Name string
	// State is scheduled, running, done, failed or cancelled.
	State State
	// Percent is nil when unknown or indeterminate.
	Percent *float64
	// Message is the child's latest progress message, if any.
	Message *string
}

// RunChild runs a child process to its end and returns its final state. The
// child is a child workflow of this process's workflow (nested under it in the
// Temporal Web UI) with its own document (parentId, rootId, depth, order,
// the parent's metadata). Its body runs in this process, so Execute may be any
// Go func value. A failed child returns a *ChildError unless SurviveFailure;
// a cancelled one unless SurviveCancel. When this process is cancelled, the
// child is cancelled too and RunChild returns once it has ended. A body
// re-run after a lost worker gets the recorded result of children that
// already ended in this launch, without running them again. A body that
// returns nil while goroutines of its own are still in RunChild ends only
// after those children (see ParallelGroup for the same rule on groups).
func (c *ProcessContext) RunChild(spec ChildSpec) (State, error) {
	size, err := c.checkChild(spec, "run child")
	if err != nil {
		return "", err
	}
	if err := c.checkChildNotEnded(spec.ProcessID, "run child"); err != nil {
		return "", err
	}
	if spec.OnChildProgress != nil {
		c.tracker().setCallback(spec.OnChildProgress)
	}
	reply, err := c.runChild(spec, size, nil)
	if err != nil {
		return "", err
	}
	return reply.State, childErr(spec, reply, spec.SurviveFailure, spec.SurviveCancel)
}

func childErr(spec ChildSpec, reply bodyhost.Reply, surviveFailure, surviveCancel bool) error {
	switch {
	case reply.State == StateFailed && !surviveFailure,
		reply.State == StateCancelled && !surviveCancel:
		return &ChildError{ProcessID: spec.ProcessID, Name: spec.Name, State: reply.State, Err: reply.Error}
	}
	return nil
}

// runChild asks the host to run the child, whose spec takes size bytes
// (checkChild), and waits for it, keeping the parent's list of children for
// its on-child-progress callback. queued, when not nil, is called once the
// request holds its place among the host's requests (bodyhost.Child.Queued),
// or once runChild returns without one.
func (c *ProcessContext) runChild(spec ChildSpec, size int, queued func()) (bodyhost.Reply, error) {
	if queued != nil {
		defer queued()
	}
	if !c.kids.enter() {
		return bodyhost.Reply{}, fmt.Errorf("run child %q: %w", spec.ProcessID, ErrBodyReturned)
	}
	defer c.kids.leave()
	if c.ctx.Err() != nil {
		return bodyhost.Reply{}, c.refuse(spec)
	}
	// A child is a launch too: blocks on the parent's metadata stop it, as
	// in optio-core.
	if err := c.host.AdmitChild(context.WithoutCancel(c.ctx), spec.ProcessID); err != nil {
		return bodyhost.Reply{}, err
	}
	t := c.tracker()
	t.add(spec.ProcessID, spec.Name)
	reply, err := c.host.RunChild(c.ctx, bodyhost.Child[TaskFunc]{
		ProcessID:   spec.ProcessID,
		Name:        spec.Name,
		Description: spec.Description,
		Params:      spec.Params,
		SpecSize:    size,
		Execute:     spec.Execute,
		Queued:      queued,
		OnProgress: func(p *float64, m *string) {
			t.report(spec.ProcessID, spec.Name, p, m)
		},
	})
	if err != nil && c.ctx.Err() != nil {
		// The process was cancelled while the request was on its way (its
		// children workflow may be gone already): a refused spawn.
		t.remove(spec.ProcessID)
		return bodyhost.Reply{}, c.refuse(spec)
	}
	if err != nil {
		t.remove(spec.ProcessID)
		return reply, fmt.Errorf("run child %q: %w", spec.ProcessID, err)
	}
	if reply.Duplicate {
		t.remove(spec.ProcessID)
		return reply, fmt.Errorf("%w: child process id %q is already taken", ErrInvalidInput, spec.ProcessID)
	}
	if reply.Refused {
		t.remove(spec.ProcessID)
		return reply, c.refuse(spec)
	}
	t.finish(spec.ProcessID, reply.State)
	return reply, nil
}

// maxSpawnBatch bounds how many child requests go in one update.
const maxSpawnBatch = 100

// maxSpawnUpdates bounds how many updates a body has in flight at once to
// its children workflow (revision 2). An update is answered once every
// child it carries has started, so a single update in flight would hold the
// children that queued meanwhile back for the slowest start of the batch
// before it; with several, the next batch goes as soon as the previous one
// was accepted. The children workflow takes them in the order it accepted
// them. Servers admit 10 updates in flight per workflow by default.
const maxSpawnUpdates = 4

// minOverlapBatch is the fewest requests sent while another update is in
// flight: every update costs the parent's document a log write and the
// children workflow's history a few events, so a lone request waits for the
// updates before it instead.
const minOverlapBatch = 8

// spawner sends a body's child requests to its workflow, batching those that
// queue up while updates are in flight into one UpdateRunChildren call.
type spawner struct {
	h *engineHost
	// helperID is the children workflow's ID (revision 2), once opened;
	// only the sending goroutine touches it.
	helperID string
	// backoff is the pause before requests whose update failed go again;
	// only the sending goroutine and update waiters touch it, under mu.
	backoff time.Duration
	// closed is why the children workflow takes no more requests, once an
	// update found it closed for good (helperClosed); under mu.
	closed error

	mu sync.Mutex
	// queue holds the requests to send, in request order (seq).
	queue    []*spawnCall
	seq      uint64
	sending  bool
	inflight int
	// slot is signalled when an update in flight ends.
	slot *sync.Cond
}

type spawnCall struct {
	req workflowdef.ChildRequest
	// size is specSize of req.
	size  int
	seq   uint64
	done  chan struct{}
	reply workflowdef.ChildReply
	err   error
	// failingSince is when an update carrying this request first failed.
	failingSince time.Time
}

func (h *engineHost) spawns() *spawner {
	h.spawned.Store(true)
	h.spawnerOnce.Do(func() {
		h.spawner = &spawner{h: h, backoff: minSpawnBackoff}
		h.spawner.slot = sync.NewCond(&h.spawner.mu)
	})
	return h.spawner
}

// request queues one child request, whose spec takes size bytes
// (specSize), calls queued (when not nil) once it is queued, and waits for
// its reply.
func (s *spawner) request(req workflowdef.ChildRequest, size int, queued func()) (workflowdef.ChildReply, error) {
	call := &spawnCall{req: req, size: size, done: make(chan struct{})}
	s.mu.Lock()
	s.seq++
	call.seq = s.seq
	s.queue = append(s.queue, call)
	if s.inflight == 0 || len(s.queue) >= minOverlapBatch {
		s.wakeLocked()
	}
	s.mu.Unlock()
	if queued != nil {
		queued()
	}
	<-call.done
	return call.reply, call.err
}

// wakeLocked starts the sending goroutine, or tells it of a free slot.
func (s *spawner) wakeLocked() {
	if !s.sending {
		s.sending = true
		go s.loop()
		return
	}
	s.slot.Signal()
}

// limit is how many updates may be in flight at once.
func (s *spawner) limit() int {
	if s.h.revision >= 2 {
		return maxSpawnUpdates
	}
	return 1
}

func (s *spawner) loop() {
	for {
		s.mu.Lock()
		for len(s.queue) > 0 && (s.inflight >= s.limit() || s.inflight > 0 && len(s.queue) < minOverlapBatch) {
			s.slot.Wait()
		}
		if len(s.queue) == 0 {
			s.sending = false
			s.mu.Unlock()
			return
		}
		n := batchLen(s.queue)
		batch := s.queue[:n:n]
		s.queue = s.queue[n:]
		s.inflight++
		s.mu.Unlock()
		if s.h.revision >= 2 {
			s.sendToHelper(batch)
			continue
		}
		s.send(batch)
		s.requeue(nil, 0)
	}
}

// batchLen is how many of the queued calls, from the first, go in the next
// update: at most maxSpawnBatch, and maxSpawnBatchBytes of specs unless
// the first alone is larger.
func batchLen(queue []*spawnCall) int {
	n, bytes := 1, queue[0].size
	for n < min(len(queue), maxSpawnBatch) && bytes+queue[n].size <= maxSpawnBatchBytes {
		bytes += queue[n].size
		n++
	}
	return n
}

func (s *spawner) send(batch []*spawnCall) {
	reqs := make([]workflowdef.ChildRequest, len(batch))
	for i, call := range batch {
		reqs[i] = call.req
	}
	replies, err := s.update(s.h.workflowID, s.h.runID, reqs)
	if err == nil && len(replies) != len(batch) {
		err = fmt.Errorf("workflow answered %d of %d child requests", len(replies), len(batch))
	}
	for i, call := range batch {
		if err != nil {
			call.err = err
		} else {
			call.reply = replies[i]
		}
		close(call.done)
	}
}

// update sends one UpdateRunChildren to a workflow.
func (s *spawner) update(workflowID, runID string, reqs []workflowdef.ChildRequest) ([]workflowdef.ChildReply, error) {
	ctx := context.WithoutCancel(s.h.ctx)
	var replies []workflowdef.ChildReply
	handle, err := s.startUpdate(workflowID, runID, reqs, client.WorkflowUpdateStageCompleted)
	if err == nil {
		err = handle.Get(ctx, &replies)
	}
	return replies, err
}

func (s *spawner) startUpdate(workflowID, runID string, reqs []workflowdef.ChildRequest, stage client.WorkflowUpdateStage) (client.WorkflowUpdateHandle, error) {
	s.h.needWorkflow()
	return s.h.e.cfg.Temporal.UpdateWorkflow(context.WithoutCancel(s.h.ctx), client.UpdateWorkflowOptions{
		WorkflowID:   workflowID,
		RunID:        runID,
		UpdateID:     "children:" + uuid.NewString(),
		UpdateName:   workflows.UpdateRunChildren,
		WaitForStage: stage,
		Args:         []any{reqs},
	})
}

// sendToHelper sends a batch to the launch's children workflow (revision
// 2), opening it on first use, and returns once the update was accepted; a
// goroutine waits for the replies. Requests it answers Retry, and whole
// updates refused while it rolls over to a new run, go again, in request
// order.
func (s *spawner) sendToHelper(batch []*spawnCall) {
	if s.helperID == "" {
		id, refused, err := s.openHelper()
		if err != nil || refused {
			for _, call := range batch {
				call.reply, call.err = workflowdef.ChildReply{State: mirror.Cancelled, Refused: true}, err
				close(call.done)
			}
			s.requeue(nil, 0)
			return
		}
		s.helperID = id
	}
	s.mu.Lock()
	closed := s.closed
	s.mu.Unlock()
	if closed != nil {
		s.answerClosed(batch, closed)
		return
	}
	reqs := make([]workflowdef.ChildRequest, len(batch))
	for i, call := range batch {
		reqs[i] = call.req
	}
	helperID := s.helperID
	handle, err := s.startUpdate(helperID, "", reqs, client.WorkflowUpdateStageAccepted)
	if err != nil {
		s.failed(helperID, batch, err)
		return
	}
	go func() {
		var replies []workflowdef.ChildReply
		err := handle.Get(context.WithoutCancel(s.h.ctx), &replies)
		if err != nil {
			s.failed(helperID, batch, err)
			return
		}
		if len(replies) != len(batch) {
			err = fmt.Errorf("children workflow answered %d of %d child requests", len(replies), len(batch))
		}
		var again []*spawnCall
		for i, call := range batch {
			switch {
			case err != nil:
				call.err = err
			case replies[i].Retry:
				call.failingSince = time.Time{}
				again = append(again, call)
				continue
			default:
				call.reply = replies[i]
			}
			close(call.done)
		}
		s.mu.Lock()
		s.backoff = minSpawnBackoff
		s.mu.Unlock()
		s.requeue(again, 0)
	}()
}

// failed handles an update to the children workflow helperID that failed.
// Sending again is safe whatever happened to the first try (the children's
// documents say which exist), and a roll-over of the children workflow
// fails updates in several ways: the requests go again after a pause, for a
// minute, or however long it takes when the error says so. Once the
// children workflow has closed for good, they and every later request are
// answered at once, from the children's documents (answerClosed).
func (s *spawner) failed(helperID string, batch []*spawnCall, err error) {
	if closed := s.helperClosed(helperID, err); closed != nil {
		s.mu.Lock()
		s.closed = closed
		s.mu.Unlock()
		s.answerClosed(batch, closed)
		return
	}
	now := time.Now()
	retry := retryableSpawn(err)
	// A roll-over ends within about a second (the run waits that long at
	// most for its children): its pauses stay short, so that the next run
	// is not left idle waiting for the body's next try.
	upTo := maxSpawnBackoff
	if workflowdef.IsRollingOver(err) {
		upTo = maxRollOverBackoff
	}
	var again []*spawnCall
	for _, call := range batch {
		if call.failingSince.IsZero() {
			call.failingSince = now
		}
		if retry || now.Sub(call.failingSince) <= spawnRetryFor {
			again = append(again, call)
			continue
		}
		call.err = err
		close(call.done)
	}
	if len(again) == 0 {
		upTo = 0
	}
	s.requeue(again, upTo)
}

// answerClosed answers the requests of batch, and ends their update, once
// the children workflow has closed for good (closed says how). A child that
// workflow created before it closed runs on, or has ended: its request,
// whose reply the closing lost, is answered with it, so that the body waits
// for it as usual. The others are refused with closed.
func (s *spawner) answerClosed(batch []*spawnCall, closed error) {
	e := s.h.e
	ctx := context.WithoutCancel(s.h.ctx)
	for _, call := range batch {
		doc, err := e.store.ByProcessID(ctx, call.req.ProcessID)
		switch {
		case err != nil || doc.ParentID == nil || *doc.ParentID != s.h.docID:
			call.err = closed
		case doc.Status.State.End():
			call.reply = workflowdef.ChildReply{State: doc.Status.State}
			if doc.Status.Error != nil {
				call.reply.Error = *doc.Status.Error
			}
		default:
			call.reply = workflowdef.ChildReply{WorkflowID: e.WorkflowID(call.req.ProcessID)}
		}
		close(call.done)
	}
	s.requeue(nil, 0)
}

// helperClosed tells whether err, the failure of an update to the children
// workflow helperID, means that workflow has closed for good: its latest
// run ended otherwise than by continuing as new (the server answers an
// update to a closed workflow NotFound), or it was deleted. It returns the
// error to answer the requests with, or nil when the workflow runs (the
// update met a roll-over) or the check failed.
func (s *spawner) helperClosed(helperID string, err error) error {
	var nf *serviceerror.NotFound
	if !errors.As(err, &nf) {
		return nil
	}
	e := s.h.e
	ctx := context.WithoutCancel(s.h.ctx)
	desc, derr := e.cfg.Temporal.DescribeWorkflowExecution(ctx, helperID, "")
	if errors.As(derr, &nf) {
		return fmt.Errorf("%w: %s was deleted", ErrChildrenWorkflowClosed, helperID)
	}
	if derr != nil {
		return nil
	}
	info := desc.GetWorkflowExecutionInfo()
	status := info.GetStatus()
	if status == enumspb.WORKFLOW_EXECUTION_STATUS_RUNNING || status == enumspb.WORKFLOW_EXECUTION_STATUS_CONTINUED_AS_NEW {
		return nil
	}
	how, herr := e.closeReason(ctx, helperID, info.GetExecution().GetRunId(), status)
	if herr != nil || how == "" {
		how = "was closed"
	}
	return fmt.Errorf("%w: %s %s", ErrChildrenWorkflowClosed, helperID, how)
}

// requeue ends an update in flight and puts its requests that go again
// back in the queue, in request order, after the backoff pause, at most
// upTo (none when upTo is 0). Each pause doubles the next one, up to upTo.
func (s *spawner) requeue(again []*spawnCall, upTo time.Duration) {
	if upTo > 0 {
		_ = sleepCtx(context.WithoutCancel(s.h.ctx), s.pause(upTo))
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	s.inflight--
	if len(again) > 0 {
		merged := make([]*spawnCall, 0, len(s.queue)+len(again))
		i, j := 0, 0
		for i < len(s.queue) || j < len(again) {
			if j == len(again) || i < len(s.queue) && s.queue[i].seq < again[j].seq {
				merged = append(merged, s.queue[i])
				i++
			} else {
				merged = append(merged, again[j])
				j++
			}
		}
		s.queue = merged
	}
	if len(s.queue) > 0 {
		s.wakeLocked()
	}
}

// pause returns the next backoff pause, at most upTo, and doubles the one
// after it (up to upTo again).
func (s *spawner) pause(upTo time.Duration) time.Duration {
	s.mu.Lock()
	defer s.mu.Unlock()
	d := min(s.backoff, upTo)
	s.backoff = min(2*d, upTo)
	return d
}

// minSpawnBackoff is the first pause before failed child requests go again;
// maxSpawnBackoff the longest, and maxRollOverBackoff the longest while the
// children workflow is rolling over.
const (
	minSpawnBackoff    = 20 * time.Millisecond
	maxSpawnBackoff    = time.Second
	maxRollOverBackoff = 100 * time.Millisecond
)

// openHelper asks the process workflow for its children workflow.
func (s *spawner) openHelper() (string, bool, error) {
	h := s.h
	h.needWorkflow()
	ctx := context.WithoutCancel(h.ctx)
	handle, err := h.e.cfg.Temporal.UpdateWorkflow(ctx, client.UpdateWorkflowOptions{
		WorkflowID:   h.workflowID,
		RunID:        h.runID,
		UpdateID:     "open-children:" + h.runID,
		UpdateName:   workflows.UpdateOpenChildren,
		WaitForStage: client.WorkflowUpdateStageCompleted,
	})
	var reply workflowdef.OpenChildrenReply
	if err == nil {
		err = handle.Get(ctx, &reply)
	}
	if err != nil {
		return "", false, fmt.Errorf("open the children workflow: %w", err)
	}
	return reply.WorkflowID, reply.Refused, nil
}

// spawnRetryFor bounds how long an update to a children workflow that keeps
// failing with an unexpected error is sent again.
const spawnRetryFor = time.Minute

// retryableSpawn reports whether a failed update to a children workflow
// should be sent again however long it takes: it was rolling over to a new
// run, or the server was busy.
func retryableSpawn(err error) bool {
	var exhausted *serviceerror.ResourceExhausted
	var unavailable *serviceerror.Unavailable
	return workflowdef.IsRollingOver(err) || errors.As(err, &exhausted) || errors.As(err, &unavailable)
}

// sleepCtx waits for d or until ctx is done.
func sleepCtx(ctx context.Context, d time.Duration) error {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-ctx.Done():
		return ctx.Err()
	case <-t.C:
		return nil
	}
}

// refuse logs optio's "Refused to spawn child" entry on this process.
func (c *ProcessContext) refuse(spec ChildSpec) error {
	ctx, cancel := context.WithTimeout(context.WithoutCancel(c.ctx), 30*time.Second)
	defer cancel()
	c.host.RefusedChild(ctx, spec.Name, spec.ProcessID)
	return fmt.Errorf("spawn child %q: %w", spec.ProcessID, ErrParentCancelled)
}
