package children

import (
	"context"
	"errors"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/optio-temporal/optio/adapter"
)

func noop(*adapter.ProcessContext) error { return nil }

// Bad child specs get clear errors and write nothing; a spawn after the group
// closed or after the parent was cancelled is refused, the latter logged on
// the parent as optio-core does.
func TestChildBadInput(t *testing.T) {
	errs := map[string]error{}
	record := func(name string, err error) { errs[name] = err }
	parent := adapter.TaskInstance{ProcessID: "bad", Name: "Bad", Execute: func(pc *adapter.ProcessContext) error {
		_, err := pc.RunChild(adapter.ChildSpec{ProcessID: "", Name: "No ID", Execute: noop})
		record("empty id", err)
		_, err = pc.RunChild(adapter.ChildSpec{ProcessID: "bad/nil", Name: "Nil", Execute: nil})
		record("nil execute", err)
		_, err = pc.RunChild(adapter.ChildSpec{ProcessID: "bad/noname", Execute: noop})
		record("empty name", err)
		_, err = pc.RunChild(adapter.ChildSpec{ProcessID: "bad", Name: "Clash with parent", Execute: noop})
		record("duplicate of parent", err)
		_, err = pc.RunChild(adapter.ChildSpec{ProcessID: "other-root", Name: "Clash with root", Execute: noop})
		record("duplicate of root", err)

		g := pc.ParallelGroup(adapter.GroupOptions{})
		require.NoError(t, g.Spawn(adapter.ChildSpec{ProcessID: "bad/ok", Name: "OK", Execute: noop}))
		record("twice in group", g.Spawn(adapter.ChildSpec{ProcessID: "bad/ok", Name: "OK", Execute: noop}))
		_, err = g.Wait()
		record("wait", err)
		record("after close", g.Spawn(adapter.ChildSpec{ProcessID: "bad/late", Name: "Late", Execute: noop}))
		return nil
	}}
	other := adapter.TaskInstance{ProcessID: "other-root", Name: "Other", Execute: noop}
	h := newHarness(t, parent, other)
	p, err := h.eng.LaunchAndWait(h.ctx, "bad")
	require.NoError(t, err)
	require.Equal(t, adapter.StateDone, p.Status.State, "error: %v", p.Status.Error)

	for _, name := range []string{"empty id", "nil execute", "empty name", "duplicate of parent", "duplicate of root", "twice in group"} {
		assert.ErrorIs(t, errs[name], adapter.ErrInvalidInput, name)
	}
	assert.NoError(t, errs["wait"])
	assert.ErrorIs(t, errs["after close"], adapter.ErrGroupClosed)
	kids := h.children(p)
	require.Len(t, kids, 1, "only the valid child was written")
	assert.Equal(t, "bad/ok", kids[0].ProcessID)
	assert.Equal(t, adapter.StateIdle, h.get("other-root").Status.State, "the clashing root is untouched")
}

// A run of a body that asks again for a child of one processId once it has
// its end gets ErrInvalidInput, from RunChild or from a group's Spawn,
// rather than the first child's recorded end (what a body re-run after a
// lost worker gets): the second child is not run and writes nothing. (A
// child still running may be asked for again: see
// TestAChildAskedForAgainAfterItsChildrenWorkflowClosed.)
func TestChildProcessIDReusedInOneRun(t *testing.T) {
	errs := map[string]error{}
	var states []adapter.State
	var secondRan bool
	failing := func(*adapter.ProcessContext) error { return errors.New("first try fails") }
	parent := adapter.TaskInstance{ProcessID: "retry", Name: "Retry", Execute: func(pc *adapter.ProcessContext) error {
		st, err := pc.RunChild(adapter.ChildSpec{ProcessID: "retry/step", Name: "Step", Execute: failing, SurviveFailure: true})
		states = append(states, st)
		errs["first"] = err
		st, err = pc.RunChild(adapter.ChildSpec{ProcessID: "retry/step", Name: "Step", Execute: func(*adapter.ProcessContext) error {
			secondRan = true
			return nil
		}})
		states = append(states, st)
		errs["run child again"] = err
		g := pc.ParallelGroup(adapter.GroupOptions{})
		errs["spawn again"] = g.Spawn(adapter.ChildSpec{ProcessID: "retry/step", Name: "Step", Execute: noop})
		_, errs["wait"] = g.Wait()
		return nil
	}}
	h := newHarness(t, parent)
	p, err := h.eng.LaunchAndWait(h.ctx, "retry")
	require.NoError(t, err)
	require.Equal(t, adapter.StateDone, p.Status.State, "error: %v", p.Status.Error)

	require.NoError(t, errs["first"])
	require.Equal(t, []adapter.State{adapter.StateFailed, ""}, states)
	require.ErrorIs(t, errs["run child again"], adapter.ErrInvalidInput)
	require.ErrorContains(t, errs["run child again"], `child process id "retry/step" has already run in this run of the body`)
	require.ErrorIs(t, errs["spawn again"], adapter.ErrInvalidInput)
	require.NoError(t, errs["wait"])
	require.False(t, secondRan, "the second child did not run")
	kids := h.children(p)
	require.Len(t, kids, 1)
	require.Equal(t, adapter.StateFailed, kids[0].Status.State)
}

// After its parent is cancelled, RunChild and Spawn are refused: no document,
// and the parent's log says "Refused to spawn child ...".
func TestSpawnAfterParentCancelled(t *testing.T) {
	var runErr, spawnErr error
	cancelled := make(chan struct{})
	parent := adapter.TaskInstance{ProcessID: "late", Name: "Late", Execute: func(pc *adapter.ProcessContext) error {
		<-pc.Context().Done()
		g := pc.ParallelGroup(adapter.GroupOptions{})
		_, runErr = pc.RunChild(adapter.ChildSpec{ProcessID: "late/a", Name: "A", Execute: noop})
		spawnErr = g.Spawn(adapter.ChildSpec{ProcessID: "late/b", Name: "B", Execute: noop})
		close(cancelled)
		return nil
	}}
	h := newHarness(t, parent)
	h.launch("late")
	h.waitState("late", adapter.StateRunning)
	_, err := h.eng.Cancel(h.ctx, "late")
	require.NoError(t, err)
	<-cancelled
	p := h.waitState("late", adapter.StateCancelled)
	assert.ErrorIs(t, runErr, adapter.ErrParentCancelled)
	assert.ErrorIs(t, spawnErr, adapter.ErrParentCancelled)
	assert.Empty(t, h.children(p))
	var msgs []string
	for _, l := range p.Log {
		msgs = append(msgs, l.Message)
	}
	assert.Contains(t, msgs, "Refused to spawn child 'A' (process_id=late/a): parent already cancelled")
	assert.Contains(t, msgs, "Refused to spawn child 'B' (process_id=late/b): parent already cancelled")
	_, err = h.eng.GetProcess(context.Background(), "late/a")
	assert.True(t, errors.Is(err, adapter.ReasonNotFound))
}
