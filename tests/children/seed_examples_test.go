package children

import (
	"errors"
	"fmt"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	enumspb "go.temporal.io/api/enums/v1"

	"github.com/optio-temporal/optio/adapter"
	"github.com/optio-temporal/optio/workflows"
)

func phase(pc *adapter.ProcessContext) error {
	pc.ReportProgress(50, "half way")
	pc.ReportProgress(100, "")
	return nil
}

// The seed's "Sequential Children" example: phases run one after the other,
// each a child document under the parent and a child workflow in Temporal.
func TestSeedSequentialChildren(t *testing.T) {
	var params []any
	parent := adapter.TaskInstance{ProcessID: "parent-task", Name: "Parent", Metadata: map[string]any{"customer": "2"},
		Execute: func(pc *adapter.ProcessContext) error {
			pc.ReportProgress(0, "Starting phase 1")
			state, err := pc.RunChild(adapter.ChildSpec{
				Execute: func(c *adapter.ProcessContext) error {
					params = append(params, c.Params()["key"])
					return phase(c)
				},
				ProcessID: pc.ProcessID() + "/phase-1", Name: "Phase 1",
				Params: map[string]any{"key": "value"},
			})
			if err != nil {
				return err
			}
			if state != adapter.StateDone {
				return fmt.Errorf("phase 1 ended %s", state)
			}
			pc.ReportProgress(50, "Starting phase 2")
			if _, err := pc.RunChild(adapter.ChildSpec{Execute: phase, ProcessID: pc.ProcessID() + "/phase-2", Name: "Phase 2"}); err != nil {
				return err
			}
			pc.ReportProgress(100, "Complete")
			return nil
		}}
	h := newHarness(t, parent)
	p, err := h.eng.LaunchAndWait(h.ctx, "parent-task")
	require.NoError(t, err)
	require.Equal(t, adapter.StateDone, p.Status.State, "error: %v", p.Status.Error)
	assert.Equal(t, []any{"value"}, params)

	kids := h.children(p)
	require.Len(t, kids, 2)
	for i, k := range kids {
		assert.Equal(t, fmt.Sprintf("parent-task/phase-%d", i+1), k.ProcessID)
		assert.Equal(t, fmt.Sprintf("Phase %d", i+1), k.Name)
		assert.Equal(t, p.ID, *k.ParentID)
		assert.Equal(t, p.ID, k.RootID)
		assert.Equal(t, 1, k.Depth)
		assert.Equal(t, i, k.Order)
		assert.Equal(t, map[string]any{"customer": "2"}, k.Metadata, "children inherit the parent's metadata")
		assert.Equal(t, adapter.StateDone, k.Status.State)
		assert.NotNil(t, k.Status.DoneAt)
		require.NotEmpty(t, k.Log)
		assert.Equal(t, "State changed to running", k.Log[0].Message, "a child's log starts at running")
	}
	var msgs []string
	for _, l := range p.Log {
		msgs = append(msgs, l.Message)
	}
	assert.Equal(t, []string{
		"State changed to scheduled", "State changed to running", "Starting phase 1",
		"Spawned child: Phase 1", "Starting phase 2", "Spawned child: Phase 2", "Complete", "State changed to done",
	}, msgs)

	// The Web UI lists the children under the parent: the parent's workflow
	// starts its children workflow ({id}#children), which starts the
	// children as its own child workflows.
	// startedBy lists the child workflows a workflow started, over all its
	// runs (the children workflow continues as new), oldest first.
	startedBy := func(wfID string) []string {
		var started []string
		for runID := ""; ; {
			hist := h.env.Temporal.Client.GetWorkflowHistory(h.ctx, wfID, runID, false, enumspb.HISTORY_EVENT_FILTER_TYPE_ALL_EVENT)
			var run []string
			prev := ""
			for hist.HasNext() {
				ev, err := hist.Next()
				require.NoError(t, err)
				if a := ev.GetWorkflowExecutionStartedEventAttributes(); a != nil {
					prev = a.GetContinuedExecutionRunId()
				}
				if a := ev.GetStartChildWorkflowExecutionInitiatedEventAttributes(); a != nil {
					run = append(run, a.GetWorkflowId())
				}
			}
			started = append(run, started...)
			if prev == "" {
				return started
			}
			runID = prev
		}
	}
	helper := h.eng.WorkflowID("parent-task") + workflows.ChildrenIDSuffix
	assert.Equal(t, []string{helper}, startedBy(h.eng.WorkflowID("parent-task")))
	assert.Equal(t, []string{h.eng.WorkflowID("parent-task/phase-1"), h.eng.WorkflowID("parent-task/phase-2")}, startedBy(helper))
	desc, err := h.env.Temporal.Client.DescribeWorkflowExecution(h.ctx, h.eng.WorkflowID("parent-task/phase-2"), "")
	require.NoError(t, err)
	assert.Equal(t, helper, desc.GetWorkflowExecutionInfo().GetParentExecution().GetWorkflowId())
	desc, err = h.env.Temporal.Client.DescribeWorkflowExecution(h.ctx, helper, "")
	require.NoError(t, err)
	assert.Equal(t, h.eng.WorkflowID("parent-task"), desc.GetWorkflowExecutionInfo().GetParentExecution().GetWorkflowId())
}

// The seed's "Parallel Children" example with survive_failure: the group
// finishes, results list every child in spawn order and the parent is done.
func TestSeedParallelGroupSurvivesFailure(t *testing.T) {
	items := []string{"a", "b", "c", "d", "e", "f"}
	var report string
	parent := adapter.TaskInstance{ProcessID: "parallel", Name: "Parallel",
		Execute: func(pc *adapter.ProcessContext) error {
			group := pc.ParallelGroup(adapter.GroupOptions{MaxConcurrency: 5, SurviveFailure: true})
			for i, item := range items {
				err := group.Spawn(adapter.ChildSpec{
					Execute: func(c *adapter.ProcessContext) error {
						if c.Params()["item"] == "c" {
							return errors.New("item c is broken")
						}
						return nil
					},
					ProcessID: fmt.Sprintf("%s/item-%d", pc.ProcessID(), i),
					Name:      "Process " + item,
					Params:    map[string]any{"item": item},
				})
				if err != nil {
					return err
				}
			}
			results, err := group.Wait()
			if err != nil {
				return err
			}
			failed := 0
			for _, r := range results {
				report += fmt.Sprintf("%s=%s;", r.ProcessID, r.State)
				if r.State != adapter.StateDone {
					failed++
				}
			}
			pc.ReportProgress(100, fmt.Sprintf("Done, %d failures", failed))
			return nil
		}}
	h := newHarness(t, parent)
	p, err := h.eng.LaunchAndWait(h.ctx, "parallel")
	require.NoError(t, err)
	require.Equal(t, adapter.StateDone, p.Status.State, "error: %v", p.Status.Error)
	assert.Equal(t, "parallel/item-0=done;parallel/item-1=done;parallel/item-2=failed;parallel/item-3=done;parallel/item-4=done;parallel/item-5=done;", report)
	assert.Equal(t, "Done, 1 failures", *p.Progress.Message)
	kids := h.children(p)
	require.Len(t, kids, len(items))
	orders := map[int]bool{}
	for _, k := range kids {
		orders[k.Order] = true
		if k.ProcessID == "parallel/item-2" {
			assert.Equal(t, adapter.StateFailed, k.Status.State)
			assert.Equal(t, "item c is broken", *k.Status.Error)
		} else {
			assert.Equal(t, adapter.StateDone, k.Status.State)
		}
	}
	assert.Len(t, orders, len(items), "every child has its own order number")
}
