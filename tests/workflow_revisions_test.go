package tests

import (
	"slices"
	"testing"

	"github.com/stretchr/testify/require"
	enumspb "go.temporal.io/api/enums/v1"
	historypb "go.temporal.io/api/history/v1"
	"go.temporal.io/sdk/client"
	"go.temporal.io/sdk/worker"
	"go.temporal.io/sdk/workflow"

	"github.com/optio-temporal/optio/activities"
	"github.com/optio-temporal/optio/adapter"
	"github.com/optio-temporal/optio/workflows"
)

// Runs keep the workflow revision they started with: a revision-0 run (as
// an older engine started it) still takes its old path under the current
// code, and the histories of both revisions replay without nondeterminism.
func TestWorkflowRevisionsRunAndReplay(t *testing.T) {
	s := newSystem(t, adapter.Config{TaskDefinitions: staticTasks(
		adapter.TaskInstance{ProcessID: "old", Name: "Old", Execute: func(*adapter.ProcessContext) error { return nil }},
		adapter.TaskInstance{ProcessID: "new", Name: "New", Execute: func(*adapter.ProcessContext) error { return nil }},
	)})

	// Revision 0, started the way an older engine did: claim, then start
	// the workflow with no revision in its input.
	doc := s.get("old")
	_, err := s.eng.Store().Claim(s.ctx(), doc.ID)
	require.NoError(t, err)
	run, err := s.temporal().ExecuteWorkflow(s.ctx(), client.StartWorkflowOptions{
		ID: s.eng.WorkflowID("old"), TaskQueue: s.eng.TaskQueue(),
	}, workflows.ProcessName, workflows.ProcessInput{DocID: doc.ID.Hex(), ProcessID: "old", Name: "Old", IDPrefix: s.eng.WorkflowID("")})
	require.NoError(t, err)
	require.NoError(t, run.Get(s.ctx(), nil))
	require.Equal(t, adapter.StateDone, s.get("old").Status.State)

	s.run("new")

	history := func(id string) *historypb.History {
		h := &historypb.History{}
		it := s.temporal().GetWorkflowHistory(s.ctx(), s.eng.WorkflowID(id), "", false, enumspb.HISTORY_EVENT_FILTER_TYPE_ALL_EVENT)
		for it.HasNext() {
			ev, err := it.Next()
			require.NoError(t, err)
			h.Events = append(h.Events, ev)
		}
		return h
	}
	// What each revision does: markers (local activities) and the body's
	// task queue.
	shape := func(h *historypb.History) (markers int, bodyQueue string) {
		for _, ev := range h.Events {
			if ev.GetMarkerRecordedEventAttributes() != nil {
				markers++
			}
			if a := ev.GetActivityTaskScheduledEventAttributes(); a != nil && a.GetActivityType().GetName() == activities.BodyName {
				bodyQueue = a.GetTaskQueue().GetName()
			}
		}
		return markers, bodyQueue
	}
	oldHist, newHist := history("old"), history("new")
	markers, queue := shape(oldHist)
	require.Equal(t, 3, markers, "revision 0: StartRun, ClaimBody and Finish local activities")
	require.NotEqual(t, s.eng.TaskQueue(), queue, "revision 0: the body runs on the worker-specific queue")
	markers, queue = shape(newHist)
	require.Equal(t, 1, markers, "revision 1: StartRun (with the claim); the body activity writes the end")
	require.Equal(t, s.eng.TaskQueue(), queue, "revision 1: the body runs on the workflow's own queue")

	replayer := worker.NewWorkflowReplayer()
	replayer.RegisterWorkflowWithOptions(workflows.Process, workflow.RegisterOptions{Name: workflows.ProcessName})
	for name, h := range map[string]*historypb.History{"revision 0": oldHist, "revision 1": newHist} {
		require.True(t, slices.ContainsFunc(h.Events, func(ev *historypb.HistoryEvent) bool {
			return ev.GetWorkflowExecutionCompletedEventAttributes() != nil
		}), name)
		require.NoError(t, replayer.ReplayWorkflowHistory(nil, h), "replay %s", name)
	}
}
