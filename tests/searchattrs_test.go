package tests

import (
	"encoding/json"
	"fmt"
	"slices"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
	"go.temporal.io/api/workflowservice/v1"

	"github.com/optio-temporal/optio/adapter"
	"github.com/optio-temporal/optio/workflows"
)

// Every process workflow carries optio's search attributes, kept current, so
// that a visibility query by optio's terms (as an operator types it into the
// Web UI) lists exactly the right workflows.
func TestSearchAttributesFindProcesses(t *testing.T) {
	g := newGate(t)
	defer g.open()
	parent := func(pc *adapter.ProcessContext) error {
		group := pc.ParallelGroup(adapter.GroupOptions{MaxConcurrency: 3})
		for i := range 3 {
			if err := group.Spawn(adapter.ChildSpec{ProcessID: fmt.Sprintf("sa-tree/c%d", i), Name: "Child", Execute: g.cooperative}); err != nil {
				return err
			}
		}
		_, err := group.Wait()
		return err
	}
	s := newSystem(t, adapter.Config{TaskDefinitions: staticTasks(
		adapter.TaskInstance{ProcessID: "sa-tree", Name: "Tree", Execute: parent, Metadata: map[string]any{"group": "sa", "size": 3}},
		adapter.TaskInstance{ProcessID: "sa-lone", Name: "Lone", Execute: g.cooperative, Metadata: map[string]any{"group": "other"}},
	)})
	s.launch("sa-tree")
	s.launch("sa-lone")
	for _, id := range []string{"sa-tree/c0", "sa-tree/c1", "sa-tree/c2", "sa-lone"} {
		s.waitState(id, adapter.StateRunning)
	}

	// list returns the processIds of the workflows a query finds, sorted.
	list := func(query string) []string {
		resp, err := s.temporal().ListWorkflow(s.ctx(), &workflowservice.ListWorkflowExecutionsRequest{Query: query})
		require.NoError(t, err, query)
		var ids []string
		for _, e := range resp.Executions {
			var id string
			f := e.GetSearchAttributes().GetIndexedFields()[workflows.SearchAttrProcessID]
			require.NotNil(t, f, "workflow %s has no %s", e.GetExecution().GetWorkflowId(), workflows.SearchAttrProcessID)
			require.NoError(t, json.Unmarshal(f.GetData(), &id))
			ids = append(ids, id)
		}
		slices.Sort(ids)
		return ids
	}
	expect := func(query string, want ...string) {
		t.Helper()
		deadline := time.Now().Add(patience)
		var got []string
		for time.Now().Before(deadline) {
			if got = list(query); slices.Equal(got, want) {
				return
			}
			time.Sleep(50 * time.Millisecond)
		}
		t.Fatalf("query %s: got %v, want %v", query, got, want)
	}
	// Each test has its own database, so its workflow IDs have their own prefix.
	mine := fmt.Sprintf(" AND WorkflowId STARTS_WITH %q", s.eng.WorkflowID(""))
	expect(`OptioRootProcessId = "sa-tree"`+mine, "sa-tree", "sa-tree/c0", "sa-tree/c1", "sa-tree/c2")
	expect(`OptioParentProcessId = "sa-tree"`+mine, "sa-tree/c0", "sa-tree/c1", "sa-tree/c2")
	expect(`OptioState = "running"`+mine, "sa-lone", "sa-tree", "sa-tree/c0", "sa-tree/c1", "sa-tree/c2")
	// Children carry their parent's metadata, as their documents do.
	require.Equal(t, "sa", s.get("sa-tree/c0").Metadata["group"])
	expect(`OptioMetadata = "group=sa"`+mine, "sa-tree", "sa-tree/c0", "sa-tree/c1", "sa-tree/c2")
	expect(`OptioMetadata = "group=other"`+mine, "sa-lone")
	expect(`OptioMetadata = "size=3" AND OptioParentProcessId IS NULL`+mine, "sa-tree")
	expect(`OptioProcessId = "sa-lone"`+mine, "sa-lone")

	// A cancel and the ends move OptioState along.
	out, err := s.eng.Cancel(s.ctx(), "sa-lone")
	require.NoError(t, err)
	require.True(t, out.OK, "cancel: %v", out.Reason)
	s.waitState("sa-lone", adapter.StateCancelled)
	expect(`OptioState = "cancelled"`+mine, "sa-lone")
	g.open()
	s.waitState("sa-tree", adapter.StateDone)
	expect(`OptioState = "done"`+mine, "sa-tree", "sa-tree/c0", "sa-tree/c1", "sa-tree/c2")
	expect(`OptioState = "running"` + mine)
}

func TestSearchAttributesCommand(t *testing.T) {
	missing := workflows.MissingSearchAttributes(nil)
	require.Equal(t, []string{"OptioMetadata", "OptioParentProcessId", "OptioProcessId", "OptioRootProcessId", "OptioState"}, missing)
	require.Equal(t,
		"temporal operator search-attribute create --namespace prod --name OptioMetadata --type KeywordList --name OptioState --type Keyword",
		workflows.SearchAttributesCommand("prod", []string{"OptioMetadata", "OptioState"}))
	require.Equal(t, []string{"a=x", "b=2", "c=true"}, workflows.MetadataKeywords(map[string]any{"b": 2, "a": "x", "c": true}))
}

// A process whose body is slow to honour a cancel shows OptioState
// "cancelling" in the Web UI meanwhile, then "cancelled".
func TestSearchAttributesShowCancelling(t *testing.T) {
	g := newGate(t)
	defer g.open()
	s := newSystem(t, adapter.Config{TaskDefinitions: staticTasks(
		adapter.TaskInstance{ProcessID: "sa-slow", Name: "Slow to stop", Execute: g.stubborn},
	)})
	s.launch("sa-slow")
	s.waitState("sa-slow", adapter.StateRunning)
	g.waitStarted(t)
	out, err := s.eng.Cancel(s.ctx(), "sa-slow")
	require.NoError(t, err)
	require.True(t, out.OK, "cancel: %v", out.Reason)
	s.waitState("sa-slow", adapter.StateCancelling)

	state := func() string {
		resp, err := s.temporal().ListWorkflow(s.ctx(), &workflowservice.ListWorkflowExecutionsRequest{
			Query: fmt.Sprintf("WorkflowId = %q", s.eng.WorkflowID("sa-slow")),
		})
		require.NoError(t, err)
		if len(resp.Executions) == 0 {
			return ""
		}
		var st string
		f := resp.Executions[0].GetSearchAttributes().GetIndexedFields()[workflows.SearchAttrState]
		if f != nil {
			require.NoError(t, json.Unmarshal(f.GetData(), &st))
		}
		return st
	}
	eventually(t, `OptioState "cancelling"`, func() bool { return state() == "cancelling" })
	resp, err := s.temporal().ListWorkflow(s.ctx(), &workflowservice.ListWorkflowExecutionsRequest{
		Query: fmt.Sprintf(`OptioState = "cancelling" AND WorkflowId STARTS_WITH %q`, s.eng.WorkflowID("")),
	})
	require.NoError(t, err)
	require.Len(t, resp.Executions, 1, "the Web UI's query finds it")
	g.open()
	s.waitState("sa-slow", adapter.StateCancelled)
	eventually(t, `OptioState "cancelled"`, func() bool { return state() == "cancelled" })
}
