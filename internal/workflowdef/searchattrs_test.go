package workflowdef

import (
	"testing"
	"time"

	"github.com/stretchr/testify/mock"
	"github.com/stretchr/testify/require"
	"go.temporal.io/sdk/converter"
	"go.temporal.io/sdk/temporal"
	"go.temporal.io/sdk/workflow"

	"github.com/optio-temporal/optio/internal/activitydef"
	"github.com/optio-temporal/optio/mirror"
	"github.com/optio-temporal/optio/workflows"
)

// saTrail is what a run did about its search attributes: the decision it
// recorded (a version marker, a side effect) and its upserts, in order.
type saTrail struct {
	versions, sideEffects int
	upserts               []map[string]any
}

// watchSearchAttrs mocks the calls by which a run decides and upserts its
// search attributes, and records them. wanted is what the recorded decision
// answers (a worker's ProcessOptions.SearchAttributes).
func (h *harness) watchSearchAttrs(wanted bool) *saTrail {
	tr := &saTrail{}
	h.env.OnGetVersion(searchAttributesChange, workflow.DefaultVersion, 1).Run(func(mock.Arguments) { tr.versions++ }).Return(workflow.Version(1)).Maybe()
	h.env.OnSideEffect().Run(func(mock.Arguments) { tr.sideEffects++ }).Return(wanted).Maybe()
	h.env.OnUpsertTypedSearchAttributes(mock.Anything).Run(func(args mock.Arguments) {
		sa := args.Get(0).(temporal.SearchAttributes)
		got := map[string]any{}
		for k, v := range sa.GetUntypedValues() {
			got[k.GetName()] = v
		}
		tr.upserts = append(tr.upserts, got)
	}).Return().Maybe()
	return tr
}

// startedWith runs a process with the search attributes its launcher set.
func (h *harness) startedWith(in ProcessInput, sa temporal.SearchAttributes) {
	require.NoError(h.t, h.env.SetTypedSearchAttributesOnStart(sa))
	_, err := h.runProcess(in)
	require.NoError(h.t, err)
}

// From revision 3 the launcher sets a run's search attributes at start and
// says so in its input: the run records no decision (no version marker, no
// side effect) and makes no first upsert; it moves OptioState to running
// and to its end, whatever the worker's own setting.
func TestSearchAttrsRevision3SetAtStart(t *testing.T) {
	h := newHarness(t) // a worker that keeps no search attributes itself
	tr := h.watchSearchAttrs(false)
	h.startRun = func(activitydef.StartRunInput) (activitydef.StartRunResult, error) {
		return activitydef.StartRunResult{
			Started: true, State: mirror.Running, Cancellable: true,
			Metadata: map[string]any{"group": "a", "size": 3},
			Claim:    activitydef.ClaimBodyResult{Queue: queueA, Local: true},
		}, nil
	}
	in := processInput(3)
	in.SearchAttributes = true
	h.startedWith(in, StartSearchAttributes("p1", "p1", "", []string{"group=a", "size=3"}))

	require.Zero(t, tr.versions, "no version marker")
	require.Zero(t, tr.sideEffects, "no side effect")
	require.Equal(t, []map[string]any{
		{workflows.SearchAttrState: "running"},
		{workflows.SearchAttrState: "done"},
	}, tr.upserts, "the metadata set at start is not set again")
	require.Equal(t, []string{"StartRun+claim", "Body queue=optio attempt=1", "Finish done"}, h.Trail())
}

// Metadata that changed between the launch and StartRun is set with the
// running state.
func TestSearchAttrsRevision3NewMetadata(t *testing.T) {
	h := newHarness(t)
	tr := h.watchSearchAttrs(false)
	h.startRun = func(activitydef.StartRunInput) (activitydef.StartRunResult, error) {
		return activitydef.StartRunResult{
			Started: true, State: mirror.Running, Cancellable: true,
			Metadata: map[string]any{"group": "b"},
			Claim:    activitydef.ClaimBodyResult{Queue: queueA, Local: true},
		}, nil
	}
	in := processInput(3)
	in.SearchAttributes = true
	h.startedWith(in, StartSearchAttributes("p1", "p1", "", []string{"group=a"}))
	require.Equal(t, []map[string]any{
		{workflows.SearchAttrState: "running", workflows.SearchAttrMetadata: []string{"group=b"}},
		{workflows.SearchAttrState: "done"},
	}, tr.upserts)
}

// A revision-3 run whose launcher kept no search attributes keeps none,
// even on a worker that would.
func TestSearchAttrsRevision3Off(t *testing.T) {
	h := newHarness(t)
	h.env.RegisterWorkflowWithOptions(NewProcess(ProcessOptions{SearchAttributes: true}), workflow.RegisterOptions{Name: "test.ProcessWithSA"})
	tr := h.watchSearchAttrs(true)
	in := processInput(3)
	h.env.SetStartWorkflowOptions(startOptions(in))
	h.env.ExecuteWorkflow("test.ProcessWithSA", in)
	require.True(t, h.env.IsWorkflowCompleted())
	require.NoError(t, h.env.GetWorkflowError())
	require.Zero(t, tr.versions)
	require.Zero(t, tr.sideEffects)
	require.Empty(t, tr.upserts)
}

// A revision-3 run cancelled before its first workflow task moves
// OptioState from scheduled to cancelled.
func TestSearchAttrsRevision3CancelledBeforeStart(t *testing.T) {
	h := newHarness(t)
	tr := h.watchSearchAttrs(false)
	in := processInput(3)
	in.SearchAttributes = true
	require.NoError(t, h.env.SetTypedSearchAttributesOnStart(StartSearchAttributes("p1", "p1", "", nil)))
	h.at(0, func() { h.env.CancelWorkflow() })
	h.startRun = func(activitydef.StartRunInput) (activitydef.StartRunResult, error) {
		return activitydef.StartRunResult{State: mirror.Cancelled}, nil
	}
	_, err := h.runProcess(in)
	var canceled *temporal.CanceledError
	require.ErrorAs(t, err, &canceled)
	require.Zero(t, tr.versions)
	last := tr.upserts[len(tr.upserts)-1]
	require.Equal(t, map[string]any{workflows.SearchAttrState: "cancelled"}, last)
}

// Older revisions keep deciding in the run, as their histories recorded:
// a version marker, a side effect with the worker's setting, and the
// identity upserted first.
func TestSearchAttrsRevision2DecidesInTheRun(t *testing.T) {
	h := newHarness(t)
	h.env.RegisterWorkflowWithOptions(NewProcess(ProcessOptions{SearchAttributes: true}), workflow.RegisterOptions{Name: "test.ProcessWithSA"})
	tr := h.watchSearchAttrs(true)
	h.startRun = func(activitydef.StartRunInput) (activitydef.StartRunResult, error) {
		return activitydef.StartRunResult{
			Started: true, State: mirror.Running, Cancellable: true,
			Metadata: map[string]any{"group": "a"},
			Claim:    activitydef.ClaimBodyResult{Queue: queueA, Local: true},
		}, nil
	}
	in := processInput(2)
	in.SearchAttributes = true // ignored before revision 3
	h.env.SetStartWorkflowOptions(startOptions(in))
	h.env.ExecuteWorkflow("test.ProcessWithSA", in)
	require.True(t, h.env.IsWorkflowCompleted())
	require.NoError(t, h.env.GetWorkflowError())
	require.Equal(t, 1, tr.versions)
	require.Equal(t, 1, tr.sideEffects)
	require.Equal(t, []map[string]any{
		{workflows.SearchAttrProcessID: "p1", workflows.SearchAttrRootProcessID: "p1", workflows.SearchAttrState: "scheduled"},
		{workflows.SearchAttrState: "running", workflows.SearchAttrMetadata: []string{"group=a"}},
		{workflows.SearchAttrState: "done"},
	}, tr.upserts)
}

// The children workflow of a revision-3 process starts each child with its
// search attributes set: its identity, its parent and root, state
// scheduled, and the metadata it inherits; and says so in its input.
func TestSearchAttrsChildrenStartWithThem(t *testing.T) {
	h := newHarness(t)
	h.mockChildren()
	type started struct {
		in ProcessInput
		sa map[string]any
	}
	var got []started
	h.env.SetOnChildWorkflowStartedListener(func(info *workflow.Info, ctx workflow.Context, args converter.EncodedValues) {
		var in ProcessInput
		require.NoError(t, args.Get(&in))
		sa := map[string]any{}
		for k, v := range workflow.GetTypedSearchAttributes(ctx).GetUntypedValues() {
			sa[k.GetName()] = v
		}
		got = append(got, started{in, sa})
	})
	h.at(time.Second, func() { h.update(workflows.UpdateRunChildren, childRequests(1)) })
	h.at(2*time.Second, func() { h.env.SignalWorkflow(workflows.SignalCloseChildren, closeChildren{}) })
	in := childrenInput()
	in.Revision = 3
	in.SearchAttributes = &ChildSearchAttributes{RootProcessID: "root", Metadata: []string{"group=a"}}
	_ = h.runChildren(in)

	require.Len(t, got, 1)
	require.True(t, got[0].in.SearchAttributes)
	require.Equal(t, 3, got[0].in.Revision)
	require.Equal(t, map[string]any{
		workflows.SearchAttrProcessID:       "c1",
		workflows.SearchAttrRootProcessID:   "root",
		workflows.SearchAttrParentProcessID: "p1",
		workflows.SearchAttrState:           "scheduled",
		workflows.SearchAttrMetadata:        []string{"group=a"},
	}, got[0].sa)
}

// A children workflow without them (an older revision, or a process that
// keeps none) starts children without search attributes.
func TestSearchAttrsChildrenStartWithoutThem(t *testing.T) {
	h := newHarness(t)
	h.mockChildren()
	var ins []ProcessInput
	var sas []int
	h.env.SetOnChildWorkflowStartedListener(func(_ *workflow.Info, ctx workflow.Context, args converter.EncodedValues) {
		var in ProcessInput
		require.NoError(t, args.Get(&in))
		ins = append(ins, in)
		sas = append(sas, workflow.GetTypedSearchAttributes(ctx).Size())
	})
	h.at(time.Second, func() { h.update(workflows.UpdateRunChildren, childRequests(1)) })
	h.at(2*time.Second, func() { h.env.SignalWorkflow(workflows.SignalCloseChildren, closeChildren{}) })
	in := childrenInput()
	in.Revision = 2
	_ = h.runChildren(in)
	require.Len(t, ins, 1)
	require.False(t, ins[0].SearchAttributes)
	require.Equal(t, []int{0}, sas)
}

// A revision-3 process hands its root and metadata to its children
// workflow, which starts the children with them.
func TestSearchAttrsProcessHandsThemToItsChildren(t *testing.T) {
	h := newHarness(t)
	h.watchSearchAttrs(false)
	var helperIn *ChildrenInput
	h.env.OnWorkflow(workflows.ChildrenName, mock.Anything, mock.Anything).Return(
		func(_ workflow.Context, in ChildrenInput) error {
			helperIn = &in
			return nil
		}).Maybe()
	h.startRun = func(activitydef.StartRunInput) (activitydef.StartRunResult, error) {
		return activitydef.StartRunResult{
			Started: true, State: mirror.Running, Cancellable: true,
			Metadata: map[string]any{"group": "a"},
			Claim:    activitydef.ClaimBodyResult{Queue: queueA, Local: true},
		}, nil
	}
	h.body = func(int, activitydef.BodyInput) (activitydef.BodyResult, error) {
		return activitydef.BodyResult{SpawnedChildren: true}, nil
	}
	h.bodyTakes = func(int) time.Duration { return 5 * time.Second }
	h.at(time.Second, func() { h.update(workflows.UpdateOpenChildren) })
	in := processInput(3)
	in.SearchAttributes = true
	h.startedWith(in, StartSearchAttributes("p1", "root", "parent", []string{"group=a"}))
	require.NotNil(t, helperIn, "the children workflow was started")
	require.Equal(t, &ChildSearchAttributes{RootProcessID: "root", Metadata: []string{"group=a"}}, helperIn.SearchAttributes)
}
