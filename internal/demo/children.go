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
	FanoutID   = "demo-fanout"
)

// demo-fanout's group: 2,000 children, 100 at a time.
const (
	fanoutChildren    = 2000
	fanoutConcurrency = 100
)

// Param names of the child demos.
const (
	// ParamItems is the number of items demo-parallel processes, or of
	// children demo-fanout spawns (an integer).
	ParamItems = "items"
	// ParamConcurrency is the group concurrency of demo-parallel and
	// demo-fanout (an integer).
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
		{
			Execute:     runFanout,
			ProcessID:   FanoutID,
			Name:        "Demo: fan-out",
			Description: "2,000 trivial children in one parallel group, 100 at a time; the parent is done when every child is.",
			Params:      map[string]any{ParamItems: fanoutChildren, ParamConcurrency: fanoutConcurrency},
			Metadata:    map[string]any{"group": "demo", "kind": "fanout"},
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
			// After a cancel this is the cancelled phase's *ChildError, or
			// the refusal of the next phase (adapter.ErrParentCancelled):
			// the process ends cancelled. A failed phase fails it.
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
	var spawnErr error
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
		spawnErr = group.Spawn(adapter.ChildSpec{
			Execute:   body,
			ProcessID: fmt.Sprintf("%s/item-%02d", pc.ProcessID(), i),
			Name:      fmt.Sprintf("Item %d", i),
			Params:    map[string]any{ParamSteps: intParam(pc.Params(), ParamSteps, 3), ParamStepMillis: intParam(pc.Params(), ParamStepMillis, 300)},
		})
		if spawnErr != nil {
			// Once the process is cancelled, Spawn refuses the rest
			// (adapter.ErrParentCancelled, logged on the parent).
			break
		}
	}
	results, err := waitGroup(group, spawnErr)
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

// runFanout spawns many children that do nothing in one parallel group, to
// show a wide process tree: what the engine, Temporal and the Web UI make of
// thousands of child workflows. A child that does not end done fails the
// group and so the parent.
func runFanout(pc *adapter.ProcessContext) error {
	n := intParam(pc.Params(), ParamItems, fanoutChildren)
	group := pc.ParallelGroup(adapter.GroupOptions{
		MaxConcurrency: intParam(pc.Params(), ParamConcurrency, fanoutConcurrency),
		// Out of every child, not of those spawned so far as
		// AverageProgress would have it: most wait for a free slot.
		OnChildProgress: func(children []adapter.ChildProgressInfo) {
			done := 0
			for _, c := range children {
				if c.State == adapter.StateDone {
					done++
				}
			}
			pc.ReportProgress(float64(done*100)/float64(n), fmt.Sprintf("%d/%d children done", done, n))
		},
	})
	var spawnErr error
	for i := range n {
		spawnErr = group.Spawn(adapter.ChildSpec{
			Execute:   func(*adapter.ProcessContext) error { return nil },
			ProcessID: fmt.Sprintf("%s/child-%04d", pc.ProcessID(), i),
			Name:      fmt.Sprintf("Child %d", i),
		})
		if spawnErr != nil {
			break // refused once the process is cancelled
		}
	}
	results, err := waitGroup(group, spawnErr)
	if err != nil {
		return err
	}
	pc.ReportProgress(100, fmt.Sprintf("All %d children done", len(results)))
	return nil
}

// waitGroup waits for the children of group already spawned, also when
// spawning stopped with spawnErr, and returns their results with both
// errors joined. After a cancel those errors are the refused spawn and the
// children cancelled with the parent, and a body that returns them ends
// cancelled; a child that failed on its own (where the group does not
// survive it), or any other spawn error, fails it.
func waitGroup(group *adapter.ParallelGroup, spawnErr error) ([]adapter.ChildResult, error) {
	results, err := group.Wait()
	return results, errors.Join(spawnErr, err)
}
