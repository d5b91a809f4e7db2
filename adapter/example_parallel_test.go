package adapter_test

import (
	"context"
	"errors"
	"fmt"

	"github.com/optio-temporal/optio/adapter"
)

// A ParallelGroup runs children concurrently, at most MaxConcurrency at a
// time. With SurviveFailure a failed child neither fails the group nor
// cancels its siblings; Wait returns every child's result in spawn order.
func ExampleProcessContext_ParallelGroup() {
	ctx := context.Background()

	convert := func(pc *adapter.ProcessContext) error {
		if pc.Params()["file"] == "broken.png" {
			return errors.New("not an image")
		}
		return nil
	}
	batch := func(pc *adapter.ProcessContext) error {
		group := pc.ParallelGroup(adapter.GroupOptions{
			MaxConcurrency:  2,
			SurviveFailure:  true,
			OnChildProgress: adapter.AverageProgress(pc),
		})
		for i, file := range []string{"a.png", "broken.png", "c.png"} {
			err := group.Spawn(adapter.ChildSpec{
				Execute:   convert,
				ProcessID: fmt.Sprintf("%s/item-%d", pc.ProcessID(), i),
				Name:      "Convert " + file,
				Params:    map[string]any{"file": file},
			})
			if err != nil {
				return err
			}
		}
		results, err := group.Wait()
		if err != nil {
			return err // a *GroupError, had the group not survived failures
		}
		failed := 0
		for _, r := range results {
			if r.State != adapter.StateDone {
				fmt.Printf("%s: %s (%s)\n", r.ProcessID, r.State, r.Error)
				failed++
				continue
			}
			fmt.Printf("%s: %s\n", r.ProcessID, r.State)
		}
		pc.ReportProgress(100, fmt.Sprintf("Done, %d failures", failed))
		return nil
	}
	eng, stop := newExampleEngine(adapter.TaskInstance{Execute: batch, ProcessID: "batch", Name: "Batch"})
	defer stop()

	p, err := eng.LaunchAndWait(ctx, "batch")
	if err != nil {
		panic(err)
	}
	fmt.Println(p.Status.State, *p.Progress.Message)
	// Output:
	// batch/item-0: done
	// batch/item-1: failed (not an image)
	// batch/item-2: done
	// done Done, 1 failures
}
