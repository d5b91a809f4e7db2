package demo

import (
	"context"
	"testing"
	"time"

	"github.com/robfig/cron/v3"
	"github.com/stretchr/testify/require"
)

func TestTasksAreWellFormed(t *testing.T) {
	seen := map[string]bool{}
	for _, task := range Tasks() {
		require.NotNil(t, task.Execute, task.ProcessID)
		require.NotEmpty(t, task.Name, task.ProcessID)
		require.False(t, seen[task.ProcessID], "duplicate %s", task.ProcessID)
		seen[task.ProcessID] = true
		require.Equal(t, "demo", task.Metadata["group"], task.ProcessID)
		if task.ProcessID == NightlyID {
			_, err := cron.ParseStandard(task.Schedule)
			require.NoError(t, err)
		} else {
			require.Empty(t, task.Schedule, task.ProcessID)
		}
	}
	require.Equal(t, map[string]bool{
		QuickID: true, ProgressID: true, FailingID: true, NightlyID: true, MarathonID: true,
		ChildrenID: true, ParallelID: true, FanoutID: true, ResumableID: true,
	}, seen)
	require.Equal(t, "0 2 * * *", NightlySchedule)
}

func TestDefinitionsFiltersByMetadata(t *testing.T) {
	all := []string{QuickID, ProgressID, FailingID, NightlyID, MarathonID, ResumableID, ChildrenID, ParallelID, FanoutID}
	for _, tc := range []struct {
		name   string
		filter map[string]any
		want   []string
	}{
		{"nil is a full sync", nil, all},
		{"empty is a full sync", map[string]any{}, all},
		{"group", map[string]any{"group": "demo"}, all},
		{"one kind", map[string]any{"kind": "failing"}, []string{FailingID}},
		{"the marathon is not a progress demo", map[string]any{"kind": "progress"}, []string{ProgressID}},
		{"every pair must match", map[string]any{"group": "demo", "kind": "scheduled"}, []string{NightlyID}},
		{"no match", map[string]any{"kind": "nope"}, nil},
		{"unknown key", map[string]any{"team": "x"}, nil},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got, err := Definitions(context.Background(), nil, tc.filter)
			require.NoError(t, err)
			var ids []string
			for _, task := range got {
				ids = append(ids, task.ProcessID)
			}
			require.Equal(t, tc.want, ids)
		})
	}
}

// The engine test runs demo-fanout smaller and demo-marathon only until it
// is cancelled; the task set itself has them at full size.
func TestMarathonAndFanoutAreFullSize(t *testing.T) {
	require.Equal(t, "demo-marathon", MarathonID)
	require.Equal(t, "demo-fanout", FanoutID)
	require.Equal(t, 90*time.Second, marathonTicks*marathonTickMillis*time.Millisecond)
	require.Equal(t, 100*time.Millisecond, marathonTickMillis*time.Millisecond)
	require.Equal(t, 2000, fanoutChildren)
	require.Equal(t, 100, fanoutConcurrency)

	params := map[string]map[string]any{}
	for _, task := range Tasks() {
		params[task.ProcessID] = task.Params
	}
	require.Equal(t, map[string]any{ParamSteps: marathonTicks, ParamStepMillis: marathonTickMillis}, params[MarathonID])
	require.Equal(t, map[string]any{ParamItems: fanoutChildren, ParamConcurrency: fanoutConcurrency}, params[FanoutID])
}

func TestDefinitionsHonoursContext(t *testing.T) {
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	_, err := Definitions(ctx, nil, nil)
	require.ErrorIs(t, err, context.Canceled)
}

func TestIntParamAcceptsDecodedNumbers(t *testing.T) {
	for _, v := range []any{3, int32(3), int64(3), 3.0, float32(3)} {
		require.Equal(t, 3, intParam(map[string]any{"n": v}, "n", 9), "%T", v)
	}
	require.Equal(t, 9, intParam(map[string]any{"n": "3"}, "n", 9))
	require.Equal(t, 9, intParam(nil, "n", 9))
}

func TestSleepStopsOnCancel(t *testing.T) {
	ctx, cancel := context.WithCancel(context.Background())
	go func() { time.Sleep(10 * time.Millisecond); cancel() }()
	start := time.Now()
	require.False(t, sleep(ctx, time.Minute))
	require.Less(t, time.Since(start), 5*time.Second)
	require.True(t, sleep(context.Background(), time.Millisecond))
}
