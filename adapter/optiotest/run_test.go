package optiotest_test

import (
	"context"
	"errors"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/optio-temporal/optio/adapter"
	"github.com/optio-temporal/optio/adapter/optiotest"
)

func TestRunGivesTheBodyItsInputs(t *testing.T) {
	type store struct{ name string }
	svc := &store{name: "files"}
	var got struct {
		id                 string
		params, meta, svcs map[string]any
		kind               adapter.RunKind
		continues          bool
	}
	res, err := optiotest.Run(context.Background(), func(pc *adapter.ProcessContext) error {
		got.id, got.params, got.meta, got.svcs = pc.ProcessID(), pc.Params(), pc.Metadata(), pc.Services()
		got.kind, got.continues = pc.RunKind(), pc.ShouldContinue()
		return nil
	}, optiotest.Options{
		ProcessID: "import-eu",
		Params:    map[string]any{"source": "s3://eu"},
		Metadata:  map[string]any{"region": "eu"},
		Services:  map[string]any{"store": svc},
	})
	require.NoError(t, err)
	require.Equal(t, adapter.StateDone, res.State)
	require.NoError(t, res.Err)
	require.Equal(t, "import-eu", got.id)
	require.Equal(t, map[string]any{"source": "s3://eu"}, got.params)
	require.Equal(t, map[string]any{"region": "eu"}, got.meta)
	require.Same(t, svc, got.svcs["store"])
	require.Equal(t, adapter.FreshRun, got.kind)
	require.True(t, got.continues)
	require.Equal(t, "import-eu", res.ProcessID)
	require.Equal(t, map[string]any{"source": "s3://eu"}, res.Params)
}

func TestRunDefaultsMatchTheEngine(t *testing.T) {
	var params, meta map[string]any
	res, err := optiotest.Run(context.Background(), func(pc *adapter.ProcessContext) error {
		params, meta = pc.Params(), pc.Metadata()
		return nil
	}, optiotest.Options{})
	require.NoError(t, err)
	require.Equal(t, optiotest.DefaultProcessID, res.ProcessID)
	require.NotNil(t, params, "nil params reach the body as an empty map")
	require.Empty(t, params)
	require.NotNil(t, meta)
	require.Empty(t, meta)
	require.Empty(t, res.Progress)
	require.Empty(t, res.Log)
	require.False(t, res.Ephemeral)
}

func TestRunRecordsProgressAndLog(t *testing.T) {
	res, err := optiotest.Run(context.Background(), func(pc *adapter.ProcessContext) error {
		pc.ReportProgress(0, "Starting")
		pc.ReportProgress(40, "")
		pc.ReportProgress(adapter.Indeterminate, "Waiting for the API")
		pc.ReportProgress(250, "Overshoot") // clamped, as on the engine
		return pc.MarkEphemeral()
	}, optiotest.Options{})
	require.NoError(t, err)
	require.Equal(t, adapter.StateDone, res.State)
	require.Equal(t, []optiotest.Report{
		{Percent: 0, Message: "Starting"},
		{Percent: 40},
		{Percent: adapter.Indeterminate, Message: "Waiting for the API"},
		{Percent: 100, Message: "Overshoot"},
	}, res.Progress)
	require.Equal(t, []optiotest.LogEntry{
		{Level: optiotest.LevelInfo, Message: "Starting"},
		{Level: optiotest.LevelInfo, Message: "Waiting for the API"},
		{Level: optiotest.LevelInfo, Message: "Overshoot"},
	}, res.Log)
	require.Equal(t, []string{"Starting", "Waiting for the API", "Overshoot"}, res.Messages())
	require.True(t, res.Ephemeral)
}

var errBroken = errors.New("the source is broken")

func TestRunEndsFailedWithTheBodysError(t *testing.T) {
	for _, tc := range []struct {
		name    string
		body    adapter.TaskFunc
		is      error
		message string
	}{
		{"an error", func(*adapter.ProcessContext) error { return errBroken }, errBroken, "the source is broken"},
		{"a panic", func(*adapter.ProcessContext) error { panic("index out of range") }, nil, "panic: index out of range"},
		{"a cancellation error without a cancel", func(*adapter.ProcessContext) error { return context.Canceled }, context.Canceled, "context canceled"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			res, err := optiotest.Run(context.Background(), tc.body, optiotest.Options{})
			require.NoError(t, err)
			require.Equal(t, adapter.StateFailed, res.State)
			require.ErrorContains(t, res.Err, tc.message)
			if tc.is != nil {
				require.ErrorIs(t, res.Err, tc.is)
			}
		})
	}
}
