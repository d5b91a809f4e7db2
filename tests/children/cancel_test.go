package children

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"go.mongodb.org/mongo-driver/v2/event"
	"go.mongodb.org/mongo-driver/v2/mongo"
	"go.mongodb.org/mongo-driver/v2/mongo/options"
	enumspb "go.temporal.io/api/enums/v1"
	"go.temporal.io/sdk/converter"

	"github.com/optio-temporal/optio/adapter"
	"github.com/optio-temporal/optio/internal/testenv"
	"github.com/optio-temporal/optio/workflows"
)

// waitForCancel is a body that runs until its process is cancelled.
func waitForCancel(pc *adapter.ProcessContext) error {
	<-pc.Context().Done()
	return nil
}

// spawnWaiting spawns n children into g that wait for their cancel, the
// i-th with the processId and name idFormat and nameFormat give for i.
func spawnWaiting(g *adapter.ParallelGroup, n int, idFormat, nameFormat string) error {
	for i := range n {
		if err := g.Spawn(adapter.ChildSpec{ProcessID: fmt.Sprintf(idFormat, i), Name: fmt.Sprintf(nameFormat, i), Execute: waitForCancel}); err != nil {
			return err
		}
	}
	return nil
}

// Cancelling a parent cancels every active descendant, bottom-up: each child
// reaches its end state before its parent does, and the parent ends cancelled.
func TestCancelParentCancelsDescendantsBottomUp(t *testing.T) {
	tree := adapter.TaskInstance{ProcessID: "tree", Name: "Tree", Execute: func(pc *adapter.ProcessContext) error {
		g := pc.ParallelGroup(adapter.GroupOptions{})
		for i := range 2 {
			err := g.Spawn(adapter.ChildSpec{ProcessID: fmt.Sprintf("tree/branch-%d", i), Name: "Branch",
				Execute: func(c *adapter.ProcessContext) error {
					_, err := c.RunChild(adapter.ChildSpec{ProcessID: c.ProcessID() + "/leaf", Name: "Leaf", Execute: waitForCancel})
					return err
				}})
			if err != nil {
				return err
			}
		}
		_, err := g.Wait()
		return err
	}}
	h := newHarness(t, tree)
	h.launch("tree")
	for i := range 2 {
		h.waitState(fmt.Sprintf("tree/branch-%d/leaf", i), adapter.StateRunning)
	}
	h.cancel("tree")

	root := h.waitState("tree", adapter.StateCancelled, adapter.StateFailed)
	assert.Equal(t, adapter.StateCancelled, root.Status.State, "error: %v", root.Status.Error)
	for i := range 2 {
		branch := h.get(fmt.Sprintf("tree/branch-%d", i))
		leaf := h.get(fmt.Sprintf("tree/branch-%d/leaf", i))
		assert.Equal(t, adapter.StateCancelled, branch.Status.State)
		assert.Equal(t, adapter.StateCancelled, leaf.Status.State)
		require.NotNil(t, leaf.Status.StoppedAt)
		require.NotNil(t, branch.Status.StoppedAt)
		assert.False(t, leaf.Status.StoppedAt.After(*branch.Status.StoppedAt), "leaf ends before its branch")
		assert.False(t, branch.Status.StoppedAt.After(*root.Status.StoppedAt), "branch ends before the root")
	}
}

// Cancelling one child, from the API or from the Temporal side: with
// survive-cancel false the parent gets a *ChildError; with true it carries on.
func TestCancelChild(t *testing.T) {
	for _, tc := range []struct {
		name          string
		surviveCancel bool
		fromTemporal  bool
	}{
		{"api/propagates", false, false},
		{"temporal/propagates", false, true},
		{"api/survived", true, false},
		{"temporal/survived", true, true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			var childErr *adapter.ChildError
			var gotState adapter.State
			parent := adapter.TaskInstance{ProcessID: "p", Name: "P", Execute: func(pc *adapter.ProcessContext) error {
				st, err := pc.RunChild(adapter.ChildSpec{ProcessID: "p/child", Name: "Child", Execute: waitForCancel, SurviveCancel: tc.surviveCancel})
				gotState = st
				if errors.As(err, &childErr) {
					return err
				}
				if err != nil {
					return err
				}
				pc.ReportProgress(100, "carried on")
				return nil
			}}
			h := newHarness(t, parent)
			h.launch("p")
			h.waitState("p/child", adapter.StateRunning)
			if tc.fromTemporal {
				require.NoError(t, h.env.Temporal.Client.CancelWorkflow(h.ctx, h.eng.WorkflowID("p/child"), ""))
			} else {
				h.cancel("p/child")
			}
			p := h.waitState("p", adapter.StateDone, adapter.StateFailed, adapter.StateCancelled)
			assert.Equal(t, adapter.StateCancelled, gotState)
			assert.Equal(t, adapter.StateCancelled, h.get("p/child").Status.State)
			if tc.surviveCancel {
				assert.Equal(t, adapter.StateDone, p.Status.State)
				assert.Nil(t, childErr)
				assert.Equal(t, "carried on", *p.Progress.Message)
				return
			}
			require.NotNil(t, childErr)
			assert.Equal(t, "p/child", childErr.ProcessID)
			assert.Equal(t, "Child", childErr.Name)
			assert.Equal(t, adapter.StateCancelled, childErr.State)
			assert.Equal(t, adapter.StateFailed, p.Status.State)
			assert.Contains(t, *p.Status.Error, "Child 'Child' (process_id=p/child)")
		})
	}
}

// A failing child with survive-failure false fails its parent with an error
// naming the child, and a parallel group cancels its running siblings.
func TestFailingChildCancelsSiblings(t *testing.T) {
	var groupErr *adapter.GroupError
	var results []adapter.ChildResult
	parent := adapter.TaskInstance{ProcessID: "g", Name: "G", Execute: func(pc *adapter.ProcessContext) error {
		g := pc.ParallelGroup(adapter.GroupOptions{MaxConcurrency: 4})
		if err := spawnWaiting(g, 3, "g/slow-%d", "Slow %d"); err != nil {
			return err
		}
		err := g.Spawn(adapter.ChildSpec{ProcessID: "g/bad", Name: "Bad", Execute: func(c *adapter.ProcessContext) error {
			return errors.New("bad input row 17")
		}})
		if err != nil {
			return err
		}
		var werr error
		results, werr = g.Wait()
		errors.As(werr, &groupErr)
		return werr
	}}
	h := newHarness(t, parent)
	p, err := h.eng.LaunchAndWait(h.ctx, "g")
	require.NoError(t, err)
	assert.Equal(t, adapter.StateFailed, p.Status.State)
	assert.Equal(t, "Parallel group failed (4 sub-exceptions)", *p.Status.Error)
	require.NotNil(t, groupErr)
	var bad *adapter.ChildError
	require.True(t, errors.As(groupErr, &bad))
	require.Len(t, results, 4)
	for i := range 3 {
		assert.Equal(t, fmt.Sprintf("g/slow-%d", i), results[i].ProcessID)
		assert.Equal(t, adapter.StateCancelled, results[i].State)
		assert.Equal(t, adapter.StateCancelled, h.get(results[i].ProcessID).Status.State)
	}
	assert.Equal(t, adapter.ChildResult{ProcessID: "g/bad", Name: "Bad", State: adapter.StateFailed, Error: "bad input row 17"}, results[3])

	// RunChild: the error names the child.
	seq := adapter.TaskInstance{ProcessID: "s", Name: "S", Execute: func(pc *adapter.ProcessContext) error {
		_, err := pc.RunChild(adapter.ChildSpec{ProcessID: "s/bad", Name: "Bad Child", Execute: func(*adapter.ProcessContext) error {
			return errors.New("Child failed")
		}})
		return err
	}}
	h2 := newHarness(t, seq)
	p2, err := h2.eng.LaunchAndWait(h2.ctx, "s")
	require.NoError(t, err)
	assert.Equal(t, adapter.StateFailed, p2.Status.State)
	assert.Equal(t, "Child 'Bad Child' (process_id=s/bad) failed: Child failed", *p2.Status.Error)
}

// A cancelled parent's close tells its children workflow to cancel the
// children still active. The cancel of the children workflow, which goes
// out with the close, can reach it after the close; a run that had taken the
// close as a plain one waited for children nobody cancelled (a naive body
// that returns a refused spawn at once, not waiting for its group, left
// such a child behind).
func TestCancelledParentsCloseCancelsItsChildren(t *testing.T) {
	naive := adapter.TaskInstance{ProcessID: "naive", Name: "Naive", Execute: func(pc *adapter.ProcessContext) error {
		g := pc.ParallelGroup(adapter.GroupOptions{MaxConcurrency: 2})
		if err := spawnWaiting(g, 3, "naive/item-%d", "Item %d"); err != nil {
			return err
		}
		_, err := g.Wait()
		return err
	}}
	h := newHarness(t, naive)
	h.launch("naive")
	h.waitState("naive/item-0", adapter.StateRunning)
	h.waitState("naive/item-1", adapter.StateRunning)
	h.cancel("naive")
	p := h.waitState("naive", adapter.StateCancelled, adapter.StateFailed)
	require.Equal(t, adapter.StateCancelled, p.Status.State, "error: %s", errText(p))

	// The close the children workflow got asked it to cancel the children.
	it := h.env.Temporal.Client.GetWorkflowHistory(h.ctx, h.eng.WorkflowID("naive")+workflows.ChildrenIDSuffix, "", false, enumspb.HISTORY_EVENT_FILTER_TYPE_ALL_EVENT)
	var closes []map[string]any
	for it.HasNext() {
		ev, err := it.Next()
		require.NoError(t, err)
		if a := ev.GetWorkflowExecutionSignaledEventAttributes(); a != nil && a.GetSignalName() == workflows.SignalCloseChildren {
			var c map[string]any
			require.NoError(t, converter.GetDefaultDataConverter().FromPayloads(a.GetInput(), &c))
			closes = append(closes, c)
		}
	}
	require.Equal(t, []map[string]any{{"Cancel": true}}, closes)
}

// slowInserts is a Mongo command monitor that tells when a child's
// document is inserted, and holds the insert of another for a while: a
// spawn on its way, its child not created yet.
type slowInserts struct {
	seen, held string
	seenCh     chan struct{}
	once       sync.Once
}

func (m *slowInserts) started(_ context.Context, e *event.CommandStartedEvent) {
	if e.CommandName != "insert" {
		return
	}
	cmd := e.Command.String()
	if strings.Contains(cmd, m.seen) {
		m.once.Do(func() { close(m.seenCh) })
	}
	if strings.Contains(cmd, m.held) {
		time.Sleep(time.Second)
	}
}

// A child that breaks its group before a sibling's spawn has created that
// sibling still gets the sibling cancelled: the group asks again once the
// sibling is there, rather than waiting for it for ever.
func TestFailingChildCancelsASiblingStillOnItsWay(t *testing.T) {
	env := testenv.New(t)
	mon := &slowInserts{seen: "g/bad", held: "g/slow", seenCh: make(chan struct{})}
	client, err := mongo.Connect(options.Client().ApplyURI(env.Mongo.URI).SetMonitor(&event.CommandMonitor{Started: mon.started}))
	require.NoError(t, err)
	t.Cleanup(func() { _ = client.Disconnect(context.Background()) })
	fail := make(chan struct{})
	var groupErr *adapter.GroupError
	parent := adapter.TaskInstance{ProcessID: "g", Name: "G", Execute: func(pc *adapter.ProcessContext) error {
		g := pc.ParallelGroup(adapter.GroupOptions{})
		if err := g.Spawn(adapter.ChildSpec{ProcessID: "g/bad", Name: "Bad", Execute: func(*adapter.ProcessContext) error {
			<-fail
			return errors.New("bad input row 17")
		}}); err != nil {
			return err
		}
		<-mon.seenCh // the bad child's spawn went on its own
		if err := g.Spawn(adapter.ChildSpec{ProcessID: "g/slow", Name: "Slow", Execute: waitForCancel}); err != nil {
			return err
		}
		close(fail) // while the slow child's document is on its way
		_, err := g.Wait()
		errors.As(err, &groupErr)
		return err
	}}
	h := newHarnessOn(t, env, func(cfg *adapter.Config) { cfg.Mongo = client.Database(env.Mongo.Name) }, parent)
	ctx, cancel := context.WithTimeout(h.ctx, time.Minute)
	defer cancel()
	p, err := h.eng.LaunchAndWait(ctx, "g")
	require.NoError(t, err)
	assert.Equal(t, adapter.StateFailed, p.Status.State)
	require.NotNil(t, groupErr)
	assert.Equal(t, adapter.StateCancelled, h.get("g/slow").Status.State)
	assert.Equal(t, adapter.StateFailed, h.get("g/bad").Status.State)
}

// Cancelling a parent once its group's children past the hundredth run,
// whose "Spawned child" entries the children workflow writes apart from the
// inserts: every child's entry is in the parent's log once, before the
// parent's end.
func TestCancelledBigGroupKeepsItsSpawnedEntries(t *testing.T) {
	const n = 130
	big := adapter.TaskInstance{ProcessID: "big", Name: "Big", Execute: func(pc *adapter.ProcessContext) error {
		g := pc.ParallelGroup(adapter.GroupOptions{MaxConcurrency: n})
		if err := spawnWaiting(g, n, "big/%03d", "Child %03d"); err != nil {
			return err
		}
		_, err := g.Wait()
		return err
	}}
	h := newHarness(t, big)
	h.launch("big")
	for i := range n {
		h.waitState(fmt.Sprintf("big/%03d", i), adapter.StateRunning)
	}
	h.cancel("big")

	root := h.waitState("big", adapter.StateCancelled, adapter.StateFailed)
	require.Equal(t, adapter.StateCancelled, root.Status.State, "error: %v", root.Status.Error)
	assert.Equal(t, numberedNames("Child %03d", n), slices.Sorted(slices.Values(spawnedNames(root))), "each child's entry once")
	assert.Equal(t, "State changed to cancelled", root.Log[len(root.Log)-1].Message)
	for i := range n {
		assert.Equal(t, adapter.StateCancelled, h.get(fmt.Sprintf("big/%03d", i)).Status.State)
	}
}

// A body that goes on spawning after its process was cancelled gets each
// spawn refused and logged ("Refused to spawn child"), and every refusal is
// in the log before the end. The refusals went to Mongo one append at a
// time, each rewriting the parent's document and its growing log: 1,490
// took longer than the engine waits for a cancelled body, which ended the
// process with 857 and 900 of them logged (two runs) and went on appending
// the rest after "State changed to cancelled". They are written with the
// progress now.
func TestRefusedSpawnsAfterACancelAreLoggedBeforeTheEnd(t *testing.T) {
	const n, running = 1500, 10
	fan := adapter.TaskInstance{ProcessID: "fan", Name: "Fan", Execute: func(pc *adapter.ProcessContext) error {
		g := pc.ParallelGroup(adapter.GroupOptions{MaxConcurrency: running})
		for i := range n {
			// Refused spawns return an error; the body goes on, as a
			// naive one would.
			_ = g.Spawn(adapter.ChildSpec{ProcessID: fmt.Sprintf("fan/%04d", i), Name: fmt.Sprintf("Child %04d", i), Execute: waitForCancel})
		}
		_, err := g.Wait()
		return err
	}}
	h := newHarness(t, fan)
	h.launch("fan")
	h.waitState(fmt.Sprintf("fan/%04d", running-1), adapter.StateRunning)
	h.cancel("fan")
	root := h.waitState("fan", adapter.StateCancelled, adapter.StateFailed)
	require.Equal(t, adapter.StateCancelled, root.Status.State, "error: %v", root.Status.Error)

	refused := 0
	for _, e := range root.Log {
		if strings.HasPrefix(e.Message, "Refused to spawn child ") {
			refused++
		}
	}
	assert.Equal(t, n-running, refused, "every refused spawn logged before the end")
	assert.Equal(t, "State changed to cancelled", root.Log[len(root.Log)-1].Message)
}
