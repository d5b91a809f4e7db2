package tests

import (
	"fmt"
	"slices"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
	historypb "go.temporal.io/api/history/v1"
	"go.temporal.io/sdk/client"
	"go.temporal.io/sdk/worker"
	"go.temporal.io/sdk/workflow"

	"github.com/optio-temporal/optio/activities"
	"github.com/optio-temporal/optio/adapter"
	"github.com/optio-temporal/optio/internal/docstore"
	"github.com/optio-temporal/optio/internal/workflowdef"
	"github.com/optio-temporal/optio/workflows"
)

// Runs keep the workflow revision they started with: revision-0 to 3 runs
// (as older engines started them) still take their old paths under the
// current code, and the histories of every revision, and of the children
// workflow, replay without nondeterminism.
func TestWorkflowRevisionsRunAndReplay(t *testing.T) {
	withChild := func(pc *adapter.ProcessContext) error {
		_, err := pc.RunChild(adapter.ChildSpec{ProcessID: pc.ProcessID() + "/child", Name: "Child", Execute: func(*adapter.ProcessContext) error { return nil }})
		return err
	}
	s := newSystem(t, adapter.Config{TaskDefinitions: staticTasks(
		adapter.TaskInstance{ProcessID: "old", Name: "Old", Execute: func(*adapter.ProcessContext) error { return nil }},
		adapter.TaskInstance{ProcessID: "rev1", Name: "Rev1", Execute: withChild},
		adapter.TaskInstance{ProcessID: "rev2", Name: "Rev2", Execute: func(*adapter.ProcessContext) error { return nil }},
		adapter.TaskInstance{ProcessID: "rev3", Name: "Rev3", Execute: func(*adapter.ProcessContext) error { return nil }},
		adapter.TaskInstance{ProcessID: "new", Name: "New", Execute: func(*adapter.ProcessContext) error { return nil }},
		adapter.TaskInstance{ProcessID: "parent", Name: "Parent", Execute: withChild},
		adapter.TaskInstance{ProcessID: "group", Name: "Group", Execute: func(pc *adapter.ProcessContext) error {
			g := pc.ParallelGroup(adapter.GroupOptions{MaxConcurrency: 20})
			for i := range bigGroup {
				if err := g.Spawn(adapter.ChildSpec{ProcessID: fmt.Sprintf("group/%03d", i), Name: "Item", Execute: func(*adapter.ProcessContext) error { return nil }}); err != nil {
					return err
				}
			}
			_, err := g.Wait()
			return err
		}},
	)})

	// Revision 0, started the way an older engine did: claim, then start
	// the workflow with no revision in its input.
	// The claim is the engine's own write: a store of this test's makes it.
	store := docstore.NewStore(s.eng.Config().Mongo, s.eng.Config().Prefix)
	doc := s.get("old")
	_, err := store.Claim(s.ctx(), doc.ID)
	require.NoError(t, err)
	run, err := s.temporal().ExecuteWorkflow(s.ctx(), client.StartWorkflowOptions{
		ID: s.eng.WorkflowID("old"), TaskQueue: s.eng.TaskQueue(),
	}, workflows.ProcessName, workflowdef.ProcessInput{DocID: doc.ID.Hex(), ProcessID: "old", Name: "Old", IDPrefix: s.eng.WorkflowID("")})
	require.NoError(t, err)
	require.NoError(t, run.Get(s.ctx(), nil))
	require.Equal(t, adapter.StateDone, s.get("old").Status.State)

	// Revision 1, with a child: the process workflow starts it itself.
	doc = s.get("rev1")
	_, err = store.Claim(s.ctx(), doc.ID)
	require.NoError(t, err)
	run, err = s.temporal().ExecuteWorkflow(s.ctx(), client.StartWorkflowOptions{
		ID: s.eng.WorkflowID("rev1"), TaskQueue: s.eng.TaskQueue(),
	}, workflows.ProcessName, workflowdef.ProcessInput{DocID: doc.ID.Hex(), ProcessID: "rev1", Name: "Rev1", IDPrefix: s.eng.WorkflowID(""), Revision: 1})
	require.NoError(t, err)
	require.NoError(t, run.Get(s.ctx(), nil))
	require.Equal(t, adapter.StateDone, s.get("rev1").Status.State)
	require.Equal(t, adapter.StateDone, s.get("rev1/child").Status.State)

	// Revision 2: the run decides about its search attributes itself.
	doc = s.get("rev2")
	_, err = store.Claim(s.ctx(), doc.ID)
	require.NoError(t, err)
	run, err = s.temporal().ExecuteWorkflow(s.ctx(), client.StartWorkflowOptions{
		ID: s.eng.WorkflowID("rev2"), TaskQueue: s.eng.TaskQueue(),
	}, workflows.ProcessName, workflowdef.ProcessInput{DocID: doc.ID.Hex(), ProcessID: "rev2", Name: "Rev2", IDPrefix: s.eng.WorkflowID(""), Revision: 2})
	require.NoError(t, err)
	require.NoError(t, run.Get(s.ctx(), nil))
	require.Equal(t, adapter.StateDone, s.get("rev2").Status.State)

	// Revision 3: the launcher sets the search attributes; the body runs in
	// a body activity.
	doc = s.get("rev3")
	_, err = store.Claim(s.ctx(), doc.ID)
	require.NoError(t, err)
	run, err = s.temporal().ExecuteWorkflow(s.ctx(), client.StartWorkflowOptions{
		ID: s.eng.WorkflowID("rev3"), TaskQueue: s.eng.TaskQueue(),
		TypedSearchAttributes: workflowdef.StartSearchAttributes("rev3", "rev3", "", nil),
	}, workflows.ProcessName, workflowdef.ProcessInput{
		DocID: doc.ID.Hex(), ProcessID: "rev3", Name: "Rev3", IDPrefix: s.eng.WorkflowID(""), Revision: 3, SearchAttributes: true,
		Timeouts: workflowdef.Timeouts{InlineBody: time.Second}, // ignored before revision 4
	})
	require.NoError(t, err)
	require.NoError(t, run.Get(s.ctx(), nil))
	require.Equal(t, adapter.StateDone, s.get("rev3").Status.State)

	s.run("new")
	s.run("parent")
	require.Equal(t, adapter.StateDone, s.get("parent/child").Status.State)

	history := func(id string) *historypb.History { return s.runHistory(id, "") }
	// runsOf returns the histories of every run of a workflow that continues
	// as new, oldest first.
	runsOf := func(id string) []*historypb.History {
		var out []*historypb.History
		for h := s.runHistory(id, ""); ; {
			out = append([]*historypb.History{h}, out...)
			prev := h.Events[0].GetWorkflowExecutionStartedEventAttributes().GetContinuedExecutionRunId()
			if prev == "" {
				return out
			}
			h = s.runHistory(id, prev)
		}
	}
	// What each revision does: markers (local activities) and the body's
	// task queue.
	shape := func(h *historypb.History) (markers int, bodyQueue string) {
		for _, ev := range h.Events {
			// Local activities only: a run before revision 3 also records
			// a version marker and a side effect for its search attributes.
			if ev.GetMarkerRecordedEventAttributes().GetMarkerName() == "LocalActivity" {
				markers++
			}
			if a := ev.GetActivityTaskScheduledEventAttributes(); a != nil && a.GetActivityType().GetName() == activities.BodyName {
				bodyQueue = a.GetTaskQueue().GetName()
			}
		}
		return markers, bodyQueue
	}
	oldHist, rev3Hist, newHist := history("old"), history("rev3"), history("new")
	markers, queue := shape(oldHist)
	require.Equal(t, 3, markers, "revision 0: StartRun, ClaimBody and Finish local activities")
	require.NotEqual(t, s.eng.TaskQueue(), queue, "revision 0: the body runs on the worker-specific queue")
	markers, queue = shape(rev3Hist)
	require.Equal(t, 1, markers, "revisions 1 to 3: StartRun (with the claim); the body activity writes the end")
	require.Equal(t, s.eng.TaskQueue(), queue, "revisions 1 to 3: the body runs on the workflow's own queue")
	markers, queue = shape(newHist)
	require.Equal(t, 2, markers, "revision 4: StartRun, then the body inline, which writes the end")
	require.Empty(t, queue, "revision 4: a short body needs no body activity")
	require.Equal(t, 1, workflowTasks(newHist), "revision 4: a short process is one workflow task")

	// Search attributes: decided and first set in the run (revision 2), or
	// set by the launcher at start (revision 3 and later).
	saShape := func(h *historypb.History) (markers, upserts int, atStart bool) {
		for _, ev := range h.Events {
			if ev.GetMarkerRecordedEventAttributes() != nil {
				markers++
			}
			if ev.GetUpsertWorkflowSearchAttributesEventAttributes() != nil {
				upserts++
			}
		}
		fields := h.Events[0].GetWorkflowExecutionStartedEventAttributes().GetSearchAttributes().GetIndexedFields()
		return markers, upserts, fields[workflows.SearchAttrState] != nil
	}
	rev2Hist := history("rev2")
	markers, upserts, atStart := saShape(rev2Hist)
	require.Equal(t, []any{3, 4, false}, []any{markers, upserts, atStart}, "revision 2: version, side effect, StartRun; the version's TemporalChangeVersion, scheduled, running, done")
	markers, upserts, atStart = saShape(rev3Hist)
	require.Equal(t, []any{1, 2, true}, []any{markers, upserts, atStart}, "revision 3: StartRun only; running, done")
	markers, upserts, atStart = saShape(newHist)
	require.Equal(t, []any{2, 1, true}, []any{markers, upserts, atStart}, "revision 4: StartRun and the inline body; done (it never showed running)")
	markers, upserts, atStart = saShape(history("parent/child"))
	require.Equal(t, []any{2, 1, true}, []any{markers, upserts, atStart}, "revision 4, a child its children workflow started")
	markers, upserts, atStart = saShape(history("parent"))
	require.Equal(t, []any{3, 2, true}, []any{markers, upserts, atStart}, "revision 4, a body that goes on in a body activity: running, done")

	// Who starts a child: the process workflow itself (revision 1), or its
	// children workflow (revision 2 and later).
	childStarts := func(h *historypb.History) (out []string) {
		for _, ev := range h.Events {
			if a := ev.GetStartChildWorkflowExecutionInitiatedEventAttributes(); a != nil {
				out = append(out, a.GetWorkflowId())
			}
		}
		return out
	}
	rev1Hist, parentHist := history("rev1"), history("parent")
	// The parent's body asks for a child, which only its workflow can
	// start: it is let go from the inline local activity, and a body
	// activity takes it over.
	markers, queue = shape(parentHist)
	require.Equal(t, []any{3, s.eng.TaskQueue()}, []any{markers, queue}, "revision 4 with a child: StartRun, the inline body, Finish; the body activity that took it over")
	helperRuns := runsOf("parent" + workflows.ChildrenIDSuffix)
	require.Equal(t, []string{s.eng.WorkflowID("rev1/child")}, childStarts(rev1Hist))
	require.Equal(t, []string{s.eng.WorkflowID("parent" + workflows.ChildrenIDSuffix)}, childStarts(parentHist))
	require.Equal(t, []string{s.eng.WorkflowID("parent/child")}, childStarts(helperRuns[0]), "the first run starts the child")
	require.Len(t, helperRuns, 1, "the children workflow waits for its last children in the run that started them")
	helperHist := helperRuns[0]
	require.True(t, slices.ContainsFunc(helperHist.Events, func(ev *historypb.HistoryEvent) bool {
		return ev.GetChildWorkflowExecutionCompletedEventAttributes() != nil
	}), "the child's end is in the run that started it")

	// A group past a hundred children: their parent's entries are written
	// apart from the inserts.
	s.run("group")
	group := s.get("group")
	require.Equal(t, adapter.StateDone, group.Status.State)
	spawned := 0
	for _, e := range group.Log {
		if e.Message == "Spawned child: Item" {
			spawned++
		}
	}
	require.Equal(t, bigGroup, spawned)

	replayer := newReplayer()
	histories := map[string]*historypb.History{
		"revision 0": oldHist, "revision 1": rev1Hist, "revision 2": rev2Hist,
		"revision 3": rev3Hist, "revision 4": newHist, "revision 4 with a child": parentHist,
		"children workflow": helperHist,
	}
	groupRuns := runsOf("group" + workflows.ChildrenIDSuffix)
	require.True(t, slices.ContainsFunc(groupRuns[len(groupRuns)-1].Events, func(ev *historypb.HistoryEvent) bool {
		return ev.GetMarkerRecordedEventAttributes().GetMarkerName() == "Version"
	}), "the group's children workflow records the version that writes entries apart")
	for i, h := range groupRuns {
		histories[fmt.Sprintf("children workflow of a group run %d", i+1)] = h
	}
	for name, h := range histories {
		require.True(t, slices.ContainsFunc(h.Events, func(ev *historypb.HistoryEvent) bool {
			return ev.GetWorkflowExecutionCompletedEventAttributes() != nil || ev.GetWorkflowExecutionContinuedAsNewEventAttributes() != nil
		}), name)
		require.NoError(t, replayer.ReplayWorkflowHistory(nil, h), "replay %s", name)
	}
	recordHistories(t, histories)
}

// bigGroup is the size of the group whose children workflow
// TestWorkflowRevisionsRunAndReplay records: past the hundredth child.
const bigGroup = 120

// workflowTasks counts the workflow tasks a run completed.
func workflowTasks(h *historypb.History) int {
	n := 0
	for _, ev := range h.Events {
		if ev.GetWorkflowTaskCompletedEventAttributes() != nil {
			n++
		}
	}
	return n
}

// newReplayer returns a replayer with the workflows of this module.
func newReplayer() worker.WorkflowReplayer {
	replayer := worker.NewWorkflowReplayer()
	replayer.RegisterWorkflowWithOptions(workflowdef.Process, workflow.RegisterOptions{Name: workflows.ProcessName})
	replayer.RegisterWorkflowWithOptions(workflowdef.Children, workflow.RegisterOptions{Name: workflows.ChildrenName})
	return replayer
}
