package adapter

import (
	"context"
	"sync"
	"time"

	"go.temporal.io/sdk/activity"
	"go.temporal.io/sdk/client"

	"github.com/optio-temporal/optio/internal/activitydef"
	"github.com/optio-temporal/optio/internal/workflowdef"
	"github.com/optio-temporal/optio/mirror"
)

// A body waiting for a child (RunChild) learns of the child's end from the
// child's terminal write when this engine makes it, which is the usual case:
// a child's body runs on its parent's engine, and a child that returns nil
// writes its own end there (activitydef.BodyInput.Finish). The wait then
// needs no long poll of the child's history: one Temporal call per child
// fewer, and no poll sitting out a close notice the server dropped. A child
// whose end is written elsewhere, or not by a terminal write at all (a
// workflow terminated from the Temporal side), is still waited for on
// Temporal, with a poll that starts once the child has run
// Config.ChildPollDelay without a notice.

// runEnd is the end of one child run, as its parent's body gets it.
type runEnd struct {
	runID string
	reply workflowdef.ChildReply
}

// runEnds hands the ends of runs written on this engine to the bodies
// waiting for them, by workflow ID. The zero value is ready.
type runEnds struct {
	mu      sync.Mutex
	waiting map[string][]chan runEnd
}

// endWatch is a watch of the ends of one workflow's runs. Its methods take
// a nil *endWatch as no watch; a pointer keeps the Outcome holding one
// comparable.
type endWatch struct {
	ends <-chan runEnd
	stop func()
}

// notices returns the channel of ends, nil for no watch.
func (w *endWatch) notices() <-chan runEnd {
	if w == nil {
		return nil
	}
	return w.ends
}

// close stops the watch.
func (w *endWatch) close() {
	if w != nil {
		w.stop()
	}
}

// watch starts watching the ends of workflow wfID's runs; call it before
// the run can end, and close it when done. A notice that finds the channel
// full is dropped: the waiter's poll on Temporal still ends its wait.
func (r *runEnds) watch(wfID string) *endWatch {
	ch := make(chan runEnd, 2)
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.waiting == nil {
		r.waiting = map[string][]chan runEnd{}
	}
	r.waiting[wfID] = append(r.waiting[wfID], ch)
	return &endWatch{ends: ch, stop: func() {
		r.mu.Lock()
		defer r.mu.Unlock()
		chans := r.waiting[wfID]
		for i, c := range chans {
			if c == ch {
				chans = append(chans[:i], chans[i+1:]...)
				break
			}
		}
		if len(chans) == 0 {
			delete(r.waiting, wfID)
		} else {
			r.waiting[wfID] = chans
		}
	}}
}

// publish tells the watchers of wfID that its run runID ended.
func (r *runEnds) publish(wfID, runID string, reply workflowdef.ChildReply) {
	r.mu.Lock()
	defer r.mu.Unlock()
	for _, ch := range r.waiting[wfID] {
		select {
		case ch <- runEnd{runID: runID, reply: reply}:
		default:
		}
	}
}

// publishingEnds wraps the terminal write (Mirror.Finish, as the Finish
// local activity and a body finishing itself call it) so that a successful
// write is published to the bodies waiting for the run, with the reply its
// workflow's result would give (workflowdef.ReplyFromResult): the run
// returns the write's state with the write's error, as a failure when the
// state is failed. The one case left to Temporal is a cancelled state with
// an error, whose reply depends on whether the workflow itself was
// cancelled.
func (e *Engine) publishingEnds(finish func(context.Context, activitydef.FinishInput) (activitydef.FinishResult, error)) func(context.Context, activitydef.FinishInput) (activitydef.FinishResult, error) {
	return func(ctx context.Context, in activitydef.FinishInput) (activitydef.FinishResult, error) {
		res, err := finish(ctx, in)
		if err != nil || !activity.IsActivity(ctx) || res.State == mirror.Cancelled && in.Error != "" {
			return res, err
		}
		run := activity.GetInfo(ctx).WorkflowExecution
		e.ends.publish(run.ID, run.RunID, workflowdef.ChildReply{State: res.State, Error: in.Error})
		return res, err
	}
}

// awaitChild waits for the end of child run runID of workflow wfID (runID
// empty: its current run): the first notice on ends of that run, or, once
// Config.ChildPollDelay has passed without one, Temporal's answer to a poll
// of the run, whichever comes first; with no ends to watch, the poll starts
// at once. ctx ends only the poll; the wait itself lasts until the child ends,
// as a parent's body waits for its children.
func (e *Engine) awaitChild(ctx context.Context, wfID, runID string, ends <-chan runEnd) workflowdef.ChildReply {
	wait := e.cfg.ChildPollDelay
	if ends == nil {
		wait = 0
	}
	delay := time.NewTimer(wait)
	defer delay.Stop()
	pctx, cancel := context.WithCancel(ctx)
	defer cancel()
	var polled chan workflowdef.ChildReply // nil until the poll starts
	for {
		select {
		case end := <-ends:
			if runID == "" || end.runID == runID {
				return end.reply
			}
		case <-delay.C:
			polled = make(chan workflowdef.ChildReply, 1)
			go func() {
				var res workflowdef.ProcessResult
				err := e.cfg.Temporal.GetWorkflow(pctx, wfID, runID).Get(pctx, &res)
				polled <- workflowdef.ReplyFromResult(res, err)
			}()
		case reply := <-polled:
			return reply
		}
	}
}

// runRepollDelay is how long after a run's end was written here awaitRun
// lets its poll run before asking Temporal again; the run's close normally
// follows the write within one workflow task.
const runRepollDelay = 2 * time.Second

// awaitRun waits for the result of run, as its GetWithOptions does, and asks
// Temporal again when the run's end was written on this engine (a notice on
// ends) and the poll has not answered runRepollDelay later, then after twice
// that, and so on. The server can drop the notice that should end a long
// poll of a run's close when the close follows another change of the run
// within milliseconds; the poll then sits out its expiry, 20 s on a default
// cluster. A poll started after the close answers at once. With no ends, or
// an end written elsewhere, it is the plain poll.
func (e *Engine) awaitRun(ctx context.Context, run client.WorkflowRun, ends <-chan runEnd, res *workflowdef.ProcessResult) error {
	opts := client.WorkflowRunGetOptions{DisableFollowingRuns: true}
	if ends == nil {
		return run.GetWithOptions(ctx, res, opts)
	}
	var repoll <-chan time.Time // set once the end is noticed
	wait := runRepollDelay
	for {
		pctx, cancel := context.WithCancel(ctx)
		got := make(chan error, 1)
		go func() { got <- run.GetWithOptions(pctx, res, opts) }()
	poll:
		for {
			select {
			case err := <-got:
				cancel()
				return err
			case end := <-ends:
				if end.runID == run.GetRunID() {
					repoll, ends = time.After(wait), nil
				}
			case <-repoll:
				cancel()
				if err := <-got; err == nil || ctx.Err() != nil {
					return err // answered before the cancel, or the caller gave up
				}
				// Cancelled here (or answered with the run's failure just
				// before, which the next poll gives again).
				wait *= 2
				repoll = time.After(wait)
				break poll
			}
		}
	}
}
