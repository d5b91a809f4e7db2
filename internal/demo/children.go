package demo

import (
	"errors"
	"fmt"
	"time"

	"github.com/optio-temporal/optio/adapter"
)

// Process IDs of the demos with child processes.
const (
	ChildrenID = "demo-children"
	ParallelID = "demo-parallel"
)

// Param names of the child demos.
const (
	// ParamItems is the number of items demo-parallel processes (an integer).
	ParamItems = "items"
	// ParamConcurrency is demo-parallel's group concurrency (an integer).
	ParamConcurrency = "concurrency"
	// ParamFailItem is the index of the item that fails (an integer; -1 for none).
	ParamFailItem = "failItem"
)

// ErrDemoItem is the error of demo-parallel's failing item (wrapped).
var ErrDemoItem = errors.New("this item fails on purpose")

func childTasks() []adapter.TaskInstance {
	return []adapter.TaskInstance{
		{
			Execute:     runPhases,
			ProcessID:   ChildrenID,
			Name:        "Demo: three phases",
			Description: "Three sequential child processes; the parent's progress follows them (sequential progress).",
			Params:      map[string]any{ParamSteps: 4, ParamStepMillis: 400},
			Metadata:    map[string]any{"group": "demo", "kind": "children"},
		},
		{
			Execute:     runParallel,
			ProcessID:   ParallelID,
			Name:        "Demo: parallel items",
			Description: "20 items as child processes, 5 at a time; one item fails and the group survives it.",
			Params:      map[string]any{ParamItems: 20, ParamConcurrency: 5, ParamFailItem: 13, ParamSteps: 3, ParamStepMillis: 300},
			Metadata:    map[string]any{"group": "demo", "kind": "parallel"},
		},
	}
}

// runPhases runs three sequential children, each a few timed steps, with the
// parent's progress mapped from theirs.
func runPhases(pc *adapter.ProcessContext) error {
	const phases = 3
	progress := adapter.SequentialProgress(pc, phases)
	for i := 1; i <= phases; i++ {
		_, err := pc.RunChild(adapter.ChildSpec{
			Execute:         runSteps,
			ProcessID:       fmt.Sprintf("%s/phase-%d", pc.ProcessID(), i),
			Name:            fmt.Sprintf("Phase %d", i),
			Params:          pc.Params(),
			OnChildProgress: progress,
		})
		if err != nil {
			return err
		}
	}
	pc.ReportProgress(100, "All phases done")
	return nil
}

// runParallel processes items in a parallel group that survives failures and
// reports how many failed.
func runParallel(pc *adapter.ProcessContext) error {
	items := intParam(pc.Params(), ParamItems, 20)
	failItem := intParam(pc.Params(), ParamFailItem, -1)
	group := pc.ParallelGroup(adapter.GroupOptions{
		MaxConcurrency:  intParam(pc.Params(), ParamConcurrency, 5),
		SurviveFailure:  true,
		OnChildProgress: adapter.AverageProgress(pc),
	})
	for i := range items {
		body := runSteps
		if i == failItem {
			body = func(c *adapter.ProcessContext) error {
				if !sleep(c.Context(), 200*time.Millisecond) {
					return nil
				}
				return fmt.Errorf("item %d: %w", i, ErrDemoItem)
			}
		}
		err := group.Spawn(adapter.ChildSpec{
			Execute:   body,
			ProcessID: fmt.Sprintf("%s/item-%02d", pc.ProcessID(), i),
			Name:      fmt.Sprintf("Item %d", i),
			Params:    map[string]any{ParamSteps: intParam(pc.Params(), ParamSteps, 3), ParamStepMillis: intParam(pc.Params(), ParamStepMillis, 300)},
		})
		if err != nil {
			return err
		}
	}
	results, err := group.Wait()
	if err != nil {
		return err
	}
	failed := 0
	for _, r := range results {
		if r.State != adapter.StateDone {
			failed++
		}
	}
	pc.ReportProgress(100, fmt.Sprintf("Done, %d of %d items failed", failed, len(results)))
	return nil
}
