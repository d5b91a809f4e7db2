package tests

import (
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/optio-temporal/optio/adapter"
)

// TestAdhocDefineAndLaunchEphemeral is the seed's Ad-hoc example:
// adhoc_define(one-off-123, ephemeral=True) returns the idle document, launch
// runs it, and the document is deleted once it completes.
func TestAdhocDefineAndLaunchEphemeral(t *testing.T) {
	s := newSystem(t, adapter.Config{})
	ran := make(chan struct{}, 1)
	oneOff := func(*adapter.ProcessContext) error { ran <- struct{}{}; return nil }

	p, err := s.eng.AdhocDefine(s.ctx(), adapter.TaskInstance{Execute: oneOff, ProcessID: "one-off-123", Name: "One-off Import"}, adapter.AdhocOptions{Ephemeral: true})
	require.NoError(t, err)
	require.Equal(t, "one-off-123", p.ProcessID)
	require.Equal(t, adapter.StateIdle, p.Status.State)
	require.True(t, p.Adhoc)
	require.True(t, p.Ephemeral)
	require.Nil(t, p.ParentID)
	require.Equal(t, p.ID, p.RootID)
	require.Equal(t, *p, *s.get("one-off-123"), "the returned document is the stored one")

	s.launch("one-off-123")
	<-ran
	s.waitGone("one-off-123")
	require.EqualValues(t, 0, s.count())
	out, err := s.eng.Launch(s.ctx(), "one-off-123")
	require.NoError(t, err)
	require.Equal(t, adapter.ReasonNotFound, out.Reason, "its function went with it")
}

// TestAdhocProcessLifecycle: a non-ephemeral ad-hoc process runs like any
// other and stays; an ad-hoc child gets its place in the tree; a full
// resync leaves ad-hoc processes alone; adhoc_delete removes the process with
// its descendants and forgets its function.
func TestAdhocProcessLifecycle(t *testing.T) {
	s := newSystem(t, adapter.Config{
		TaskDefinitions: staticTasks(adapter.TaskInstance{ProcessID: "generated", Name: "Generated", Execute: quick}),
	})
	ctx := s.ctx()

	p, err := s.eng.AdhocDefine(ctx, adapter.TaskInstance{
		Execute: func(ctx *adapter.ProcessContext) error {
			ctx.ReportProgress(100, "imported "+ctx.Params()["file"].(string))
			return nil
		},
		ProcessID: "import-7", Name: "Import 7",
		Params:   map[string]any{"file": "a.csv"},
		Metadata: map[string]any{"customer": "7"},
	}, adapter.AdhocOptions{})
	require.NoError(t, err)
	require.True(t, p.Adhoc)
	require.False(t, p.Ephemeral)

	done := s.run("import-7")
	require.Equal(t, "imported a.csv", *done.Progress.Message)

	// Defined after the parent's run: a launch deletes the previous run's
	// descendants, as optio-core does.
	child, err := s.eng.AdhocDefine(ctx, adapter.TaskInstance{ProcessID: "import-7/part", Name: "Part", Execute: quick, Metadata: map[string]any{"part": "1"}}, adapter.AdhocOptions{Parent: "import-7"})
	require.NoError(t, err)
	require.Equal(t, p.ID, *child.ParentID)
	require.Equal(t, p.ID, child.RootID)
	require.Equal(t, 1, child.Depth)
	require.Equal(t, 0, child.Order)
	require.True(t, child.Adhoc)
	require.True(t, child.Cancellable)
	require.Equal(t, map[string]any{"part": "1"}, child.Metadata, "an ad-hoc child has its own metadata")
	require.Equal(t, adapter.StateIdle, child.Status.State)

	s.run(child.ID.Hex())

	_, err = s.eng.Resync(ctx, false, nil)
	require.NoError(t, err)
	require.Equal(t, adapter.StateDone, s.get("import-7").Status.State, "a full resync keeps ad-hoc processes")
	require.False(t, s.gone("import-7/part"))

	require.NoError(t, s.eng.AdhocDelete(ctx, "import-7"))
	require.True(t, s.gone("import-7"))
	require.True(t, s.gone("import-7/part"), "adhoc_delete removes descendants")
	require.False(t, s.gone("generated"))
	out, err := s.eng.Launch(ctx, "import-7")
	require.NoError(t, err)
	require.Equal(t, adapter.ReasonNotFound, out.Reason)

	require.ErrorIs(t, s.eng.AdhocDelete(ctx, "import-7"), adapter.ReasonNotFound)
}

// TestAdhocDeleteCancelsARunningProcessFirst: deleting an active ad-hoc
// process cancels it and waits for its body, so nothing keeps writing to a
// deleted document.
func TestAdhocDeleteCancelsARunningProcessFirst(t *testing.T) {
	s := newSystem(t, adapter.Config{})
	g := newGate(t)
	_, err := s.eng.AdhocDefine(s.ctx(), adapter.TaskInstance{ProcessID: "long", Name: "Long", Execute: g.cooperative}, adapter.AdhocOptions{})
	require.NoError(t, err)
	s.launch("long")
	g.waitStarted(t)

	require.NoError(t, s.eng.AdhocDelete(s.ctx(), "long"))
	require.EqualValues(t, 1, g.returned.Load(), "the body returned before the delete")
	require.True(t, s.gone("long"))
}

// TestMissingExecuteFunctionFailsUnlogged: an ad-hoc process whose function
// went with the engine that defined it (shut down) fails, when another
// engine launches it, with optio-core's "No execute function found" in
// status.error and, as optio-core writes that failure, nothing logged past
// "State changed to running".
func TestMissingExecuteFunctionFailsUnlogged(t *testing.T) {
	s := newSystem(t, adapter.Config{})
	_, err := s.eng.AdhocDefine(s.ctx(), adapter.TaskInstance{ProcessID: "orphaned", Name: "Orphaned", Execute: quick}, adapter.AdhocOptions{})
	require.NoError(t, err)
	require.NoError(t, s.eng.Shutdown(s.ctx()))

	s.eng = s.startEngine(adapter.Config{})
	p, err := s.eng.LaunchAndWait(s.ctx(), "orphaned")
	require.NoError(t, err)
	require.NotNil(t, p)
	require.Equal(t, adapter.StateFailed, p.Status.State)
	require.NotNil(t, p.Status.Error)
	require.Equal(t, "No execute function found", *p.Status.Error)
	require.NotNil(t, p.Status.FailedAt)
	require.Equal(t, []string{"event: State changed to scheduled", "event: State changed to running"}, logLines(p))
}
