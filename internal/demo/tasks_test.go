package demo

import (
	"context"
	"fmt"
	"regexp"
	"slices"
	"testing"
	"time"

	"github.com/robfig/cron/v3"
	"github.com/stretchr/testify/require"

	"github.com/optio-temporal/optio/adapter"
	"github.com/optio-temporal/optio/adapter/optiotest"
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

// The bodies' unit tests run them with the test kit, in process and at a
// small size; TestDemoTasksOnTheEngine runs them on the engine.

// runTask runs the body of the demo task id with params (and the task's
// metadata) in the test kit.
func runTask(t *testing.T, id string, params map[string]any, opts optiotest.Options) *optiotest.Result {
	t.Helper()
	i := slices.IndexFunc(Tasks(), func(task adapter.TaskInstance) bool { return task.ProcessID == id })
	require.GreaterOrEqual(t, i, 0, id)
	task := Tasks()[i]
	opts.ProcessID, opts.Params, opts.Metadata = id, params, task.Metadata
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	res, err := optiotest.Run(ctx, task.Execute, opts)
	require.NoError(t, err)
	return res
}

// at is a cancel hook that fires at the report of process id with message.
func at(id, message string) func(string, optiotest.Report) bool {
	return func(processID string, r optiotest.Report) bool { return processID == id && r.Message == message }
}

func TestStepsReportEveryStep(t *testing.T) {
	for _, id := range []string{QuickID, ProgressID, NightlyID} {
		t.Run(id, func(t *testing.T) {
			res := runTask(t, id, map[string]any{ParamSteps: 4, ParamStepMillis: 1}, optiotest.Options{})
			require.Equal(t, adapter.StateDone, res.State, "%v", res.Err)
			require.Equal(t, []optiotest.Report{
				{Percent: 0, Message: "Starting 4 steps"},
				{Percent: 25, Message: "Step 1/4 done"},
				{Percent: 50, Message: "Step 2/4 done"},
				{Percent: 75, Message: "Step 3/4 done"},
				{Percent: 100, Message: "Step 4/4 done"},
			}, res.Progress)
			require.Len(t, res.Log, 5)
		})
	}
}

func TestStepsStopWhenCancelled(t *testing.T) {
	t.Run("between steps", func(t *testing.T) {
		res := runTask(t, ProgressID, map[string]any{ParamSteps: 10, ParamStepMillis: 1},
			optiotest.Options{CancelWhen: at(ProgressID, "Step 3/10 done")})
		require.Equal(t, adapter.StateCancelled, res.State)
		require.NoError(t, res.Err)
		require.Equal(t, optiotest.Report{Percent: 30, Message: "Step 3/10 done"}, res.Progress[len(res.Progress)-1])
	})
	t.Run("within a step", func(t *testing.T) {
		start := time.Now()
		res := runTask(t, ProgressID, map[string]any{ParamSteps: 10, ParamStepMillis: 60_000},
			optiotest.Options{CancelWhen: at(ProgressID, "Starting 10 steps")})
		require.Equal(t, adapter.StateCancelled, res.State)
		require.Equal(t, []string{"Starting 10 steps"}, res.Messages())
		require.Less(t, time.Since(start), 10*time.Second, "the one-minute step was cut short")
	})
}

func TestFailingFailsWithItsError(t *testing.T) {
	res := runTask(t, FailingID, map[string]any{ParamStepMillis: 1}, optiotest.Options{})
	require.Equal(t, adapter.StateFailed, res.State)
	require.ErrorIs(t, res.Err, ErrDemoFailure)
	require.Equal(t, FailingID+": "+ErrDemoFailure.Error(), res.Err.Error())
	require.Equal(t, []optiotest.Report{{Percent: adapter.Indeterminate, Message: "Working on something that will not work"}}, res.Progress)
}

func TestMarathonTicksUntilCancelled(t *testing.T) {
	res := runTask(t, MarathonID, map[string]any{ParamSteps: 4, ParamStepMillis: 1}, optiotest.Options{})
	require.Equal(t, adapter.StateDone, res.State)
	require.Equal(t, []string{"Tick 0/4", "Tick 1/4", "Tick 2/4", "Tick 3/4", "Tick 4/4"}, res.Messages())

	res = runTask(t, MarathonID, map[string]any{ParamSteps: 20, ParamStepMillis: 1},
		optiotest.Options{CancelWhen: at(MarathonID, "Tick 5/20")})
	require.Equal(t, adapter.StateCancelled, res.State)
	require.Equal(t, optiotest.Report{Percent: 25, Message: "Tick 5/20"}, res.Progress[len(res.Progress)-1])
}

func TestResumableContinuesFromItsCheckpoint(t *testing.T) {
	params := map[string]any{ParamSteps: 6, ParamStepMillis: 1}
	first := runTask(t, ResumableID, params, optiotest.Options{CancelWhen: at(ResumableID, "Step 3/6")})
	require.Equal(t, adapter.StateCancelled, first.State)
	require.Equal(t, []string{"Step 1/6", "Step 2/6", "Step 3/6"}, first.Messages(), "a fresh run logs no resume")
	require.True(t, first.HasSavedState)
	require.JSONEq(t, `{"done": 3}`, string(first.Checkpoint))

	resumed := runTask(t, ResumableID, params, optiotest.Options{RunKind: adapter.ResumedRun, Checkpoint: first.Checkpoint})
	require.Equal(t, adapter.StateDone, resumed.State, "%v", resumed.Err)
	require.Equal(t, []string{"Resumed (resumed): continuing from step 4/6", "Step 4/6", "Step 5/6", "Step 6/6"}, resumed.Messages())
	require.Equal(t, 50.0, resumed.Progress[0].Percent)
	require.False(t, resumed.HasSavedState, "cleared once every step is done")
	require.Nil(t, resumed.Checkpoint)

	lost := runTask(t, ResumableID, params, optiotest.Options{RunKind: adapter.RerunAfterLostWorker})
	require.Equal(t, adapter.StateDone, lost.State)
	require.Equal(t, "Resumed (re-run after a lost worker): continuing from step 1/6", lost.Messages()[0])
	require.Len(t, lost.Messages(), 7)
}

func TestChildrenRunsThreePhases(t *testing.T) {
	params := map[string]any{ParamSteps: 2, ParamStepMillis: 1}
	res := runTask(t, ChildrenID, params, optiotest.Options{})
	require.Equal(t, adapter.StateDone, res.State, "%v", res.Err)
	require.Equal(t, optiotest.Report{Percent: 100, Message: "All phases done"}, res.Progress[len(res.Progress)-1])
	require.Len(t, res.Children, 3)
	for i, c := range res.Children {
		require.Equal(t, fmt.Sprintf("%s/phase-%d", ChildrenID, i+1), c.ProcessID)
		require.Equal(t, fmt.Sprintf("Phase %d", i+1), c.Name)
		require.Equal(t, adapter.StateDone, c.State)
		require.Equal(t, params, c.Params, "the phases get the parent's params")
		require.Equal(t, []string{"Starting 2 steps", "Step 1/2 done", "Step 2/2 done"}, c.Messages())
	}
	require.Equal(t, "Spawned child: Phase 1", res.Log[0].Message)
	// Sequential progress: never backwards; a third per phase.
	var last float64
	for _, r := range res.Progress {
		require.GreaterOrEqual(t, r.Percent, last)
		last = r.Percent
	}
	require.Contains(t, res.Progress, optiotest.Report{Percent: 100.0 / 3})

	// Cancelled in phase 2: phase 2 ends cancelled, phase 3 never starts,
	// and the parent, which returns phase 2's *ChildError, ends cancelled.
	res = runTask(t, ChildrenID, params, optiotest.Options{CancelWhen: at(ChildrenID+"/phase-2", "Step 1/2 done")})
	require.Equal(t, adapter.StateCancelled, res.State, "%v", res.Err)
	var ce *adapter.ChildError
	require.ErrorAs(t, res.Err, &ce)
	require.Equal(t, ChildrenID+"/phase-2", ce.ProcessID)
	require.Len(t, res.Children, 2)
	require.Equal(t, adapter.StateDone, res.Children[0].State)
	require.Equal(t, adapter.StateCancelled, res.Children[1].State)
}

func TestParallelSurvivesItsFailingItem(t *testing.T) {
	params := map[string]any{ParamItems: 6, ParamConcurrency: 2, ParamFailItem: 3, ParamSteps: 2, ParamStepMillis: 1}
	res := runTask(t, ParallelID, params, optiotest.Options{})
	require.Equal(t, adapter.StateDone, res.State, "%v", res.Err)
	require.Equal(t, "Done, 1 of 6 items failed", res.Progress[len(res.Progress)-1].Message)
	require.Len(t, res.Children, 6)
	for _, c := range res.Children {
		if c.ProcessID == ParallelID+"/item-03" {
			require.Equal(t, adapter.StateFailed, c.State)
			require.ErrorIs(t, c.Err, ErrDemoItem)
			continue
		}
		require.Equal(t, adapter.StateDone, c.State, c.ProcessID)
		require.Equal(t, map[string]any{ParamSteps: 2, ParamStepMillis: 1}, c.Params)
	}
}

func TestParallelEndsCancelledWhenCancelled(t *testing.T) {
	params := map[string]any{ParamItems: 20, ParamConcurrency: 2, ParamFailItem: -1, ParamSteps: 2, ParamStepMillis: 50}
	res := runTask(t, ParallelID, params, optiotest.Options{CancelWhen: at(ParallelID+"/item-01", "Step 1/2 done")})
	require.Equal(t, adapter.StateCancelled, res.State, "%v", res.Err)
	require.ErrorIs(t, res.Err, adapter.ErrParentCancelled, "spawning stopped at the refusal")
	require.Less(t, len(res.Children), 20)
	require.Equal(t, adapter.StateCancelled, res.Child(ParallelID+"/item-01").State)
	for _, c := range res.Children {
		require.True(t, c.State.End(), c.ProcessID)
	}
	refused := slices.ContainsFunc(res.Log, func(e optiotest.LogEntry) bool {
		return e.Level == optiotest.LevelEvent && regexp.MustCompile(`^Refused to spawn child 'Item \d+'`).MatchString(e.Message)
	})
	require.True(t, refused, "log: %v", res.Log)
}

func TestFanoutRunsEveryChild(t *testing.T) {
	res := runTask(t, FanoutID, map[string]any{ParamItems: 50, ParamConcurrency: 10}, optiotest.Options{})
	require.Equal(t, adapter.StateDone, res.State, "%v", res.Err)
	require.Equal(t, optiotest.Report{Percent: 100, Message: "All 50 children done"}, res.Progress[len(res.Progress)-1])
	require.Len(t, res.Children, 50)
	for _, c := range res.Children {
		require.Equal(t, adapter.StateDone, c.State, c.ProcessID)
	}
	require.NotNil(t, res.Child(FanoutID+"/child-0049"))
}
