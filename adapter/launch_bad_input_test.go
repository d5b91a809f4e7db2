package adapter_test

import (
	"context"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/optio-temporal/optio/adapter"
)

// TestLaunchRefusesANilOption: a nil LaunchOption is bad input, refused
// with ErrInvalidInput by Launch and LaunchAndWait before anything is
// written: the process stays idle and can be launched afterwards.
func TestLaunchRefusesANilOption(t *testing.T) {
	ctx := t.Context()
	quick := func(*adapter.ProcessContext) error { return nil }
	eng, _ := newTestEngine(t, adapter.Config{
		TaskDefinitions: func(context.Context, map[string]any, map[string]any) ([]adapter.TaskInstance, error) {
			return []adapter.TaskInstance{{ProcessID: "job", Name: "Job", Execute: quick}}, nil
		},
	})

	for name, launch := range map[string]func() error{
		"Launch": func() error {
			_, err := eng.Launch(ctx, "job", nil)
			return err
		},
		"LaunchAndWait": func() error {
			_, err := eng.LaunchAndWait(ctx, "job", adapter.WithSessionID("s"), nil)
			return err
		},
	} {
		t.Run(name, func(t *testing.T) {
			var err error
			require.NotPanics(t, func() { err = launch() })
			require.ErrorIs(t, err, adapter.ErrInvalidInput)
			require.ErrorContains(t, err, "LaunchOption")
			p, err := eng.GetProcess(ctx, "job")
			require.NoError(t, err)
			require.Equal(t, adapter.StateIdle, p.Status.State, "nothing written")
		})
	}

	wctx, cancel := context.WithTimeout(ctx, exampleTimeout)
	defer cancel()
	p, err := eng.LaunchAndWait(wctx, "job")
	require.NoError(t, err)
	require.Equal(t, adapter.StateDone, p.Status.State)
}
