package tests

import (
	"errors"
	"fmt"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"go.mongodb.org/mongo-driver/v2/bson"

	"github.com/optio-temporal/optio/adapter"
	"github.com/optio-temporal/optio/internal/demo"
)

// cancelOutcomeTasks are the parents of TestCancelledParentEndsCancelled:
// the demo's parallel and sequential parents, sized so that a cancel finds
// them mid-run, and a parallel parent written the naive way (return Spawn's
// error at once, without Wait).
func cancelOutcomeTasks() []adapter.TaskInstance {
	var out []adapter.TaskInstance
	for _, task := range demo.Tasks() {
		switch task.ProcessID {
		case demo.ParallelID:
			// Twelve items two at a time, four seconds each; item 1 fails
			// on its own at once, and the group survives it.
			task.Params = map[string]any{demo.ParamItems: 12, demo.ParamConcurrency: 2, demo.ParamFailItem: 1, demo.ParamSteps: 40, demo.ParamStepMillis: 100}
		case demo.ChildrenID:
			task.Params = map[string]any{demo.ParamSteps: 40, demo.ParamStepMillis: 100}
		default:
			continue
		}
		out = append(out, task)
	}
	naive := adapter.TaskInstance{
		ProcessID: "naive-parallel", Name: "Naive parallel", Metadata: map[string]any{"kind": "naive"},
		Execute: func(pc *adapter.ProcessContext) error {
			g := pc.ParallelGroup(adapter.GroupOptions{MaxConcurrency: 2})
			for i := range 12 {
				if err := g.Spawn(adapter.ChildSpec{ProcessID: fmt.Sprintf("naive-parallel/item-%02d", i), Name: fmt.Sprintf("Item %d", i), Execute: rpcUntilCancelled}); err != nil {
					return err
				}
			}
			_, err := g.Wait()
			return err
		},
	}
	return append(out, naive)
}

// A parent cancelled while it runs children ends cancelled, not failed,
// whichever way optio's clients cancel it (the API's cancel, optio-engine's
// cancel over Redis, groupCancelAndWait over Redis) and whether its body
// returns the refusal of a spawn after the cancel, the *GroupError of its
// cancelled children or a cancelled child's *ChildError. The spawn after
// the cancel is refused with optio-core's log entry, and status.error stays
// null, so the dashboard shows "Cancelled".
func TestCancelledParentEndsCancelled(t *testing.T) {
	t.Parallel()
	tasks := &rpcTasks{}
	extra := cancelOutcomeTasks()
	tasks.extra.Store(&extra)
	h := newRPCHarness(t, rpcHarnessOptions{tasks: tasks})

	cancels := map[string]func(t *testing.T, id, kind string){
		"engine Cancel": func(t *testing.T, id, _ string) {
			out, err := h.eng.Cancel(h.ctx, id)
			require.NoError(t, err)
			require.True(t, out.OK, out.Reason)
		},
		"RPC cancel": func(t *testing.T, id, _ string) {
			p := rpcProcessOf(t, h.call("cancel", map[string]any{"processId": id}))
			assert.Contains(t, []any{"cancel_requested", "cancelling", "cancelled"}, p["status"].(map[string]any)["state"])
		},
		"RPC groupCancelAndWait": func(t *testing.T, _, kind string) {
			res := h.call("groupCancelAndWait", map[string]any{"metadataFilter": map[string]any{"kind": kind}})
			require.Equal(t, true, res["ok"], "%v", res)
			require.GreaterOrEqual(t, res["cancelledCount"], 1.0)
		},
	}
	for _, tt := range []struct {
		id, kind string
		// busy is a child that runs once the parent is mid-run.
		busy string
		ways []string
		// refusal is the spawn the body asks for after the cancel, if it
		// certainly asks for one (it waits for a slot when cancelled).
		refusal string
	}{
		{demo.ParallelID, "parallel", demo.ParallelID + "/item-02", []string{"engine Cancel", "RPC cancel", "RPC groupCancelAndWait"}, "Refused to spawn child 'Item "},
		{"naive-parallel", "naive", "naive-parallel/item-01", []string{"RPC cancel"}, "Refused to spawn child 'Item 2' (process_id=naive-parallel/item-02): parent already cancelled"},
		{demo.ChildrenID, "children", demo.ChildrenID + "/phase-1", []string{"RPC cancel"}, ""},
	} {
		for _, way := range tt.ways {
			t.Run(tt.id+" by "+way, func(t *testing.T) {
				rpcProcessOf(t, h.call("launch", map[string]any{"processId": tt.id, "resume": false, "sessionId": "dashboard-session"}))
				h.waitState(tt.busy, adapter.StateRunning)
				if tt.id == demo.ParallelID {
					// The failing item has failed on its own first.
					h.waitState(demo.ParallelID+"/item-01", adapter.StateFailed)
				}
				cancels[way](t, tt.id, tt.kind)

				p := h.waitState(tt.id, adapter.StateCancelled, adapter.StateFailed)
				require.Equal(t, adapter.StateCancelled, p.Status.State, "log:\n%s", formatLog(p))
				raw, err := h.env.Mongo.DB.Collection("optio_processes").FindOne(h.ctx, bson.D{{Key: "processId", Value: tt.id}}).Raw()
				require.NoError(t, err)
				assert.Equal(t, "cancelled", raw.Lookup("status", "state").StringValue())
				assert.Equal(t, bson.TypeNull, raw.Lookup("status", "error").Type, "no error for the dashboard to show")
				assert.Equal(t, bson.TypeDateTime, raw.Lookup("status", "stoppedAt").Type)
				assert.Equal(t, bson.TypeNull, raw.Lookup("status", "failedAt").Type)
				assert.Negative(t, findLog(p, "error", ""), "no error entry in the log:\n%s", formatLog(p))
				assert.GreaterOrEqual(t, findLog(p, "event", "State changed to cancelled"), 0, formatLog(p))
				if tt.refusal != "" {
					assert.GreaterOrEqual(t, findLog(p, "event", tt.refusal), 0, "log:\n%s", formatLog(p))
				}

				kids, err := h.eng.ListProcesses(h.ctx, adapter.ListOptions{RootID: p.ID.Hex()})
				require.NoError(t, err)
				for _, k := range kids {
					if k.ID == p.ID {
						continue
					}
					want := []adapter.State{adapter.StateDone, adapter.StateCancelled}
					if k.ProcessID == demo.ParallelID+"/item-01" {
						want = []adapter.State{adapter.StateFailed}
					}
					assert.Contains(t, want, k.Status.State, "child %s", k.ProcessID)
				}
			})
		}
	}
}

// A real failure still fails a cancelled parent: a group broken by a child
// that failed on its own (its sibling cancelled by the breach), or an
// unrelated error, returned after the cancel, ends failed with its text.
func TestCancelledParentWithARealFailureEndsFailed(t *testing.T) {
	t.Parallel()
	broken := make(chan struct{}, 1)
	tasks := &rpcTasks{}
	extra := []adapter.TaskInstance{
		{ProcessID: "broken-group", Name: "Broken group", Metadata: map[string]any{"kind": "broken"}, Execute: func(pc *adapter.ProcessContext) error {
			g := pc.ParallelGroup(adapter.GroupOptions{})
			if err := g.Spawn(adapter.ChildSpec{ProcessID: "broken-group/bad", Name: "Bad", Execute: func(*adapter.ProcessContext) error {
				return errors.New("bad input")
			}}); err != nil {
				return err
			}
			if err := g.Spawn(adapter.ChildSpec{ProcessID: "broken-group/slow", Name: "Slow", Execute: rpcUntilCancelled}); err != nil {
				return err
			}
			_, err := g.Wait()
			broken <- struct{}{}
			<-pc.Context().Done()
			return err
		}},
		{ProcessID: "cleanup-fails", Name: "Cleanup fails", Metadata: map[string]any{"kind": "cleanup"}, Execute: func(pc *adapter.ProcessContext) error {
			<-pc.Context().Done()
			return fmt.Errorf("flush cache: %w", errors.Join(pc.Context().Err(), errors.New("disk full")))
		}},
	}
	tasks.extra.Store(&extra)
	h := newRPCHarness(t, rpcHarnessOptions{tasks: tasks})

	t.Run("group broken by a failed child", func(t *testing.T) {
		rpcProcessOf(t, h.call("launch", launchArgs("broken-group")))
		<-broken
		rpcProcessOf(t, h.call("cancel", map[string]any{"processId": "broken-group"}))
		p := h.waitState("broken-group", adapter.StateCancelled, adapter.StateFailed)
		require.Equal(t, adapter.StateFailed, p.Status.State, formatLog(p))
		require.Equal(t, "Parallel group failed (2 sub-exceptions)", *p.Status.Error)
		assert.Equal(t, adapter.StateFailed, h.get("broken-group/bad").Status.State)
		assert.Equal(t, adapter.StateCancelled, h.get("broken-group/slow").Status.State)
	})
	t.Run("unrelated error", func(t *testing.T) {
		rpcProcessOf(t, h.call("launch", launchArgs("cleanup-fails")))
		h.waitState("cleanup-fails", adapter.StateRunning)
		rpcProcessOf(t, h.call("cancel", map[string]any{"processId": "cleanup-fails"}))
		p := h.waitState("cleanup-fails", adapter.StateCancelled, adapter.StateFailed)
		require.Equal(t, adapter.StateFailed, p.Status.State, formatLog(p))
		require.Contains(t, *p.Status.Error, "disk full")
	})
}
