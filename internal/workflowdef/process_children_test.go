package workflowdef

import (
	"fmt"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
	"go.temporal.io/sdk/converter"
	"go.temporal.io/sdk/temporal"
	"go.temporal.io/sdk/workflow"

	"github.com/optio-temporal/optio/activities"
	"github.com/optio-temporal/optio/internal/activitydef"
	"github.com/optio-temporal/optio/mirror"
	"github.com/optio-temporal/optio/workflows"
)

// recordChildrenWorkflow notes the start of the (real) children workflow a
// revision 2 process starts, and returns its inputs. The test environment
// reports a mocked child workflow started only once it has completed, which
// would deadlock a process waiting for the start; the real one runs on the
// mocked activities of mockChildren.
func (h *harness) recordChildrenWorkflow() *[]ChildrenInput {
	var inputs []ChildrenInput
	h.env.SetOnChildWorkflowStartedListener(func(info *workflow.Info, _ workflow.Context, args converter.EncodedValues) {
		if info.WorkflowType.Name != workflows.ChildrenName {
			return
		}
		var in ChildrenInput
		require.NoError(h.t, args.Get(&in))
		inputs = append(inputs, in)
		h.note("Children started")
	})
	return &inputs
}

// A revision 2 body opens its process's children workflow with an update:
// once per launch, however often it asks, and closed when the body returns
// (the children workflow then cancels the children if the body failed, and
// waits for them).
func TestProcessOpensItsChildrenWorkflow(t *testing.T) {
	cases := []struct {
		name           string
		setup          func(h *harness)
		openAt         []time.Duration
		want           []string
		wantReplies    []OpenChildrenReply
		wantCancelable bool
	}{
		{
			name:   "opened twice during the body, closed without a cancel when it completes",
			openAt: []time.Duration{10 * time.Second, 20 * time.Second},
			// No child was spawned: the children workflow has none to wait for.
			want:           []string{"StartRun+claim", "Body queue=optio attempt=1", "Children started", "Finish done"},
			wantReplies:    []OpenChildrenReply{{WorkflowID: "db/p1#children"}, {WorkflowID: "db/p1#children"}},
			wantCancelable: true,
		},
		{
			name: "closed with a cancel of the children when the body fails",
			setup: func(h *harness) {
				h.body = func(int, activitydef.BodyInput) (activitydef.BodyResult, error) {
					return activitydef.BodyResult{}, temporal.NewNonRetryableApplicationError("boom", activities.BodyFailedType, nil)
				}
			},
			openAt:         []time.Duration{10 * time.Second},
			want:           []string{"StartRun+claim", "Body queue=optio attempt=1", "Children started", "CancelChildren", "AwaitChildren", "Finish failed"},
			wantReplies:    []OpenChildrenReply{{WorkflowID: "db/p1#children"}},
			wantCancelable: true,
		},
		{
			name: "a process that is not cancellable gives its children workflow its flag",
			setup: func(h *harness) {
				start := h.startRun
				h.startRun = func(in activitydef.StartRunInput) (activitydef.StartRunResult, error) {
					r, err := start(in)
					r.Cancellable = false
					return r, err
				}
			},
			openAt:      []time.Duration{10 * time.Second},
			want:        []string{"StartRun+claim", "Body queue=optio attempt=1", "Children started", "Finish done"},
			wantReplies: []OpenChildrenReply{{WorkflowID: "db/p1#children"}},
		},
		{
			name: "refused once the body has returned",
			setup: func(h *harness) {
				h.bodyTakes = func(int) time.Duration { return 10 * time.Second }
				h.finishTakes = time.Minute
			},
			openAt:      []time.Duration{20 * time.Second},
			want:        []string{"StartRun+claim", "Body queue=optio attempt=1", "Finish done"},
			wantReplies: []OpenChildrenReply{{Refused: true}},
		},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			h := newHarness(t)
			h.bodyTakes = func(int) time.Duration { return time.Minute }
			h.mockChildren()
			inputs := h.recordChildrenWorkflow()
			if tc.setup != nil {
				tc.setup(h)
			}
			sent := make([]*updateOutcome, len(tc.openAt))
			for i, at := range tc.openAt {
				h.at(at, func() { sent[i] = h.update(workflows.UpdateOpenChildren) })
			}
			_, _ = h.runProcess(processInput(2))
			require.Equal(t, tc.want, h.Trail())
			for i, o := range sent {
				var reply OpenChildrenReply
				o.decode(t, &reply)
				require.Equal(t, tc.wantReplies[i], reply)
			}
			if len(*inputs) > 0 {
				in := (*inputs)[0]
				require.Equal(t, "doc-p1", in.ParentDocID)
				require.Equal(t, "db/p1", in.ParentWorkflowID)
				require.Equal(t, tc.wantCancelable, in.Cancellable)
				require.Equal(t, 2, in.Revision)
			}
		})
	}
}

// Revisions 0 and 1 start children from the process workflow itself: the
// update answers their workflow runs, a re-run body asking again gets the
// recorded end, and the process ends after its children.
func TestProcessRunsChildrenItself(t *testing.T) {
	h := newHarness(t)
	f := h.mockChildren()
	h.bodyTakes = func(int) time.Duration { return 10 * time.Minute }
	var first, again, late *updateOutcome
	h.at(10*time.Second, func() { first = h.update(workflows.UpdateRunChildren, childRequests(2)) })
	// The children end a minute after they start.
	h.at(5*time.Minute, func() { again = h.update(workflows.UpdateRunChildren, childRequests(1)) })
	h.at(11*time.Minute, func() { late = h.update(workflows.UpdateRunChildren, []ChildRequest{{ProcessID: "c3", Name: "Late"}}) })
	h.finishTakes = 2 * time.Minute
	res, err := h.runProcess(processInput(1))
	require.NoError(t, err)
	require.Equal(t, mirror.Done, res.State)

	var replies []ChildReply
	first.decode(t, &replies)
	require.Len(t, replies, 2)
	for i, r := range replies {
		// The test environment reports a mocked child started only when it
		// has ended, so the reply may already be the child's end.
		if r.WorkflowID == "" {
			require.Equal(t, ChildReply{State: mirror.Done}, r)
			continue
		}
		require.Equal(t, fmt.Sprintf("db/c%d", i+1), r.WorkflowID)
	}
	again.decode(t, &replies)
	require.Equal(t, []ChildReply{{State: mirror.Done}}, replies)
	late.decode(t, &replies)
	require.Equal(t, []ChildReply{{State: mirror.Cancelled, Refused: true}}, replies)

	require.Equal(t, []string{"StartRun+claim", "Body queue=optio attempt=1", "CreateChildren first=0 n=2", "Finish done"}, h.Trail())
	require.Len(t, f.inputs, 1)
	require.False(t, f.inputs[0].Known)
}

// The state query reports the body's queue and run while the body runs.
func TestProcessStateQuery(t *testing.T) {
	h := newHarness(t)
	h.bodyTakes = func(int) time.Duration { return time.Minute }
	var view workflows.StateView
	h.at(30*time.Second, func() {
		v, err := h.env.QueryWorkflow(workflows.QueryState)
		require.NoError(t, err)
		require.NoError(t, v.Get(&view))
	})
	_, err := h.runProcess(processInput(0))
	require.NoError(t, err)
	require.Equal(t, workflows.StateView{ProcessID: "p1", State: mirror.Running, BodyQueue: queueA, BodyRuns: 1}, view)
}
