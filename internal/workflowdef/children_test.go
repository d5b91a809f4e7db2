package workflowdef

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/mock"
	"github.com/stretchr/testify/require"
	"go.temporal.io/sdk/converter"
	"go.temporal.io/sdk/temporal"
	"go.temporal.io/sdk/workflow"

	"github.com/optio-temporal/optio/activities"
	"github.com/optio-temporal/optio/internal/activitydef"
	"github.com/optio-temporal/optio/mirror"
	"github.com/optio-temporal/optio/workflows"
)

// childrenFakes are the children workflow's activities and child processes.
type childrenFakes struct {
	// created answers CreateChildren for one spec; nil makes a new document.
	created func(spec activitydef.ChildSpec) *activitydef.CreatedChild
	// parentOpen answers WorkflowOpen.
	parentOpen bool
	// awaitTakes is how long AwaitChildren takes.
	awaitTakes time.Duration
	// inputs are the CreateChildren inputs, in order.
	inputs []activitydef.CreateChildrenInput
}

// mockChildren mocks the children workflow's activities and the process
// workflows of the children it starts, which end done after a minute.
func (h *harness) mockChildren() *childrenFakes {
	f := h.mockChildrenActivities()
	h.env.OnWorkflow(workflows.ProcessName, mock.Anything, mock.Anything).After(time.Minute).Return(
		func(ctx workflow.Context, in ProcessInput) (ProcessResult, error) {
			return ProcessResult{State: mirror.Done}, nil
		}).Maybe()
	return f
}

// mockChildrenTaking is mockChildren with children that run as process
// workflows, each body for d: their starts are known when they start (a
// mocked child workflow's start comes with its end).
func (h *harness) mockChildrenTaking(d time.Duration) *childrenFakes {
	h.bodyTakes = func(int) time.Duration { return d }
	return h.mockChildrenActivities()
}

// mockChildrenActivities mocks the children workflow's activities.
func (h *harness) mockChildrenActivities() *childrenFakes {
	f := &childrenFakes{}
	env := h.env
	env.OnActivity(activities.CreateChildrenName, mock.Anything, mock.Anything).Return(
		func(_ context.Context, in activitydef.CreateChildrenInput) (activitydef.CreateChildrenResult, error) {
			h.note("CreateChildren first=%d n=%d", in.FirstOrder, len(in.Children))
			h.mu.Lock()
			f.inputs = append(f.inputs, in)
			h.mu.Unlock()
			var res activitydef.CreateChildrenResult
			for i, c := range in.Children {
				if f.created != nil {
					if got := f.created(c); got != nil {
						res.Children = append(res.Children, *got)
						continue
					}
				}
				res.Children = append(res.Children, activitydef.CreatedChild{DocID: "doc-" + c.ProcessID, Order: in.FirstOrder + i})
				if in.DeferLog {
					res.Log = append(res.Log, mirror.LogEntry{Timestamp: "t", Level: mirror.LevelEvent, Message: "Spawned child: " + c.Name})
				}
			}
			return res, nil
		}).Maybe()
	env.OnActivity(activities.CancelChildrenName, mock.Anything, mock.Anything).Return(
		func(context.Context, activitydef.ChildrenOf) (int, error) {
			h.note("CancelChildren")
			return 0, nil
		}).Maybe()
	env.OnActivity(activities.AwaitChildrenName, mock.Anything, mock.Anything).AfterFn(func() time.Duration {
		return f.awaitTakes
	}).Return(
		func(context.Context, activitydef.ChildrenOf) error {
			h.note("AwaitChildren")
			return nil
		}).Maybe()
	env.OnActivity(activities.WorkflowOpenName, mock.Anything, mock.Anything).Return(
		func(_ context.Context, in activitydef.WorkflowRef) (bool, error) {
			h.note("WorkflowOpen %s", in.WorkflowID)
			return f.parentOpen, nil
		}).Maybe()
	return f
}

// childrenInput is the children workflow of launch "p1".
func childrenInput() ChildrenInput {
	return ChildrenInput{
		ParentDocID: "doc-p1", ParentProcessID: "p1", ParentWorkflowID: "db/p1", IDPrefix: "db/",
		Revision: CurrentRevision, Cancellable: true,
	}
}

func childRequests(n int) []ChildRequest {
	reqs := make([]ChildRequest, n)
	for i := range reqs {
		reqs[i] = ChildRequest{ProcessID: fmt.Sprintf("c%d", i+1), Name: fmt.Sprintf("Child %d", i+1)}
	}
	return reqs
}

// runChildren runs the children workflow to its end (or roll-over).
func (h *harness) runChildren(in ChildrenInput) error {
	h.env.SetStartWorkflowOptions(startOptions(ProcessInput{IDPrefix: "db/", ProcessID: "p1" + workflows.ChildrenIDSuffix}))
	h.env.ExecuteWorkflow(workflows.ChildrenName, in)
	require.True(h.t, h.env.IsWorkflowCompleted(), "workflow did not complete")
	return h.env.GetWorkflowError()
}

// continuedAs returns the input of the run a workflow continued as.
func continuedAs(t *testing.T, err error) ChildrenInput {
	t.Helper()
	var can *workflow.ContinueAsNewError
	require.True(t, errors.As(err, &can), "want continue-as-new, got %v", err)
	require.Equal(t, workflows.ChildrenName, can.WorkflowType.Name)
	var next ChildrenInput
	require.NoError(t, converter.GetDefaultDataConverter().FromPayloads(can.Input, &next))
	return next
}

// Spawn updates: how many children one update starts, and what it answers
// for each.
func TestChildrenSpawnUpdates(t *testing.T) {
	cases := []struct {
		name    string
		in      func() ChildrenInput
		history int // the run's history length when the update comes
		reqs    []ChildRequest
		created func(activitydef.ChildSpec) *activitydef.CreatedChild
		// wantStarted are the processIds started, wantRetry those answered Retry.
		wantStarted []string
		wantRetry   int
		check       func(t *testing.T, replies []ChildReply)
	}{
		{
			name:        "a first run starts every child of a small batch",
			in:          childrenInput,
			reqs:        childRequests(3),
			wantStarted: []string{"c1", "c2", "c3"},
		},
		{
			name:        "a first run starts childrenBatch children and asks for the rest again",
			in:          childrenInput,
			reqs:        childRequests(childrenBatch + 2),
			wantStarted: []string{"c1", "c2", "c3", "c4", "c5", "c6", "c7", "c8", "c9", "c10"},
			wantRetry:   2,
		},
		{
			name: "a later run fills the room a proven history length leaves",
			in: func() ChildrenInput {
				in := childrenInput()
				in.Proven = 100 + 5*eventsPerChild + 1
				return in
			},
			history:     100,
			reqs:        childRequests(7),
			wantStarted: []string{"c1", "c2", "c3", "c4", "c5"},
			wantRetry:   2,
		},
		{
			name: "known and duplicate children are answered from their documents, not started",
			in:   childrenInput,
			reqs: childRequests(3),
			created: func(c activitydef.ChildSpec) *activitydef.CreatedChild {
				switch c.ProcessID {
				case "c1":
					return &activitydef.CreatedChild{Duplicate: true}
				case "c2":
					return &activitydef.CreatedChild{DocID: "doc-c2", Known: true, State: mirror.Failed, Error: "boom"}
				}
				return &activitydef.CreatedChild{DocID: "doc-c3", Known: true, State: mirror.Running}
			},
			check: func(t *testing.T, replies []ChildReply) {
				require.Equal(t, ChildReply{State: mirror.Failed, Duplicate: true}, replies[0])
				require.Equal(t, ChildReply{State: mirror.Failed, Error: "boom"}, replies[1])
				// Running since an earlier body run: the new body waits for it.
				require.Equal(t, ChildReply{WorkflowID: "db/c3"}, replies[2])
			},
		},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			h := newHarness(t)
			f := h.mockChildren()
			f.created = tc.created
			var started []string
			h.env.SetOnChildWorkflowStartedListener(func(info *workflow.Info, _ workflow.Context, _ converter.EncodedValues) {
				started = append(started, info.WorkflowExecution.ID)
			})
			var sent *updateOutcome
			h.at(time.Second, func() {
				h.env.SetCurrentHistoryLength(tc.history)
				sent = h.update(workflows.UpdateRunChildren, tc.reqs)
			})
			h.at(2*time.Second, func() { h.env.SignalWorkflow(workflows.SignalCloseChildren, closeChildren{}) })
			err := h.runChildren(tc.in())

			var replies []ChildReply
			sent.decode(t, &replies)
			require.Len(t, replies, len(tc.reqs))
			retry := 0
			for i, r := range replies {
				if r.Retry {
					retry++
					continue
				}
				if tc.check == nil {
					require.Equal(t, "db/"+tc.reqs[i].ProcessID, r.WorkflowID)
					require.NotEmpty(t, r.RunID)
				}
			}
			require.Equal(t, tc.wantRetry, retry)
			var wantIDs []string
			for _, id := range tc.wantStarted {
				wantIDs = append(wantIDs, "db/"+id)
			}
			// Children start concurrently; their order is the test
			// environment's.
			slices.Sort(started)
			slices.Sort(wantIDs)
			require.Equal(t, wantIDs, started)
			if tc.check != nil {
				tc.check(t, replies)
			}
			require.Len(t, f.inputs, 1)
			require.True(t, f.inputs[0].Known, "a re-run body's children are answered as known")

			// The close came; the ends of the children this run started
			// would land in its history, so it waits in a fresh run.
			if len(tc.wantStarted) > 0 {
				next := continuedAs(t, err)
				require.Equal(t, &closeChildren{}, next.Closing)
				require.Equal(t, len(tc.wantStarted), next.NextOrder)
				require.Equal(t, 1, next.Runs)
				return
			}
			require.NoError(t, err)
			require.Equal(t, []string{"CreateChildren first=0 n=3", "AwaitChildren"}, h.Trail())
		})
	}
}

// A Pipelined run takes an update's children in chunks as the history room
// allows instead of answering Retry, and takes overlapping updates one after
// another in the order they came.
func TestChildrenPipelinedUpdates(t *testing.T) {
	cases := []struct {
		name    string
		in      func() ChildrenInput
		history int
		sizes   []int // the updates, sent together
		// wantCreates are the CreateChildren calls, in order.
		wantCreates []string
	}{
		{
			name:        "a first run starts a batch past childrenBatch in chunks",
			in:          childrenInput,
			sizes:       []int{childrenBatch + 2},
			wantCreates: []string{"CreateChildren first=0 n=10", "CreateChildren first=10 n=2"},
		},
		{
			name:  "updates in flight together take their children in the order they came",
			in:    childrenInput,
			sizes: []int{5, 3, 4},
			// The third waits for room for all of its four children.
			wantCreates: []string{"CreateChildren first=0 n=5", "CreateChildren first=5 n=3", "CreateChildren first=8 n=4"},
		},
		{
			name: "a later run takes more as its children start",
			in: func() ChildrenInput {
				in := childrenInput()
				in.Proven = 100 + 5*eventsPerChild + 1
				return in
			},
			history:     100,
			sizes:       []int{7},
			wantCreates: []string{"CreateChildren first=0 n=5", "CreateChildren first=5 n=2"},
		},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			h := newHarness(t)
			f := h.mockChildren()
			var started []string
			h.env.SetOnChildWorkflowStartedListener(func(info *workflow.Info, _ workflow.Context, _ converter.EncodedValues) {
				started = append(started, info.WorkflowExecution.ID)
			})
			sent := make([]*updateOutcome, len(tc.sizes))
			var batches [][]ChildRequest
			n := 0
			for _, size := range tc.sizes {
				reqs := childRequests(n + size)[n:]
				n += size
				batches = append(batches, reqs)
			}
			h.at(time.Second, func() {
				h.env.SetCurrentHistoryLength(tc.history)
				for i, reqs := range batches {
					sent[i] = h.update(workflows.UpdateRunChildren, reqs)
				}
			})
			h.at(2*time.Second, func() { h.env.SignalWorkflow(workflows.SignalCloseChildren, closeChildren{}) })
			in := tc.in()
			in.Pipelined = true
			// The children have ended by the time the last update is
			// answered: the run waits for nothing more in itself
			// (TestChildrenCloseWaitsInRun).
			require.NoError(t, h.runChildren(in))

			var wantIDs []string
			for i, reqs := range batches {
				var replies []ChildReply
				sent[i].decode(t, &replies)
				require.Len(t, replies, len(reqs))
				for k, r := range replies {
					require.Equal(t, "db/"+reqs[k].ProcessID, r.WorkflowID, "update %d, child %d: %+v", i, k, r)
					require.NotEmpty(t, r.RunID)
					wantIDs = append(wantIDs, r.WorkflowID)
				}
			}
			slices.Sort(started)
			slices.Sort(wantIDs)
			require.Equal(t, wantIDs, started)
			require.Equal(t, tc.wantCreates, h.Trail(), "every child ended cleanly in the run: no AwaitChildren")
			var order []string
			for _, in := range f.inputs {
				for _, c := range in.Children {
					order = append(order, c.ProcessID)
				}
			}
			for i, id := range order {
				require.Equal(t, fmt.Sprintf("c%d", i+1), id, "children are created in the order of the updates")
			}
			require.Len(t, order, n)
		})
	}
}

// At its close a Pipelined run with room for the ends of the children it
// started waits for them in itself, then, unless every one of them ended
// cleanly, for the launch's children (AwaitChildren), and completes; with
// the server suggesting a roll-over it waits in a fresh run instead.
func TestChildrenCloseWaitsInRun(t *testing.T) {
	cases := []struct {
		name     string
		children int
		suggest  bool
		wantCAN  bool
		// cancel cancels the run after the close, while it waits.
		cancel bool
		// failing is a child whose process workflow fails.
		failing   string
		wantAwait bool
	}{
		{name: "room for the ends", children: 3},
		{name: "roll-over suggested", children: 3, suggest: true, wantCAN: true},
		{name: "a cancel while it waits cancels the children", children: 3, cancel: true, wantAwait: true},
		{name: "a child that failed leaves the wait to AwaitChildren", children: 3, failing: "c2", wantAwait: true},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			h := newHarness(t)
			if tc.failing != "" {
				h.env.OnWorkflow(workflows.ProcessName, mock.Anything, mock.MatchedBy(func(in ProcessInput) bool { return in.ProcessID == tc.failing })).After(time.Minute).Return(
					ProcessResult{}, temporal.NewNonRetryableApplicationError("boom", workflows.ProcessFailedType, nil)).Maybe()
			}
			h.mockChildren()
			var sent *updateOutcome
			h.at(time.Second, func() { sent = h.update(workflows.UpdateRunChildren, childRequests(tc.children)) })
			h.at(2*time.Second, func() {
				h.env.SetContinueAsNewSuggested(tc.suggest)
				h.env.SignalWorkflow(workflows.SignalCloseChildren, closeChildren{})
			})
			if tc.cancel {
				h.at(3*time.Second, h.env.CancelWorkflow)
			}
			in := childrenInput()
			in.Pipelined = true
			err := h.runChildren(in)
			var replies []ChildReply
			sent.decode(t, &replies)
			require.Len(t, replies, tc.children)
			if tc.wantCAN {
				next := continuedAs(t, err)
				require.Equal(t, &closeChildren{}, next.Closing)
				require.True(t, next.Pipelined, "the next run goes on pipelining")
				require.NotContains(t, h.Trail(), "AwaitChildren")
				return
			}
			require.NoError(t, err)
			trail := h.Trail()
			require.Equal(t, tc.wantAwait, slices.Contains(trail, "AwaitChildren"), "trail: %v", trail)
			if tc.wantAwait {
				require.Equal(t, "AwaitChildren", trail[len(trail)-1], "trail: %v", trail)
			}
			require.Equal(t, tc.cancel, slices.Contains(trail, "CancelChildren"), "trail: %v", trail)
		})
	}
}

// A re-run body asking for a child that runs since an earlier body run
// tells that child where its function lives now.
func TestChildrenRedirectAKnownRunningChild(t *testing.T) {
	h := newHarness(t)
	f := h.mockChildren()
	f.created = func(c activitydef.ChildSpec) *activitydef.CreatedChild {
		return &activitydef.CreatedChild{DocID: "doc-" + c.ProcessID, Known: true, State: mirror.Running}
	}
	h.env.OnSignalExternalWorkflow(mock.Anything, "db/c1", "", workflows.SignalBodyQueue, queueB).Return(nil).Once()
	var sent *updateOutcome
	h.at(time.Second, func() {
		sent = h.update(workflows.UpdateRunChildren, []ChildRequest{{ProcessID: "c1", Name: "Child 1", BodyQueue: queueB}})
	})
	h.at(2*time.Second, func() { h.env.SignalWorkflow(workflows.SignalCloseChildren, closeChildren{}) })
	require.NoError(t, h.runChildren(childrenInput()))
	var replies []ChildReply
	sent.decode(t, &replies)
	require.Equal(t, []ChildReply{{WorkflowID: "db/c1"}}, replies)
	h.env.AssertExpectations(t)
}

// Roll-over: a run continues as new at its event budget or when the server
// suggests it, refusing the updates that come meanwhile (the body sends them
// again to the next run), and carries what the next run needs.
func TestChildrenRollOver(t *testing.T) {
	cases := []struct {
		name    string
		trigger func(h *harness)
	}{
		{"at the event budget", func(h *harness) { h.env.SetCurrentHistoryLength(60) }},
		{"when the server suggests it", func(h *harness) {
			h.env.SetCurrentHistoryLength(40)
			h.env.SetContinueAsNewSuggested(true)
		}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			h := newHarness(t)
			h.mockChildren()
			in := childrenInput()
			in.EventBudget = 50
			in.Runs = 2
			var first, late *updateOutcome
			h.at(time.Second, func() {
				h.env.SetCurrentHistoryLength(20)
				first = h.update(workflows.UpdateRunChildren, childRequests(2))
			})
			h.at(2*time.Second, func() {
				tc.trigger(h)
				late = h.update(workflows.UpdateRunChildren, []ChildRequest{{ProcessID: "c9", Name: "Late"}})
			})
			next := continuedAs(t, h.runChildren(in))

			var replies []ChildReply
			first.decode(t, &replies)
			require.Equal(t, "db/c1", replies[0].WorkflowID)
			require.True(t, late.done)
			require.True(t, IsRollingOver(late.rejected), "want a roll-over rejection, got %v", late.rejected)

			require.Nil(t, next.Closing, "no close came: the next run goes on taking children")
			require.Equal(t, 2, next.NextOrder)
			require.Equal(t, 3, next.Runs)
			require.GreaterOrEqual(t, next.Proven, 40, "the next run knows the history length this one reached")
			require.Equal(t, 50, next.EventBudget)
			require.Equal(t, []string{"CreateChildren first=0 n=2"}, h.Trail())
		})
	}
}

// The end of a children workflow: a close (with or without cancelling the
// children) or a cancel, in a run that started no children, waits for the
// children of the launch and completes.
func TestChildrenCloseAndCancel(t *testing.T) {
	cases := []struct {
		name        string
		cancellable bool
		parentOpen  bool
		closing     *closeChildren // carried in from an earlier run
		awaitTakes  time.Duration
		act         func(h *harness)
		want        []string
	}{
		{
			name: "a close in an earlier run: the last run only waits", cancellable: true,
			closing: &closeChildren{},
			want:    []string{"AwaitChildren"},
		},
		{
			name: "a close after a failed body cancels the children first", cancellable: true,
			act:  func(h *harness) { h.env.SignalWorkflow(workflows.SignalCloseChildren, closeChildren{Cancel: true}) },
			want: []string{"CancelChildren", "AwaitChildren"},
		},
		{
			name: "a cancel of a cancellable process cancels the children", cancellable: true,
			act:  func(h *harness) { h.env.CancelWorkflow() },
			want: []string{"CancelChildren", "AwaitChildren"},
		},
		{
			name:       "a cancel of a process that is not cancellable, whose workflow still runs, is ignored",
			parentOpen: true,
			act: func(h *harness) {
				h.env.CancelWorkflow()
				h.at(time.Second, func() { h.env.SignalWorkflow(workflows.SignalCloseChildren, closeChildren{}) })
			},
			want: []string{"WorkflowOpen db/p1", "AwaitChildren"},
		},
		{
			name:       "a cancel of a process that is not cancellable, whose workflow closed, cancels the children",
			parentOpen: false,
			act:        func(h *harness) { h.env.CancelWorkflow() },
			want:       []string{"WorkflowOpen db/p1", "CancelChildren", "AwaitChildren"},
		},
		{
			// A cancelled parent's close can arrive before the cancel.
			name: "a cancel after the close, while the run waits for the children, cancels them", cancellable: true,
			awaitTakes: time.Hour,
			act: func(h *harness) {
				h.env.SignalWorkflow(workflows.SignalCloseChildren, closeChildren{})
				h.at(time.Second, h.env.CancelWorkflow)
			},
			want: []string{"CancelChildren", "AwaitChildren"},
		},
		{
			name: "a cancel after the close in an earlier run, while the last run waits, cancels the children", cancellable: true,
			closing: &closeChildren{}, awaitTakes: time.Hour,
			act:  func(h *harness) { h.env.CancelWorkflow() },
			want: []string{"CancelChildren", "AwaitChildren"},
		},
		{
			name: "a cancel after a close that cancelled the children cancels nothing more", cancellable: true,
			awaitTakes: time.Hour,
			act: func(h *harness) {
				h.env.SignalWorkflow(workflows.SignalCloseChildren, closeChildren{Cancel: true})
				h.at(time.Second, h.env.CancelWorkflow)
			},
			want: []string{"CancelChildren", "AwaitChildren"},
		},
		{
			name:       "a cancel after the close, of a process that is not cancellable, whose workflow still runs, is ignored",
			parentOpen: true, awaitTakes: time.Hour,
			act: func(h *harness) {
				h.env.SignalWorkflow(workflows.SignalCloseChildren, closeChildren{})
				h.at(time.Second, h.env.CancelWorkflow)
			},
			want: []string{"WorkflowOpen db/p1", "AwaitChildren"},
		},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			h := newHarness(t)
			f := h.mockChildren()
			f.parentOpen = tc.parentOpen
			f.awaitTakes = tc.awaitTakes
			in := childrenInput()
			in.Cancellable = tc.cancellable
			in.Closing = tc.closing
			if tc.act != nil {
				h.at(time.Second, func() { tc.act(h) })
			}
			require.NoError(t, h.runChildren(in))
			require.Equal(t, tc.want, h.Trail())
		})
	}
}

// A spawn after the children were cancelled is refused, with no document
// created.
func TestChildrenRefuseSpawnsAfterACancel(t *testing.T) {
	h := newHarness(t)
	f := h.mockChildren()
	f.awaitTakes = time.Minute
	var sent *updateOutcome
	h.at(time.Second, h.env.CancelWorkflow)
	h.at(10*time.Second, func() { sent = h.update(workflows.UpdateRunChildren, childRequests(2)) })
	require.NoError(t, h.runChildren(childrenInput()))
	var replies []ChildReply
	sent.decode(t, &replies)
	require.Equal(t, []ChildReply{{State: mirror.Cancelled, Refused: true}, {State: mirror.Cancelled, Refused: true}}, replies)
	require.Equal(t, []string{"CancelChildren", "AwaitChildren"}, h.Trail())
}

// A request without a processId or name is rejected by the validator.
func TestChildrenRejectBadRequests(t *testing.T) {
	h := newHarness(t)
	h.mockChildren()
	var sent *updateOutcome
	h.at(time.Second, func() { sent = h.update(workflows.UpdateRunChildren, []ChildRequest{{ProcessID: "c1"}}) })
	h.at(2*time.Second, func() { h.env.SignalWorkflow(workflows.SignalCloseChildren, closeChildren{}) })
	require.NoError(t, h.runChildren(childrenInput()))
	require.True(t, sent.done)
	require.ErrorContains(t, sent.rejected, "child process id and name are required")
	require.Equal(t, []string{"AwaitChildren"}, h.Trail())
}

// A Pipelined run due to roll over takes no more of an update's children:
// the rest are answered Retry, and the next run takes them.
func TestChildrenPipelinedRetryAtRollOver(t *testing.T) {
	h := newHarness(t)
	h.mockChildren()
	var sent *updateOutcome
	h.at(time.Second, func() { sent = h.update(workflows.UpdateRunChildren, childRequests(childrenBatch+2)) })
	h.at(time.Second+time.Millisecond, func() { h.env.SetContinueAsNewSuggested(true) })
	in := childrenInput()
	in.Pipelined = true
	next := continuedAs(t, h.runChildren(in))
	var replies []ChildReply
	sent.decode(t, &replies)
	require.Len(t, replies, childrenBatch+2)
	for i, r := range replies {
		if i < childrenBatch {
			require.Equal(t, fmt.Sprintf("db/c%d", i+1), r.WorkflowID)
			continue
		}
		require.Equal(t, ChildReply{Retry: true}, r)
	}
	require.Equal(t, []string{"CreateChildren first=0 n=10"}, h.Trail())
	require.Equal(t, childrenBatch, next.NextOrder)
	require.Nil(t, next.Closing)
	require.True(t, next.Pipelined)
}

// A Pipelined run due to roll over first waits, rollDrainFor at most, for
// the children it started to end: a child's end that comes while the run's
// last workflow task completes makes the server refuse the continue-as-new.
// A close that comes meanwhile ends the wait.
func TestChildrenDrainBeforeRollOver(t *testing.T) {
	cases := []struct {
		name       string
		childTakes time.Duration
		close      bool
		rolledAt   time.Duration
		// unsettled is what the next run is told of children left open.
		unsettled int
	}{
		{"short children end first", 300 * time.Millisecond, false, 1300 * time.Millisecond, 0},
		{"long children are left open after the wait", time.Minute, false, 1100*time.Millisecond + rollDrainFor, 3},
		{"a close during the wait", time.Minute, true, 1200 * time.Millisecond, 3},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			h := newHarness(t)
			h.mockChildrenTaking(tc.childTakes)
			ended := h.recordEnds()
			start := h.env.Now()
			var late *updateOutcome
			h.at(time.Second, func() { h.update(workflows.UpdateRunChildren, childRequests(3)) })
			h.at(1100*time.Millisecond, func() {
				h.env.SetContinueAsNewSuggested(true)
				late = h.update(workflows.UpdateRunChildren, []ChildRequest{{ProcessID: "c9", Name: "Late"}})
			})
			if tc.close {
				h.at(1200*time.Millisecond, func() { h.env.SignalWorkflow(workflows.SignalCloseChildren, closeChildren{}) })
			}
			in := childrenInput()
			in.Pipelined = true
			next := continuedAs(t, h.runChildren(in))
			require.Equal(t, tc.rolledAt, ended[workflows.ChildrenName].Sub(start), "when the run continued as new")
			require.True(t, IsRollingOver(late.rejected), "an update during the wait is sent again to the next run, got %v", late.rejected)
			require.Equal(t, 3, next.NextOrder)
			require.Equal(t, tc.close, next.Closing != nil, "a close is carried to the next run")
			require.Equal(t, tc.unsettled, next.Unsettled, "children whose end the run did not see")
			require.True(t, next.UnsettledCounted)
		})
	}
}

// A closing run skips AwaitChildren only when it knows of every child of
// the launch that it ended cleanly: earlier runs must have counted the
// children whose end they did not see (runs of an older version did not)
// and found none, and a child this run found running rather than started
// counts as well.
func TestChildrenCloseAfterEarlierRuns(t *testing.T) {
	cases := []struct {
		name      string
		in        func(*ChildrenInput)
		known     bool
		wantAwait bool
	}{
		{name: "earlier runs saw every end", in: func(in *ChildrenInput) { in.Runs, in.UnsettledCounted = 2, true }},
		{name: "an earlier run left children open", in: func(in *ChildrenInput) { in.Runs, in.UnsettledCounted, in.Unsettled = 2, true, 2 }, wantAwait: true},
		{name: "an earlier run of an older version", in: func(in *ChildrenInput) { in.Runs = 2 }, wantAwait: true},
		{name: "a child found running", in: func(*ChildrenInput) {}, known: true, wantAwait: true},
		{name: "the first run, every child ended", in: func(*ChildrenInput) {}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			h := newHarness(t)
			f := h.mockChildren()
			if tc.known {
				f.created = func(c activitydef.ChildSpec) *activitydef.CreatedChild {
					if c.ProcessID != "c2" {
						return nil
					}
					return &activitydef.CreatedChild{DocID: "doc-" + c.ProcessID, Known: true, State: mirror.Running}
				}
			}
			h.at(time.Second, func() { h.update(workflows.UpdateRunChildren, childRequests(3)) })
			h.at(2*time.Second, func() { h.env.SignalWorkflow(workflows.SignalCloseChildren, closeChildren{}) })
			in := childrenInput()
			in.Pipelined = true
			tc.in(&in)
			require.NoError(t, h.runChildren(in))
			require.Equal(t, tc.wantAwait, slices.Contains(h.Trail(), "AwaitChildren"), "trail: %v", h.Trail())
		})
	}
}

// From a launch's SpawnLogFrom-th child on, the parent's "Spawned child"
// entries come back from CreateChildren and the run writes them itself: the
// first as soon as it has them, the next no sooner than spawnLogEvery after
// the write before, with everything that came meanwhile. The children before
// SpawnLogFrom keep theirs written by CreateChildren. (That a run writes what
// is left before it continues as new or completes, tests/children's group
// of 1000 checks: without it, 14 of its 1,000 entries were lost.)
func TestChildrenWriteSpawnLogApart(t *testing.T) {
	h := newHarness(t)
	f := h.mockChildren()
	start := h.env.Now()
	in := childrenInput()
	in.Pipelined = true
	in.NextOrder = SpawnLogFrom - 2
	reqs := childRequests(10)
	spawn := func(at time.Duration, from, to int) {
		h.at(at, func() { h.update(workflows.UpdateRunChildren, reqs[from:to]) })
	}
	ms := func(n int) time.Duration { return time.Second + time.Duration(n)*time.Millisecond }
	spawn(ms(0), 0, 5)   // 98-102: written by CreateChildren
	spawn(ms(100), 5, 7) // written at once
	spawn(ms(200), 7, 8)
	spawn(ms(250), 8, 9) // with the one before, a spawnLogEvery after the first write
	spawn(ms(400), 9, 10)
	h.at(ms(450), func() { h.env.SignalWorkflow(workflows.SignalCloseChildren, closeChildren{}) })
	require.NoError(t, h.runChildren(in))

	var deferred []string
	for _, in := range f.inputs {
		deferred = append(deferred, fmt.Sprintf("first=%d n=%d deferLog=%v", in.FirstOrder, len(in.Children), in.DeferLog))
	}
	require.Equal(t, []string{
		fmt.Sprintf("first=%d n=5 deferLog=false", SpawnLogFrom-2),
		fmt.Sprintf("first=%d n=2 deferLog=true", SpawnLogFrom+3),
		fmt.Sprintf("first=%d n=1 deferLog=true", SpawnLogFrom+5),
		fmt.Sprintf("first=%d n=1 deferLog=true", SpawnLogFrom+6),
		fmt.Sprintf("first=%d n=1 deferLog=true", SpawnLogFrom+7),
	}, deferred)
	names := func(from, to int) string {
		var out []string
		for _, r := range reqs[from:to] {
			out = append(out, "Spawned child: "+r.Name)
		}
		return strings.Join(out, ", ")
	}
	var got []string
	for _, w := range h.stamped {
		got = append(got, fmt.Sprintf("%s %s", w.at.Sub(start), strings.Join(w.messages, ", ")))
	}
	require.Equal(t, []string{
		fmt.Sprintf("%s %s", ms(100), names(5, 7)),
		fmt.Sprintf("%s %s", ms(350), names(7, 9)),
		fmt.Sprintf("%s %s", ms(600), names(9, 10)),
	}, got)
}

// A run that continues as new or completes while its log loop waits
// between two writes of the parent's entries cancels that wait's timer
// first: a timer firing while the run's last workflow task completes makes
// the server refuse the task. Here the loop writes the first batch's
// entries at 1 s and waits until 1.25 s before writing the second's; the
// run, due to roll over at 1.06 s, writes them itself then and continues
// as new once its children (50 ms each) have ended.
func TestChildrenLeaveNoLogTimerAtTheirEnd(t *testing.T) {
	h := newHarness(t)
	h.mockChildrenTaking(50 * time.Millisecond)
	open := h.recordOpenSleeps()
	reqs := childRequests(6)
	h.at(time.Second, func() { h.update(workflows.UpdateRunChildren, reqs[0:3]) })
	h.at(1050*time.Millisecond, func() { h.update(workflows.UpdateRunChildren, reqs[3:5]) })
	h.at(1060*time.Millisecond, func() {
		h.env.SetContinueAsNewSuggested(true)
		h.update(workflows.UpdateRunChildren, reqs[5:6])
	})
	in := childrenInput()
	in.Pipelined = true
	in.NextOrder = SpawnLogFrom
	start := h.env.Now()
	next := continuedAs(t, h.runChildren(in))
	require.Equal(t, SpawnLogFrom+5, next.NextOrder)
	var written []string
	for _, w := range h.stamped {
		written = append(written, fmt.Sprintf("%s %s", w.at.Sub(start), strings.Join(w.messages, ", ")))
	}
	require.Equal(t, []string{
		"1s Spawned child: Child 1, Spawned child: Child 2, Spawned child: Child 3",
		"1.06s Spawned child: Child 4, Spawned child: Child 5",
	}, written)
	require.Equal(t, []int{0}, open[workflows.ChildrenName], "sleeps left waiting when the run continued as new")
}
