package tests

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
	"go.mongodb.org/mongo-driver/v2/bson"
	enumspb "go.temporal.io/api/enums/v1"
	"go.temporal.io/api/workflowservice/v1"
	"google.golang.org/grpc"

	"github.com/optio-temporal/optio/adapter"
	"github.com/optio-temporal/optio/internal/testenv"
	"github.com/optio-temporal/optio/internal/workflowdef"
)

// LaunchAndWait returns the final document exactly as a later read of Mongo
// gives it (same values, same Go types), for every end state, whether the
// end was written on its own engine (the document is handed over by the
// write, and the workflow's result does not carry it) or elsewhere: then it
// comes inline in the workflow's result (small documents) or is read back
// (large ones).
func TestLaunchAndWaitReturnsTheFinalDocument(t *testing.T) {
	params := map[string]any{"items": int32(20), "ratio": 0.5, "source": "s3://bucket", "nested": map[string]any{"k": bson.A{int32(1), "two"}}}
	meta := map[string]any{"team": "data", "tier": int32(2)}
	release := make(chan struct{}, 1)
	tasks := staticTasks(
		adapter.TaskInstance{ProcessID: "small", Name: "Small", Params: params, Metadata: meta,
			Execute: func(pc *adapter.ProcessContext) error { pc.ReportProgress(50, "half"); return nil }},
		adapter.TaskInstance{ProcessID: "chatty", Name: "Chatty", Params: params, Metadata: meta,
			Execute: func(pc *adapter.ProcessContext) error {
				// Tens of KB of log: more than the workflow result carries.
				for i := range 400 {
					pc.ReportProgress(float64(i)/4, fmt.Sprintf("step %03d %s", i, strings.Repeat("wordy ", 200)))
					time.Sleep(time.Millisecond)
				}
				return nil
			}},
		adapter.TaskInstance{ProcessID: "failing", Name: "Failing", Params: params, Metadata: meta,
			Execute: func(*adapter.ProcessContext) error { return errors.New("boom") }},
		adapter.TaskInstance{ProcessID: "stopped", Name: "Stopped", Params: params, Metadata: meta,
			Execute: func(pc *adapter.ProcessContext) error {
				release <- struct{}{}
				<-pc.Context().Done()
				return nil
			}},
	)
	s := newSystem(t, adapter.Config{TaskDefinitions: tasks})
	// An engine without a worker: the ends of its launches are written by
	// the system's engine.
	client := s.startEngine(adapter.Config{TaskDefinitions: tasks, DisableWorker: true, ReconcileInterval: -1})

	inResult := func(id string) bool {
		var res workflowdef.ProcessResult
		_ = s.temporal().GetWorkflow(s.ctx(), s.eng.WorkflowID(id), "").Get(s.ctx(), &res)
		return len(res.Doc) > 0
	}
	for _, side := range []struct {
		name string
		eng  *adapter.Engine
	}{{"end written here", s.eng}, {"end written elsewhere", client}} {
		for _, tc := range []struct {
			id       string
			state    adapter.State
			inResult bool // elsewhere: the document comes in the workflow's result
		}{
			{"small", adapter.StateDone, true},
			{"chatty", adapter.StateDone, false},
			{"failing", adapter.StateFailed, false},
			{"stopped", adapter.StateCancelled, false},
		} {
			t.Run(side.name+"/"+tc.id, func(t *testing.T) {
				if tc.id == "stopped" {
					go func() {
						<-release
						_, err := side.eng.Cancel(s.ctx(), "stopped")
						require.NoError(t, err)
					}()
				}
				got, err := side.eng.LaunchAndWait(s.ctx(), tc.id)
				require.NoError(t, err)
				require.NotNil(t, got)
				require.Equal(t, tc.state, got.Status.State)
				require.Equal(t, s.get(tc.id), got, "LaunchAndWait's document differs from Mongo's")
				require.Equal(t, params, got.Params)
				require.Equal(t, meta, got.Metadata)
				if tc.id == "small" || tc.id == "chatty" {
					// (A failed or cancelled run's document rides in its
					// failure's details instead.)
					require.Equal(t, tc.inResult && side.eng == client, inResult(tc.id), "document in the workflow's result")
				}
			})
		}
	}
}

// lostClosePoll makes the first long poll of a workflow's close that
// matches part (any, when empty) hang, unanswered, until its caller gives up: as a poll
// does whose close notice the server dropped.
type lostClosePoll struct {
	part string
	lost atomic.Int32 // polls swallowed
	sent atomic.Int32 // polls passed to the server
}

func (l *lostClosePoll) intercept(ctx context.Context, method string, req, reply any, cc *grpc.ClientConn, invoker grpc.UnaryInvoker, opts ...grpc.CallOption) error {
	r, ok := req.(*workflowservice.GetWorkflowExecutionHistoryRequest)
	if !ok || !r.GetWaitNewEvent() || !strings.Contains(r.GetExecution().GetWorkflowId(), l.part) {
		return invoker(ctx, method, req, reply, cc, opts...)
	}
	if l.lost.CompareAndSwap(0, 1) {
		<-ctx.Done()
		return ctx.Err()
	}
	l.sent.Add(1)
	return invoker(ctx, method, req, reply, cc, opts...)
}

// LaunchAndWait of a run whose end is written on its own engine asks
// Temporal nothing after the start: the terminal write hands it the
// document. So a long poll of the run's close that the server never
// answers (as one does whose close notice it dropped, until the poll's
// expiry, 20 s on a default cluster) cannot hold it: no poll is made, not
// even for a run that outlasts ChildPollDelay, once the run has begun on
// the engine (up to 10 times ChildPollDelay).
func TestLaunchAndWaitNeedsNoPollForAnEndWrittenHere(t *testing.T) {
	env := testenv.New(t)
	lost := &lostClosePoll{} // every process's close
	tc := env.Temporal.DialIntercepted(t, lost.intercept)
	s := newSystemOn(t, env, adapter.Config{Temporal: tc, ChildPollDelay: 300 * time.Millisecond, TaskDefinitions: staticTasks(
		adapter.TaskInstance{ProcessID: "quick", Name: "Quick",
			Execute: func(pc *adapter.ProcessContext) error { pc.ReportProgress(100, "done"); return nil }},
		adapter.TaskInstance{ProcessID: "slow", Name: "Slow",
			Execute: func(pc *adapter.ProcessContext) error { time.Sleep(time.Second); return nil }},
	)})

	for _, id := range []string{"quick", "slow"} {
		ctx, cancel := context.WithTimeout(s.ctx(), time.Minute)
		start := time.Now()
		got, err := s.eng.LaunchAndWait(ctx, id)
		took := time.Since(start)
		cancel()
		require.NoError(t, err, "LaunchAndWait sat out the lost poll until its context ended")
		require.Equal(t, adapter.StateDone, got.Status.State)
		require.Equal(t, s.get(id), got)
		require.Zero(t, lost.lost.Load()+lost.sent.Load(), "LaunchAndWait polled the close of %q", id)
		t.Logf("LaunchAndWait of %q returned in %v", id, took)
	}
}

// closePolls counts the long polls of a run's close, by whether the run was
// still open when the poll was sent, and the engine's visibility queries for
// which of the runs it waits for have closed.
type closePolls struct {
	open, closed atomic.Int32
	queries      atomic.Int32
}

func (c *closePolls) intercept(ctx context.Context, method string, req, reply any, cc *grpc.ClientConn, invoker grpc.UnaryInvoker, opts ...grpc.CallOption) error {
	switch r := req.(type) {
	case *workflowservice.GetWorkflowExecutionHistoryRequest:
		if r.GetWaitNewEvent() {
			desc := &workflowservice.DescribeWorkflowExecutionResponse{}
			err := cc.Invoke(ctx, workflowservice.WorkflowService_DescribeWorkflowExecution_FullMethodName,
				&workflowservice.DescribeWorkflowExecutionRequest{Namespace: r.GetNamespace(), Execution: r.GetExecution()}, desc)
			if err == nil && desc.GetWorkflowExecutionInfo().GetStatus() != enumspb.WORKFLOW_EXECUTION_STATUS_RUNNING {
				c.closed.Add(1)
			} else {
				c.open.Add(1)
			}
		}
	case *workflowservice.ListWorkflowExecutionsRequest:
		if strings.HasPrefix(r.GetQuery(), "RunId IN (") {
			c.queries.Add(1)
		}
	}
	return invoker(ctx, method, req, reply, cc, opts...)
}

// A run that began on its engine and outlasts the wait's delay many times
// over is not polled on Temporal: the engine's watch asks the visibility
// store whether it has closed, and the run's end, written here, answers the
// wait first. No long poll is held open for the run.
func TestLaunchAndWaitHoldsNoPollOpenForALongRun(t *testing.T) {
	env := testenv.New(t)
	polls := &closePolls{}
	tc := env.Temporal.DialIntercepted(t, polls.intercept)
	s := newSystemOn(t, env, adapter.Config{Temporal: tc, ChildPollDelay: 50 * time.Millisecond, TaskDefinitions: staticTasks(
		adapter.TaskInstance{ProcessID: "long", Name: "Long",
			// 6 times the 10 x ChildPollDelay a begun run waits before it
			// falls back on Temporal.
			Execute: func(pc *adapter.ProcessContext) error { time.Sleep(3 * time.Second); return nil }},
	)})
	ctx, cancel := context.WithTimeout(s.ctx(), time.Minute)
	defer cancel()
	got, err := s.eng.LaunchAndWait(ctx, "long")
	require.NoError(t, err)
	require.Equal(t, adapter.StateDone, got.Status.State)
	require.Zero(t, polls.open.Load()+polls.closed.Load(), "LaunchAndWait polled the run's close")
	require.NotZero(t, polls.queries.Load(), "the engine never asked whether the run had closed")
}
