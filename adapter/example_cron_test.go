package adapter_test

import (
	"context"
	"fmt"

	"go.temporal.io/sdk/client"

	"github.com/optio-temporal/optio/adapter"
)

// A task with a cron Schedule gets a Temporal Schedule, ID
// "{db}/{prefix}:{processId}" like its workflows, with overlap policy Skip.
// Each fire launches the process through the ordinary launch path. Here the
// example triggers the Schedule at once instead of waiting for 3 a.m.
func ExampleEngine_Schedule() {
	ctx := context.Background()

	report := func(pc *adapter.ProcessContext) error {
		pc.ReportProgress(100, "Report sent")
		return nil
	}
	eng, stop := newExampleEngine(adapter.TaskInstance{
		Execute:   report,
		ProcessID: "nightly-report",
		Name:      "Nightly report",
		Schedule:  "0 3 * * *", // 03:00 every day, in Config.ScheduleTimeZone (UTC)
	})
	defer stop()

	schedule := eng.Schedule(ctx, "nightly-report")
	desc, err := schedule.Describe(ctx)
	if err != nil {
		panic(err)
	}
	fmt.Println("next fire:", desc.Info.NextActionTimes[0].UTC().Format("15:04 MST"))
	fmt.Println("overlap:", desc.Schedule.Policy.Overlap)
	fmt.Println("action:", desc.Schedule.Action.(*client.ScheduleWorkflowAction).Workflow)

	if err := schedule.Trigger(ctx, client.ScheduleTriggerOptions{}); err != nil {
		panic(err)
	}
	p := waitEnded(eng, "nightly-report")
	fmt.Println(p.Status.State)
	printLog(p)
	// Output:
	// next fire: 03:00 UTC
	// overlap: Skip
	// action: optio.ScheduledLaunch
	// done
	//   State changed to scheduled
	//   State changed to running
	//   Report sent
	//   State changed to done
}
