package children

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	enumspb "go.temporal.io/api/enums/v1"
	"go.temporal.io/api/workflowservice/v1"
	"google.golang.org/grpc"

	"github.com/optio-temporal/optio/adapter"
	"github.com/optio-temporal/optio/internal/testenv"
	"github.com/optio-temporal/optio/workflows"
)

// historyPolls counts the long polls of workflow histories a client makes,
// by workflow ID.
type historyPolls struct {
	mu    sync.Mutex
	polls map[string]int
}

func (h *historyPolls) intercept(ctx context.Context, method string, req, reply any, cc *grpc.ClientConn, invoker grpc.UnaryInvoker, opts ...grpc.CallOption) error {
	if r, ok := req.(*workflowservice.GetWorkflowExecutionHistoryRequest); ok && r.GetWaitNewEvent() {
		h.mu.Lock()
		h.polls[r.GetExecution().GetWorkflowId()]++
		h.mu.Unlock()
	}
	return invoker(ctx, method, req, reply, cc, opts...)
}

// of returns the polls of the workflows whose ID contains part.
func (h *historyPolls) of(part string) map[string]int {
	h.mu.Lock()
	defer h.mu.Unlock()
	out := map[string]int{}
	for id, n := range h.polls {
		if strings.Contains(id, part) {
			out[id] = n
		}
	}
	return out
}

// countingHarness is a harness whose engine's client counts history polls,
// with the engine's ChildPollDelay.
func countingHarness(t *testing.T, childPollDelay time.Duration, tasks ...adapter.TaskInstance) (*harness, *historyPolls) {
	t.Helper()
	env := testenv.New(t)
	polls := &historyPolls{polls: map[string]int{}}
	tc := env.Temporal.DialIntercepted(t, polls.intercept)
	return newHarnessOn(t, env, func(c *adapter.Config) {
		c.Temporal, c.ChildPollDelay = tc, childPollDelay
	}, tasks...), polls
}

// A parent's body learns how its children ended from their terminal writes
// on its own engine, without polling their histories on Temporal: done and
// failed children (the failure with the child's error), one with children
// of its own, run one by one and in a group, end as their documents say.
func TestChildEndsReachTheParentWithoutAHistoryPoll(t *testing.T) {
	type result struct {
		state adapter.State
		err   string
	}
	var mu sync.Mutex
	got := map[string]result{}
	record := func(id string, st adapter.State, err error) {
		mu.Lock()
		defer mu.Unlock()
		r := result{state: st}
		var ce *adapter.ChildError
		if errors.As(err, &ce) {
			r.err = ce.Err
		}
		got[id] = r
	}
	parent := adapter.TaskInstance{ProcessID: "q", Name: "Q", Execute: func(pc *adapter.ProcessContext) error {
		for i := range 3 {
			id := fmt.Sprintf("q/seq-%d", i)
			st, err := pc.RunChild(adapter.ChildSpec{ProcessID: id, Name: "Seq", Execute: phase})
			if err != nil {
				return err
			}
			record(id, st, nil)
		}
		st, err := pc.RunChild(adapter.ChildSpec{ProcessID: "q/bad", Name: "Bad",
			Execute: func(*adapter.ProcessContext) error { return errors.New("out of paper") }})
		record("q/bad", st, err)
		st, err = pc.RunChild(adapter.ChildSpec{ProcessID: "q/quits", Name: "Quits",
			Execute: func(c *adapter.ProcessContext) error {
				_, err := c.RunChild(adapter.ChildSpec{ProcessID: "q/quits/inner", Name: "Inner", Execute: phase})
				return err
			}})
		record("q/quits", st, err)
		g := pc.ParallelGroup(adapter.GroupOptions{MaxConcurrency: 2})
		for i := range 4 {
			if err := g.Spawn(adapter.ChildSpec{ProcessID: fmt.Sprintf("q/par-%d", i), Name: "Par", Execute: phase}); err != nil {
				return err
			}
		}
		res, err := g.Wait()
		if err != nil {
			return err
		}
		for _, r := range res {
			record(r.ProcessID, r.State, nil)
		}
		return nil
	}}
	// Long enough for any child to end before its parent would poll it,
	// however slow the machine: a poll would be a missed notice.
	h, polls := countingHarness(t, 2*time.Minute, parent)
	p, err := h.eng.LaunchAndWait(h.ctx, "q")
	require.NoError(t, err)
	require.Equal(t, adapter.StateDone, p.Status.State, "error: %s", errText(p))

	want := map[string]result{
		"q/seq-0": {state: adapter.StateDone}, "q/seq-1": {state: adapter.StateDone}, "q/seq-2": {state: adapter.StateDone},
		"q/bad":   {state: adapter.StateFailed, err: "out of paper"},
		"q/quits": {state: adapter.StateDone},
		"q/par-0": {state: adapter.StateDone}, "q/par-1": {state: adapter.StateDone},
		"q/par-2": {state: adapter.StateDone}, "q/par-3": {state: adapter.StateDone},
	}
	assert.Equal(t, want, got)
	for id, r := range want {
		doc := h.get(id)
		assert.Equal(t, r.state, doc.Status.State, id)
		if r.err != "" {
			assert.Equal(t, r.err, errText(doc), id)
		}
	}
	assert.Empty(t, polls.of("q/"), "no child's history was polled")

	// The children workflows waited for their children in the run that
	// started them, rather than in a run continued as new, which the server
	// would have held back until the first run was a second old.
	for _, id := range []string{"q", "q/quits"} {
		first := h.env.Temporal.Client.GetWorkflowHistory(h.ctx, h.eng.WorkflowID(id)+workflows.ChildrenIDSuffix, "", false, enumspb.HISTORY_EVENT_FILTER_TYPE_ALL_EVENT)
		require.True(t, first.HasNext())
		ev, err := first.Next()
		require.NoError(t, err)
		assert.Empty(t, ev.GetWorkflowExecutionStartedEventAttributes().GetContinuedExecutionRunId(), "children workflow of %s continued as new", id)
	}
}

// A child whose end no terminal write of this engine records (its workflow
// terminated from the Temporal side) is still waited for on Temporal, and
// its parent gets it as failed.
func TestTerminatedChildReachesTheParentThroughTemporal(t *testing.T) {
	var gotState adapter.State
	var childErr *adapter.ChildError
	parent := adapter.TaskInstance{ProcessID: "t", Name: "T", Execute: func(pc *adapter.ProcessContext) error {
		st, err := pc.RunChild(adapter.ChildSpec{ProcessID: "t/child", Name: "Child", Execute: waitForCancel})
		gotState = st
		errors.As(err, &childErr)
		return nil
	}}
	h, polls := countingHarness(t, 0, parent) // the default delay
	h.launch("t")
	h.waitState("t/child", adapter.StateRunning)
	require.NoError(t, h.env.Temporal.Client.TerminateWorkflow(h.ctx, h.eng.WorkflowID("t/child"), "", "stop it"))
	p := h.waitState("t", adapter.StateDone, adapter.StateFailed, adapter.StateCancelled)
	require.Equal(t, adapter.StateDone, p.Status.State, "error: %s", errText(p))
	assert.Equal(t, adapter.StateFailed, gotState)
	require.NotNil(t, childErr)
	assert.Equal(t, "child workflow was terminated", childErr.Err)
	assert.NotEmpty(t, polls.of("t/child"), "the child was waited for on Temporal")
}

// BenchmarkParentWithOneChild measures launch-to-done of a parent whose body
// runs one trivial child: the parent's wait for the child, and its children
// workflow's wait for the child's workflow before the parent ends.
func BenchmarkParentWithOneChild(b *testing.B) {
	parent := adapter.TaskInstance{ProcessID: "b", Name: "B", Execute: func(pc *adapter.ProcessContext) error {
		_, err := pc.RunChild(adapter.ChildSpec{ProcessID: "b/child", Name: "Child", Execute: phase})
		return err
	}}
	h := newHarnessOn(b, testenv.New(b), nil, parent)
	for b.Loop() {
		p, err := h.eng.LaunchAndWait(h.ctx, "b")
		require.NoError(b, err)
		require.Equal(b, adapter.StateDone, p.Status.State, "error: %s", errText(p))
	}
}
