package adapter_test

import (
	"context"
	"fmt"
	"strings"

	"github.com/optio-temporal/optio/adapter"
)

// A body runs child processes one after the other with RunChild. Each child
// is a child workflow of the parent's workflow and has a document of its own
// in the parent's tree; SequentialProgress gives each of the n children an
// equal slot of the parent's progress.
func ExampleProcessContext_RunChild() {
	ctx := context.Background()

	phase := func(pc *adapter.ProcessContext) error {
		pc.ReportProgress(100, "Phase "+pc.Params()["n"].(string)+" complete")
		return nil
	}
	pipeline := func(pc *adapter.ProcessContext) error {
		progress := adapter.SequentialProgress(pc, 3)
		for _, n := range []string{"1", "2", "3"} {
			state, err := pc.RunChild(adapter.ChildSpec{
				Execute:         phase,
				ProcessID:       pc.ProcessID() + "/phase-" + n,
				Name:            "Phase " + n,
				Params:          map[string]any{"n": n},
				OnChildProgress: progress,
			})
			if err != nil {
				return err // a *ChildError: the child failed or was cancelled
			}
			fmt.Println("phase", n, state)
		}
		return nil
	}
	eng, stop := newExampleEngine(adapter.TaskInstance{Execute: pipeline, ProcessID: "pipeline", Name: "Pipeline"})
	defer stop()

	root, err := eng.LaunchAndWait(ctx, "pipeline")
	if err != nil {
		panic(err)
	}
	fmt.Printf("%s %s %.0f%%\n", root.ProcessID, root.Status.State, *root.Progress.Percent)
	printLog(root)

	tree, err := eng.ListProcesses(ctx, adapter.ListOptions{RootID: root.ID.Hex()})
	if err != nil {
		panic(err)
	}
	for _, p := range tree {
		fmt.Printf("%s%s (order %d): %s\n", strings.Repeat("  ", p.Depth), p.ProcessID, p.Order, p.Status.State)
	}
	// Output:
	// phase 1 done
	// phase 2 done
	// phase 3 done
	// pipeline done 100%
	//   State changed to scheduled
	//   State changed to running
	//   Spawned child: Phase 1
	//   Spawned child: Phase 2
	//   Spawned child: Phase 3
	//   State changed to done
	// pipeline (order 0): done
	//   pipeline/phase-1 (order 0): done
	//   pipeline/phase-2 (order 1): done
	//   pipeline/phase-3 (order 2): done
}
