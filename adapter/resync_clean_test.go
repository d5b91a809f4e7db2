package adapter_test

import (
	"context"
	"sync/atomic"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/optio-temporal/optio/adapter"
)

// TestResyncCleanWithoutGenerator: an engine with no task generator (only
// ad-hoc processes) still cleans. As in optio-core, whose resync deletes
// before its definition sync finds no generator, Resync with clean deletes
// every process in scope with its descendants, cancelling an active one
// first and waiting for its body to return (the same clean as with a
// generator), and then, having nothing to sync, returns an empty map. The
// RPC's resync (package rpc/engineservice) calls Resync, so it cleans the
// same way.
func TestResyncCleanWithoutGenerator(t *testing.T) {
	for _, tc := range []struct {
		name   string
		filter map[string]any
		// kept are the processIds that survive the clean.
		kept []string
	}{
		{name: "everything"},
		{name: "filtered", filter: map[string]any{"group": "a"}, kept: []string{"idle-b"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			ctx := t.Context()
			eng, _ := newTestEngine(t, adapter.Config{CancelGrace: 10 * time.Second})

			started := make(chan struct{})
			var returned atomic.Bool
			loop := func(pc *adapter.ProcessContext) error {
				defer returned.Store(true)
				close(started)
				<-pc.Context().Done()
				return nil
			}
			quick := func(*adapter.ProcessContext) error { return nil }
			group := func(g string) map[string]any { return map[string]any{"group": g} }
			for _, def := range []struct {
				task adapter.TaskInstance
				opts adapter.AdhocOptions
			}{
				{task: adapter.TaskInstance{ProcessID: "running-a", Name: "Running A", Execute: loop, Metadata: group("a")}},
				{task: adapter.TaskInstance{ProcessID: "idle-a", Name: "Idle A", Execute: quick, Metadata: group("a")}},
				{task: adapter.TaskInstance{ProcessID: "idle-a/child", Name: "Child of A", Execute: quick, Metadata: group("a")}, opts: adapter.AdhocOptions{Parent: "idle-a"}},
				{task: adapter.TaskInstance{ProcessID: "idle-b", Name: "Idle B", Execute: quick, Metadata: group("b")}},
			} {
				_, err := eng.AdhocDefine(ctx, def.task, def.opts)
				require.NoError(t, err)
			}
			out, err := eng.Launch(ctx, "running-a")
			require.NoError(t, err)
			require.True(t, out.OK, "launch: %s", out.Reason)
			<-started
			waitState(eng, "running-a", adapter.StateRunning)

			synced, err := eng.Resync(ctx, true, tc.filter)
			require.NoError(t, err)
			require.Empty(t, synced, "no generator: nothing to sync")
			require.True(t, returned.Load(), "the active process was cancelled, and its body returned, before its document was deleted")
			require.ElementsMatch(t, tc.kept, processIDs(t, eng))
		})
	}
}

// The engine keeps serving after a clean without a generator: an ad-hoc
// process defined afterwards runs.
func TestResyncCleanWithoutGeneratorLeavesTheEngineServing(t *testing.T) {
	ctx := t.Context()
	eng, _ := newTestEngine(t, adapter.Config{})
	quick := func(*adapter.ProcessContext) error { return nil }
	_, err := eng.AdhocDefine(ctx, adapter.TaskInstance{ProcessID: "before", Name: "Before", Execute: quick}, adapter.AdhocOptions{})
	require.NoError(t, err)

	_, err = eng.Resync(ctx, true, nil)
	require.NoError(t, err)
	require.Empty(t, processIDs(t, eng))

	_, err = eng.AdhocDefine(ctx, adapter.TaskInstance{ProcessID: "after", Name: "After", Execute: quick}, adapter.AdhocOptions{})
	require.NoError(t, err)
	wctx, cancel := context.WithTimeout(ctx, exampleTimeout)
	defer cancel()
	p, err := eng.LaunchAndWait(wctx, "after")
	require.NoError(t, err)
	require.Equal(t, adapter.StateDone, p.Status.State)
}
