package adapter_test

import (
	"context"
	"fmt"
	"time"

	"github.com/optio-temporal/optio/adapter"
)

// Cancellation is cooperative. Cancel moves a running process to
// cancel_requested and cancels its workflow; the workflow moves it to
// cancelling and cancels the body's context, so ShouldContinue turns false.
// The process stays cancelling while the body winds down, and ends cancelled
// when it returns. A cancel requested from the Temporal Web UI takes the same
// path.
func ExampleEngine_Cancel() {
	ctx := context.Background()
	started := make(chan struct{})
	saved := make(chan struct{})

	crawl := func(pc *adapter.ProcessContext) error {
		close(started)
		for pc.ShouldContinue() {
			// Crawl a page. Blocking calls take pc.Context(), which is
			// cancelled with the process.
			select {
			case <-pc.Context().Done():
			case <-time.After(10 * time.Millisecond):
			}
		}
		pc.ReportProgress(adapter.Indeterminate, "Saving the crawl state")
		<-saved // winding down takes a while
		return nil
	}
	eng, stop := newExampleEngine(adapter.TaskInstance{Execute: crawl, ProcessID: "crawl", Name: "Crawl"})
	defer stop()

	if _, err := eng.Launch(ctx, "crawl"); err != nil {
		panic(err)
	}
	<-started

	out, err := eng.Cancel(ctx, "crawl")
	if err != nil {
		panic(err)
	}
	fmt.Println("cancel accepted:", out.OK)

	p := waitState(eng, "crawl", adapter.StateCancelling)
	fmt.Println(p.Status.State)
	close(saved)

	p = waitEnded(eng, "crawl")
	fmt.Println(p.Status.State)
	printLog(p)

	// An ended process is no longer cancellable.
	out, err = eng.Cancel(ctx, "crawl")
	if err != nil {
		panic(err)
	}
	fmt.Println("cancel again:", out.Reason)
	// Output:
	// cancel accepted: true
	// cancelling
	// cancelled
	//   State changed to scheduled
	//   State changed to running
	//   Saving the crawl state
	//   State changed to cancelled
	// cancel again: not-cancellable
}
