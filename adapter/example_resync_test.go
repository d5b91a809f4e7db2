package adapter_test

import (
	"context"
	"fmt"

	"github.com/optio-temporal/optio/adapter"
)

// Resync calls the task generator again and syncs its answer into Mongo and
// into the Temporal Schedules: new tasks are created, changed definitions
// are updated without touching runtime state, and removed tasks are
// deleted (unless active, and never ad-hoc processes).
func ExampleEngine_Resync() {
	ctx := context.Background()
	work := func(pc *adapter.ProcessContext) error { return nil }

	// The generator reads the application's current configuration.
	reports := []adapter.TaskInstance{
		{Execute: work, ProcessID: "sales-report", Name: "Sales report"},
		{Execute: work, ProcessID: "legacy-export", Name: "Legacy export"},
	}
	eng, stop := newExampleEngineWith(adapter.Config{
		TaskDefinitions: func(ctx context.Context, services, filter map[string]any) ([]adapter.TaskInstance, error) {
			return reports, nil
		},
	})
	defer stop()

	if _, err := eng.LaunchAndWait(ctx, "sales-report"); err != nil {
		panic(err)
	}

	// The configuration changes: a task is renamed, one is dropped, one is new.
	reports = []adapter.TaskInstance{
		{Execute: work, ProcessID: "sales-report", Name: "Daily sales report"},
		{Execute: work, ProcessID: "stock-report", Name: "Stock report"},
	}
	if _, err := eng.Resync(ctx, false, nil); err != nil {
		panic(err)
	}

	all, err := eng.ListProcesses(ctx, adapter.ListOptions{})
	if err != nil {
		panic(err)
	}
	for _, p := range all {
		fmt.Printf("%s %q: %s\n", p.ProcessID, p.Name, p.Status.State)
	}
	// Output:
	// sales-report "Daily sales report": done
	// stock-report "Stock report": idle
}
