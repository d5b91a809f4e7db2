package adapter_test

import (
	"context"
	"fmt"

	"github.com/optio-temporal/optio/adapter"
)

// The quick start of optio-core, on Temporal: declare a task, start an
// engine, launch the task and wait for it to end.
func Example() {
	ctx := context.Background()
	// A Temporal client and a MongoDB database; here an in-process Temporal
	// server and an embedded MongoDB-wire server.
	temporalClient, db, closeStack := exampleStack()
	defer closeStack()

	myTask := func(pc *adapter.ProcessContext) error {
		for i := range 10 {
			if !pc.ShouldContinue() {
				return nil
			}
			pc.ReportProgress(float64(i*10), fmt.Sprintf("Step %d/10", i+1))
		}
		pc.ReportProgress(100, "Done")
		return nil
	}

	eng, err := adapter.New(ctx, adapter.Config{
		Temporal: temporalClient,
		Mongo:    db,
		TaskDefinitions: func(ctx context.Context, services, metadataFilter map[string]any) ([]adapter.TaskInstance, error) {
			return []adapter.TaskInstance{
				{Execute: myTask, ProcessID: "my-task", Name: "My Task"},
			}, nil
		},
		Logger: exampleLogger(), // warnings only
	})
	if err != nil {
		panic(err)
	}
	defer eng.Shutdown(ctx)

	proc, err := eng.LaunchAndWait(ctx, "my-task")
	if err != nil {
		panic(err)
	}
	fmt.Println(proc.Status.State)
	fmt.Printf("%.0f%% %s\n", *proc.Progress.Percent, *proc.Progress.Message)
	// Output:
	// done
	// 100% Done
}
