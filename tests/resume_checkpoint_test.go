package tests

import (
	"errors"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/optio-temporal/optio/adapter"
)

// runObservation is what one run of the checkpoint lifecycle body saw.
type runObservation struct {
	kind     adapter.RunKind
	found    bool
	loaded   int
	badValue error
	tooLarge error
	after    int
}

// TestCheckpointLifecycle: a checkpoint outlives its run; a fresh launch
// starts without it (and deletes it); a resume reads it; bad values are
// refused with typed errors and leave the previous checkpoint; and deleting
// the process deletes its checkpoint.
func TestCheckpointLifecycle(t *testing.T) {
	t.Parallel()
	s := newSystem(t, adapter.Config{})
	runs := make(chan runObservation, 4)
	body := func(pc *adapter.ProcessContext) error {
		var o runObservation
		o.kind = pc.RunKind()
		var err error
		if o.found, err = pc.LoadCheckpoint(&o.loaded); err != nil {
			return err
		}
		if err := pc.SaveCheckpoint(o.loaded + 10); err != nil {
			return err
		}
		o.badValue = pc.SaveCheckpoint(func() {})
		o.tooLarge = pc.SaveCheckpoint(strings.Repeat("x", adapter.MaxCheckpointSize))
		if _, err := pc.LoadCheckpoint(&o.after); err != nil {
			return err
		}
		runs <- o
		return nil
	}
	_, err := s.eng.AdhocDefine(s.ctx(), adapter.TaskInstance{ProcessID: "cp", Name: "Checkpoints", Execute: body, SupportsResume: true}, adapter.AdhocOptions{})
	require.NoError(t, err)
	checkpoints := s.env.Mongo.DB.Collection("optio_checkpoints")

	p := s.run("cp")
	o := <-runs
	require.Equal(t, adapter.FreshRun, o.kind)
	require.False(t, o.found)
	require.ErrorIs(t, o.badValue, adapter.ErrInvalidInput)
	require.ErrorIs(t, o.tooLarge, adapter.ErrCheckpointTooLarge)
	require.ErrorIs(t, o.tooLarge, adapter.ErrInvalidInput)
	require.Equal(t, 10, o.after, "refused values leave the previous checkpoint")
	require.True(t, *p.HasSavedState)
	require.Len(t, readCollection(t, checkpoints), 1)

	// A resume reads what the previous run saved.
	p, err = s.eng.LaunchAndWait(s.ctx(), "cp", adapter.WithResume())
	require.NoError(t, err)
	require.Equal(t, adapter.StateDone, p.Status.State)
	o = <-runs
	require.Equal(t, adapter.ResumedRun, o.kind)
	require.True(t, o.found)
	require.Equal(t, 10, o.loaded)

	// A fresh launch starts without it.
	s.run("cp")
	o = <-runs
	require.Equal(t, adapter.FreshRun, o.kind)
	require.False(t, o.found)
	require.Equal(t, 10, o.after)

	// Deleting the process deletes its checkpoint.
	require.NoError(t, s.eng.AdhocDelete(s.ctx(), "cp"))
	require.Empty(t, readCollection(t, checkpoints))

	// Resume of a process without SupportsResume is refused; nothing runs.
	_, err = s.eng.AdhocDefine(s.ctx(), adapter.TaskInstance{ProcessID: "plain", Name: "Plain", Execute: body}, adapter.AdhocOptions{})
	require.NoError(t, err)
	_, err = s.eng.LaunchAndWait(s.ctx(), "plain", adapter.WithResume())
	require.True(t, errors.Is(err, adapter.ReasonNoResumeSupport), "%v", err)
	require.Equal(t, adapter.StateIdle, s.get("plain").Status.State)
	require.Empty(t, runs)
}
