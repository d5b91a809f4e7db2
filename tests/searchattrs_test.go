package tests

import (
	"encoding/json"
	"fmt"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
	"go.temporal.io/api/operatorservice/v1"
	"go.temporal.io/api/workflowservice/v1"
	"go.temporal.io/sdk/client"
	"google.golang.org/protobuf/types/known/durationpb"

	"github.com/optio-temporal/optio/adapter"
	"github.com/optio-temporal/optio/internal/testenv"
	"github.com/optio-temporal/optio/workflows"
)

// Every process workflow carries optio's search attributes, kept current, so
// that a visibility query by optio's terms (as an operator types it into the
// Web UI) lists exactly the right workflows: launched ones, children, and
// those a cron schedule launches.
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
		adapter.TaskInstance{ProcessID: "sa-cron", Name: "Cron", Execute: g.cooperative, Metadata: map[string]any{"group": "cron"}, Schedule: "0 3 * * *"},
	)})
	s.launch("sa-tree")
	s.launch("sa-lone")
	require.NoError(t, s.eng.Schedule(s.ctx(), "sa-cron").Trigger(s.ctx(), client.ScheduleTriggerOptions{}))
	for _, id := range []string{"sa-tree/c0", "sa-tree/c1", "sa-tree/c2", "sa-lone", "sa-cron"} {
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
	expect(`OptioState = "running"`+mine, "sa-cron", "sa-lone", "sa-tree", "sa-tree/c0", "sa-tree/c1", "sa-tree/c2")
	// Children carry their parent's metadata, as their documents do.
	require.Equal(t, "sa", s.get("sa-tree/c0").Metadata["group"])
	expect(`OptioMetadata = "group=sa"`+mine, "sa-tree", "sa-tree/c0", "sa-tree/c1", "sa-tree/c2")
	expect(`OptioMetadata = "group=other"`+mine, "sa-lone")
	expect(`OptioMetadata = "size=3" AND OptioParentProcessId IS NULL`+mine, "sa-tree")
	expect(`OptioProcessId = "sa-lone"`+mine, "sa-lone")
	expect(`OptioRootProcessId = "sa-cron" AND OptioParentProcessId IS NULL AND OptioMetadata = "group=cron"`+mine, "sa-cron")

	// A cancel and the ends move OptioState along.
	out, err := s.eng.Cancel(s.ctx(), "sa-lone")
	require.NoError(t, err)
	require.True(t, out.OK, "cancel: %v", out.Reason)
	s.waitState("sa-lone", adapter.StateCancelled)
	expect(`OptioState = "cancelled"`+mine, "sa-lone")
	g.open()
	s.waitState("sa-tree", adapter.StateDone)
	s.waitState("sa-cron", adapter.StateDone)
	expect(`OptioState = "done"`+mine, "sa-cron", "sa-tree", "sa-tree/c0", "sa-tree/c1", "sa-tree/c2")
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

// A run carries its search attributes from its start, before any worker has
// taken it: a launch by an engine that runs no worker shows the process as
// scheduled, with its identity and metadata, until a worker runs it.
func TestSearchAttributesFromTheStart(t *testing.T) {
	tasks := staticTasks(adapter.TaskInstance{ProcessID: "sa-early", Name: "Early", Execute: quick, Metadata: map[string]any{"group": "early"}})
	s := newSystem(t, adapter.Config{TaskDefinitions: tasks, DisableWorker: true, ReconcileInterval: -1})
	s.launch("sa-early")
	attrs := func() map[string]any {
		resp, err := s.temporal().ListWorkflow(s.ctx(), &workflowservice.ListWorkflowExecutionsRequest{
			Query: fmt.Sprintf("WorkflowId = %q", s.eng.WorkflowID("sa-early")),
		})
		require.NoError(t, err)
		out := map[string]any{}
		if len(resp.Executions) == 0 {
			return out
		}
		for k, f := range resp.Executions[0].GetSearchAttributes().GetIndexedFields() {
			var v any
			require.NoError(t, json.Unmarshal(f.GetData(), &v))
			out[k] = v
		}
		return out
	}
	want := map[string]any{
		workflows.SearchAttrProcessID:     "sa-early",
		workflows.SearchAttrRootProcessID: "sa-early",
		workflows.SearchAttrState:         "scheduled",
		workflows.SearchAttrMetadata:      []any{"group=early"},
	}
	var got map[string]any
	eventually(t, "the run's search attributes at start", func() bool {
		got = attrs()
		return got[workflows.SearchAttrProcessID] != nil
	})
	for k, v := range want {
		require.Equal(t, v, got[k], k)
	}
	require.NotContains(t, got, workflows.SearchAttrParentProcessID)
	require.Equal(t, adapter.StateScheduled, s.get("sa-early").Status.State)

	// A worker takes it and moves OptioState on.
	s.startEngine(adapter.Config{TaskDefinitions: tasks, ReconcileInterval: -1})
	s.waitState("sa-early", adapter.StateDone)
	eventually(t, `OptioState "done"`, func() bool { return attrs()[workflows.SearchAttrState] == "done" })
	require.Equal(t, []any{"group=early"}, attrs()[workflows.SearchAttrMetadata])
}

// An engine with CreateSearchAttributes on a namespace that lacks optio's
// search attributes registers them and waits until the server applies them,
// so that its first launch, right after New, is accepted and findable by
// them.
func TestEngineRegistersMissingSearchAttributes(t *testing.T) {
	env := testenv.New(t)
	ns := "optio-sa-" + testenv.DatabaseName(t)
	_, err := env.Temporal.Client.WorkflowService().RegisterNamespace(t.Context(), &workflowservice.RegisterNamespaceRequest{
		Namespace:                        ns,
		WorkflowExecutionRetentionPeriod: durationpb.New(24 * time.Hour),
	})
	require.NoError(t, err)
	c, err := client.NewClientFromExisting(env.Temporal.Client, client.Options{Namespace: ns})
	require.NoError(t, err)
	t.Cleanup(c.Close) // after the engine's shutdown, which startEngine registers later
	list, err := c.OperatorService().ListSearchAttributes(t.Context(), &operatorservice.ListSearchAttributesRequest{Namespace: ns})
	require.NoError(t, err)
	require.Len(t, workflows.MissingSearchAttributes(list.GetCustomAttributes()), len(workflows.SearchAttributeTypes()), "a new namespace has none of them")

	s := newSystemOn(t, env, adapter.Config{
		Temporal: c, Namespace: ns, CreateSearchAttributes: true, ReconcileInterval: -1,
		TaskDefinitions: staticTasks(adapter.TaskInstance{ProcessID: "sa-fresh", Name: "Fresh", Execute: quick, Metadata: map[string]any{"group": "fresh"}}),
	})
	s.launch("sa-fresh")
	s.waitState("sa-fresh", adapter.StateDone)

	list, err = c.OperatorService().ListSearchAttributes(t.Context(), &operatorservice.ListSearchAttributesRequest{Namespace: ns})
	require.NoError(t, err)
	require.Empty(t, workflows.MissingSearchAttributes(list.GetCustomAttributes()))
	eventually(t, "the run found by its search attributes", func() bool {
		resp, err := c.ListWorkflow(t.Context(), &workflowservice.ListWorkflowExecutionsRequest{
			Namespace: ns, Query: `OptioProcessId = "sa-fresh" AND OptioState = "done" AND OptioMetadata = "group=fresh"`,
		})
		require.NoError(t, err)
		return len(resp.Executions) == 1
	})
}

// TestRichMetadataStillLaunches: a process whose metadata lists more than
// the server takes in one search attribute value (2 KB by default; here
// 40 keys of 100 bytes) launches, and so does its child: OptioMetadata
// holds the first keys in sort order that fit, and the documents keep the
// whole metadata. It used to fail the launch: "search attribute
// OptioMetadata value size 4361 exceeds size limit 2048".
func TestRichMetadataStillLaunches(t *testing.T) {
	md := map[string]any{}
	for i := range 40 {
		md[fmt.Sprintf("key%02d", i)] = strings.Repeat("v", 100)
	}
	s := newSystem(t, adapter.Config{TaskDefinitions: staticTasks(
		adapter.TaskInstance{ProcessID: "rich", Name: "Rich", Metadata: md, Execute: func(pc *adapter.ProcessContext) error {
			_, err := pc.RunChild(adapter.ChildSpec{ProcessID: "rich/c", Name: "C", Execute: quick})
			return err
		}},
	)})
	s.run("rich")
	require.Equal(t, adapter.StateDone, s.get("rich/c").Status.State)
	require.Len(t, s.get("rich/c").Metadata, 40, "the child's document inherits the whole metadata")
	mine := fmt.Sprintf(" AND WorkflowId STARTS_WITH %q", s.eng.WorkflowID(""))
	eventually(t, "visibility lists both", func() bool {
		resp, err := s.temporal().ListWorkflow(s.ctx(), &workflowservice.ListWorkflowExecutionsRequest{
			Query: `OptioMetadata = "key00=` + strings.Repeat("v", 100) + `"` + mine,
		})
		require.NoError(t, err)
		return len(resp.Executions) == 2
	})
}
