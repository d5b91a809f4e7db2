package adapter_test

import (
	"context"
	"errors"
	"fmt"

	"github.com/optio-temporal/optio/adapter"
)

// Dismiss resets an ended process (done, failed or cancelled) to idle, as
// the dashboard's dismiss button does: the previous run's status, progress
// and log are cleared and its child processes deleted, while its definition
// stays. Any other state is refused with not-dismissable.
func ExampleEngine_Dismiss() {
	ctx := context.Background()
	importFeed := func(pc *adapter.ProcessContext) error {
		pc.ReportProgress(40, "Downloading the feed")
		return errors.New("feed unavailable")
	}
	eng, stop := newExampleEngine(adapter.TaskInstance{Execute: importFeed, ProcessID: "import-feed", Name: "Import feed"})
	defer stop()

	p, err := eng.LaunchAndWait(ctx, "import-feed")
	if err != nil {
		panic(err)
	}
	fmt.Printf("%s: %s (%s)\n", p.ProcessID, p.Status.State, *p.Status.Error)
	printLog(p)

	out, err := eng.Dismiss(ctx, "import-feed")
	if err != nil {
		panic(err)
	}
	p = out.Process
	fmt.Printf("dismissed: %t; %s: %s, error %v, progress %v%% %v, %d log entries\n",
		out.OK, p.ProcessID, p.Status.State, p.Status.Error, *p.Progress.Percent, p.Progress.Message, len(p.Log))

	// An idle process has nothing to dismiss.
	out, err = eng.Dismiss(ctx, "import-feed")
	if err != nil {
		panic(err)
	}
	fmt.Println("dismiss again:", out.Reason)
	// Output:
	// import-feed: failed (feed unavailable)
	//   State changed to scheduled
	//   State changed to running
	//   Downloading the feed
	//   feed unavailable
	// dismissed: true; import-feed: idle, error <nil>, progress 0% <nil>, 0 log entries
	// dismiss again: not-dismissable
}
