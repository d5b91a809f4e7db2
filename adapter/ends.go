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
// Temporal: once the child has run Config.ChildPollDelay without a notice,
// the engine's visibility watch of waited runs (closewatch.go) looks for its
// close, and the wait then fetches its reply.

// runEnd is the end of one run, as its parent's body (or a LaunchAndWait)
// gets it.
type runEnd struct {
	runID string
	reply workflowdef.ChildReply
	// final is the document as the terminal write left it; deleted is set
	// when the write deleted it (an ephemeral process).
	final   *mirror.Process
	deleted bool
	// noReply is set when reply is not the run's reply: a cancelled state
	// with an error, whose reply depends on whether the workflow itself was
	// cancelled, which only Temporal tells; or a run the server ended, whose
	// reply is the workflow's.
	noReply bool
	// begun marks a notice that is no end: the run's first workflow task
	// started its run on this engine, which will write its end.
	begun bool
}

// replies reports whether the notice is an end that carries its run's reply.
func (n runEnd) replies() bool { return !n.begun && !n.noReply }

// hereRunPollFactor times Config.ChildPollDelay is how long a LaunchAndWait
// whose run has begun on this engine waits for the run's end before it also
// polls the run on Temporal, in case the end is written elsewhere after all
// (the body was lost here and ran again on another worker): 10 s by
// default. A run the server ends is learned of sooner, from the closed-run
// watch.
const hereRunPollFactor = 10

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
	ch := make(chan runEnd, 4)
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

// publish tells the watchers of wfID that one of its runs ended.
func (r *runEnds) publish(wfID string, end runEnd) {
	r.mu.Lock()
	defer r.mu.Unlock()
	for _, ch := range r.waiting[wfID] {
		select {
		case ch <- end:
		default:
		}
	}
}

// publishingEnds wraps the terminal write (Mirror.Finish, as the Finish
// local activity and a body finishing itself call it) so that a successful
// write is published to the waits for the run (awaitChild, awaitRun), with
// the document it left and the reply its workflow's result would give
// (workflowdef.ReplyFromResult): the run returns the write's state with the
// write's error, as a failure when the state is failed. The one reply left
// to Temporal is that of a cancelled state with an error, which depends on
// whether the workflow itself was cancelled.
func (e *Engine) publishingEnds(finish func(context.Context, activitydef.FinishInput) (activitydef.FinishResult, error)) func(context.Context, activitydef.FinishInput) (activitydef.FinishResult, error) {
	return func(ctx context.Context, in activitydef.FinishInput) (activitydef.FinishResult, error) {
		res, err := finish(ctx, in)
		if err != nil || !activity.IsActivity(ctx) {
			return res, err
		}
		run := activity.GetInfo(ctx).WorkflowExecution
		e.ends.publish(run.ID, runEnd{
			runID:   run.RunID,
			reply:   workflowdef.ChildReply{State: res.State, Error: in.Error},
			final:   res.Final,
			deleted: res.Deleted,
			noReply: res.State == mirror.Cancelled && in.Error != "",
		})
		return res, err
	}
}

// announcingRuns wraps StartRun, a run's first write, so that a wait for
// the run (awaitRun) learns that the run began on this engine, which will
// then write its end, and need not poll Temporal for it.
func (e *Engine) announcingRuns(start func(context.Context, activitydef.StartRunInput) (activitydef.StartRunResult, error)) func(context.Context, activitydef.StartRunInput) (activitydef.StartRunResult, error) {
	return func(ctx context.Context, in activitydef.StartRunInput) (activitydef.StartRunResult, error) {
		if activity.IsActivity(ctx) {
			run := activity.GetInfo(ctx).WorkflowExecution
			e.ends.publish(run.ID, runEnd{runID: run.RunID, begun: true})
		}
		return start(ctx, in)
	}
}

// awaitChild waits for the end of child run runID of workflow wfID (runID
// empty: its current run): the first notice on ends of that run, or, once
// Config.ChildPollDelay has passed without one, Temporal's answer to a poll
// of the run once the engine's watch has seen it closed, whichever comes
// first; with no ends to watch, the poll starts at once. ctx ends only the
// poll; the wait itself lasts until the child ends, as a parent's body
// waits for its children.
func (e *Engine) awaitChild(ctx context.Context, wfID, runID string, ends <-chan runEnd) workflowdef.ChildReply {
	return endWait[workflowdef.ChildReply]{
		ends: ends,
		notice: func(end runEnd) (workflowdef.ChildReply, noticeAct) {
			if end.replies() && (runID == "" || end.runID == runID) {
				return end.reply, answerWait
			}
			return workflowdef.ChildReply{}, ignoreNotice
		},
		closed: func(ctx context.Context) { e.closes.await(ctx, wfID, runID) },
		poll: func(ctx context.Context) workflowdef.ChildReply {
			run := runID
			for {
				var res workflowdef.ProcessResult
				err := e.cfg.Temporal.GetWorkflow(ctx, wfID, run).Get(ctx, &res)
				if isTerminated(err) {
					// A reset child goes on in the run the reset started.
					if next := e.resetSuccessor(ctx, wfID, run); next != "" {
						run = next
						continue
					}
				}
				return workflowdef.ReplyFromResult(res, err)
			}
		},
	}.wait(ctx, e.cfg.ChildPollDelay)
}

// launchedRun is how a run that LaunchAndWait started ended, as awaitRun
// learned it.
type launchedRun struct {
	// local is set when the run's end was written on this engine: final is
	// then the document as that write left it, nil if the write deleted it.
	local bool
	final *mirror.Process
	// res and err are Temporal's result of the run otherwise.
	res workflowdef.ProcessResult
	err error
}

// awaitRun waits for the end of run. A terminal write of the run on this
// engine (a notice on ends, the usual case: the run's first workflow task
// comes to this engine's worker) ends the wait at once, with the document
// the write left: no Temporal call, and the run's workflow closes within
// the workflow task that made the write. So does the failure the closed-run
// watch writes for a run the server ended. A run whose end is written
// elsewhere is waited for on Temporal, with a poll that starts once the
// run has gone Config.ChildPollDelay without beginning here (a notice from
// announcingRuns), or hereRunPollFactor times that without an end once it
// has, and the engine's watch has seen the run closed; with no ends, the
// poll starts at once. The wait lasts until the run ends or ctx is done.
func (e *Engine) awaitRun(ctx context.Context, run client.WorkflowRun, ends <-chan runEnd) launchedRun {
	return endWait[launchedRun]{
		ends: ends,
		notice: func(end runEnd) (launchedRun, noticeAct) {
			switch {
			case end.runID != run.GetRunID():
			case end.begun:
				return launchedRun{}, postponePoll
			case end.deleted || end.final != nil && end.final.Status.State.End():
				return launchedRun{local: true, final: end.final}, answerWait
			}
			return launchedRun{}, ignoreNotice
		},
		postponed: hereRunPollFactor * e.cfg.ChildPollDelay,
		closed:    func(ctx context.Context) { e.closes.await(ctx, run.GetID(), run.GetRunID()) },
		poll: func(ctx context.Context) launchedRun {
			var out launchedRun
			out.err = run.GetWithOptions(ctx, &out.res, client.WorkflowRunGetOptions{DisableFollowingRuns: true})
			return out
		},
		quit: func(err error) launchedRun { return launchedRun{err: err} },
	}.wait(ctx, e.cfg.ChildPollDelay)
}

// endWait is the wait awaitChild and awaitRun share: for a notice on ends
// that answers it, and, once a delay has passed without one, for the answer
// of a poll of the run on Temporal too (made once the run has closed, when
// closed is set), whichever comes first.
type endWait[T any] struct {
	// ends are the notices of the workflow's runs; nil starts the poll at
	// once.
	ends <-chan runEnd
	// notice says what a notice does to the wait, with the answer it gives.
	notice func(runEnd) (T, noticeAct)
	// postponed is the poll's delay from a notice that postpones it.
	postponed time.Duration
	// closed, if set, returns once the run has closed (Engine.closes), or
	// once it is time to poll regardless; the poll waits for it, except
	// when there are no ends to watch. Its ctx ends with the wait.
	closed func(ctx context.Context)
	// poll asks Temporal for the run's end; its ctx ends with the wait.
	poll func(ctx context.Context) T
	// quit, if set, ends the wait when the wait's ctx is done, with the
	// answer it gives; without it, that ctx ends only the poll.
	quit func(error) T
}

// noticeAct is what a notice does to an endWait.
type noticeAct int

const (
	// ignoreNotice leaves the wait as it was.
	ignoreNotice noticeAct = iota
	// answerWait ends the wait with the notice's answer.
	answerWait
	// postponePoll moves a poll not yet started to endWait.postponed from
	// now.
	postponePoll
)

// wait waits as endWait says, the poll starting after delay.
func (w endWait[T]) wait(ctx context.Context, delay time.Duration) T {
	if w.ends == nil {
		delay = 0
	}
	timer := time.NewTimer(delay)
	defer timer.Stop()
	pctx, cancel := context.WithCancel(ctx)
	defer cancel()
	var quit <-chan struct{}
	if w.quit != nil {
		quit = ctx.Done()
	}
	var polled chan T // nil until the poll starts
	for {
		select {
		case end := <-w.ends:
			switch answer, act := w.notice(end); act {
			case answerWait:
				return answer
			case postponePoll:
				if polled == nil {
					timer.Reset(w.postponed)
				}
			}
		case <-timer.C:
			polled = make(chan T, 1)
			go func() {
				if w.closed != nil && w.ends != nil {
					w.closed(pctx)
					if pctx.Err() != nil && ctx.Err() == nil {
						return // the wait is over: nothing to poll for
					}
				}
				polled <- w.poll(pctx)
			}()
		case answer := <-polled:
			return answer
		case <-quit:
			return w.quit(ctx.Err())
		}
	}
}
