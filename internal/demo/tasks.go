package demo

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/optio-temporal/optio/adapter"
)

// Process IDs of the demo tasks.
const (
	QuickID    = "demo-quick"
	ProgressID = "demo-progress"
	FailingID  = "demo-failing"
	NightlyID  = "demo-nightly"
	MarathonID = "demo-marathon"
)

// demo-marathon's length: a tick every 100 ms for 90 s.
const (
	marathonTicks      = 900
	marathonTickMillis = 100
)

// NightlySchedule is demo-nightly's cron expression: every day at 02:00.
const NightlySchedule = "0 2 * * *"

// ErrDemoFailure is the error demo-failing returns (wrapped), so a test can
// tell the intended failure from an accident with errors.Is.
var ErrDemoFailure = errors.New("this task always fails, to show what a failed process looks like")

// Param names understood by the demo bodies. Steps and step length are
// parameters so that tests can run the same bodies quickly.
const (
	// ParamSteps is the number of steps (an integer).
	ParamSteps = "steps"
	// ParamStepMillis is the length of one step in milliseconds (an integer).
	ParamStepMillis = "stepMillis"
)

// Tasks returns the demo task set, in a stable order.
func Tasks() []adapter.TaskInstance {
	tasks := []adapter.TaskInstance{
		{
			Execute:     runSteps,
			ProcessID:   QuickID,
			Name:        "Demo: quick",
			Description: "Reports progress up to 100% within a second, then finishes.",
			Params:      map[string]any{ParamSteps: 5, ParamStepMillis: 150},
			Metadata:    map[string]any{"group": "demo", "kind": "quick"},
		},
		{
			Execute:     runSteps,
			ProcessID:   ProgressID,
			Name:        "Demo: ten steps",
			Description: "Ten steps of about a second each, with a message per step. Cancel it to see a cooperative stop.",
			Params:      map[string]any{ParamSteps: 10, ParamStepMillis: 1000},
			Metadata:    map[string]any{"group": "demo", "kind": "progress"},
		},
		{
			Execute:     runFailing,
			ProcessID:   FailingID,
			Name:        "Demo: failing",
			Description: "Fails on purpose, to show how a failed process looks.",
			Params:      map[string]any{ParamStepMillis: 300},
			Metadata:    map[string]any{"group": "demo", "kind": "failing"},
			Warning:     "This task fails on purpose.",
		},
		{
			Execute:     runSteps,
			ProcessID:   NightlyID,
			Name:        "Demo: nightly",
			Description: "Runs every day at 02:00 (cron " + NightlySchedule + "); launch it by hand to try it now.",
			Params:      map[string]any{ParamSteps: 3, ParamStepMillis: 300},
			Metadata:    map[string]any{"group": "demo", "kind": "scheduled"},
			Schedule:    NightlySchedule,
		},
		{
			Execute:     runMarathon,
			ProcessID:   MarathonID,
			Name:        "Demo: marathon",
			Description: "Reports progress with a message every 100 ms for 90 s, then finishes. Cancel it to see a cooperative stop.",
			Params:      map[string]any{ParamSteps: marathonTicks, ParamStepMillis: marathonTickMillis},
			Metadata:    map[string]any{"group": "demo", "kind": "marathon"},
		},
		resumableTask(),
	}
	return append(tasks, childTasks()...)
}

// Definitions is a task-definition generator for the engine: it returns the
// tasks of [Tasks] whose metadata contains every key/value pair of
// metadataFilter (all of them when the filter is nil or empty). services is
// not used by the demo tasks.
func Definitions(ctx context.Context, services map[string]any, metadataFilter map[string]any) ([]adapter.TaskInstance, error) {
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	var out []adapter.TaskInstance
	for _, task := range Tasks() {
		if matches(task.Metadata, metadataFilter) {
			out = append(out, task)
		}
	}
	return out, nil
}

// matches reports whether metadata holds every pair of filter. Values are
// compared with fmt's %v so that 1 and int64(1) (as decoded from BSON or
// JSON) are equal.
func matches(metadata, filter map[string]any) bool {
	for k, want := range filter {
		got, ok := metadata[k]
		if !ok || fmt.Sprint(got) != fmt.Sprint(want) {
			return false
		}
	}
	return true
}

// runSteps reports progress over a number of timed steps and returns early,
// without error, once the process is asked to stop.
func runSteps(pc *adapter.ProcessContext) error {
	steps := intParam(pc.Params(), ParamSteps, 10)
	step := time.Duration(intParam(pc.Params(), ParamStepMillis, 1000)) * time.Millisecond
	ctx := pc.Context()

	pc.ReportProgress(0, fmt.Sprintf("Starting %d steps", steps))
	for i := 1; i <= steps; i++ {
		if !pc.ShouldContinue() {
			return nil
		}
		if !sleep(ctx, step) {
			return nil
		}
		pc.ReportProgress(float64(i*100)/float64(steps), fmt.Sprintf("Step %d/%d done", i, steps))
	}
	return nil
}

// runMarathon reports progress at every tick of a steady clock, for long
// enough to watch a busy process in the Web UI and optioctl, and returns
// early, without error, once the process is asked to stop. Unlike a sleep per
// step, the ticker keeps the pace whatever a report costs.
func runMarathon(pc *adapter.ProcessContext) error {
	ticks := intParam(pc.Params(), ParamSteps, marathonTicks)
	tick := time.Duration(intParam(pc.Params(), ParamStepMillis, marathonTickMillis)) * time.Millisecond
	ctx := pc.Context()
	ticker := time.NewTicker(tick)
	defer ticker.Stop()

	pc.ReportProgress(0, fmt.Sprintf("Tick 0/%d", ticks))
	for i := 1; i <= ticks; i++ {
		if !pc.ShouldContinue() {
			return nil
		}
		select {
		case <-ctx.Done():
			return nil
		case <-ticker.C:
		}
		pc.ReportProgress(float64(i*100)/float64(ticks), fmt.Sprintf("Tick %d/%d", i, ticks))
	}
	return nil
}

// runFailing reports a little indeterminate progress, then fails.
func runFailing(pc *adapter.ProcessContext) error {
	pc.ReportProgress(adapter.Indeterminate, "Working on something that will not work")
	step := time.Duration(intParam(pc.Params(), ParamStepMillis, 300)) * time.Millisecond
	if !sleep(pc.Context(), step) {
		return nil
	}
	return fmt.Errorf("%s: %w", pc.ProcessID(), ErrDemoFailure)
}

// sleep waits for d and reports false if ctx ended first.
func sleep(ctx context.Context, d time.Duration) bool {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-ctx.Done():
		return false
	case <-t.C:
		return true
	}
}

// intParam reads an integer parameter that may have been decoded from JSON
// or BSON as any numeric type.
func intParam(params map[string]any, name string, def int) int {
	switch v := params[name].(type) {
	case int:
		return v
	case int32:
		return int(v)
	case int64:
		return int(v)
	case float64:
		return int(v)
	case float32:
		return int(v)
	}
	return def
}

// Definitions has the shape the engine asks for.
var _ adapter.TaskGenerator = Definitions
