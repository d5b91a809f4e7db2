package adapter_test

import (
	"context"
	"fmt"

	"github.com/optio-temporal/optio/adapter"
)

// A body reports progress as it goes: a percent (or Indeterminate) and a
// message. Readers see it in the process document, where the messages also
// land in the log; writes are batched at most every
// Config.ProgressFlushInterval and flushed a last time when the body returns.
func ExampleProcessContext_ReportProgress() {
	ctx := context.Background()
	halfway := make(chan struct{})
	resume := make(chan struct{})

	importFiles := func(pc *adapter.ProcessContext) error {
		pc.ReportProgress(adapter.Indeterminate, "Listing files")
		pc.ReportProgress(0, "Importing 2 files")
		pc.ReportProgress(50, "Imported a.csv")
		close(halfway)
		<-resume
		pc.ReportProgress(100, "Imported b.csv")
		return nil
	}
	eng, stop := newExampleEngine(adapter.TaskInstance{Execute: importFiles, ProcessID: "import", Name: "Import"})
	defer stop()

	if _, err := eng.Launch(ctx, "import"); err != nil {
		panic(err)
	}
	<-halfway
	// While the body runs, its progress reaches the document.
	p := waitFor(eng, "import", func(p *adapter.Process) bool {
		return p.Progress.Percent != nil && *p.Progress.Percent == 50
	})
	fmt.Printf("%s: %.0f%% %s\n", p.Status.State, *p.Progress.Percent, *p.Progress.Message)
	close(resume)

	p = waitEnded(eng, "import")
	fmt.Printf("%s: %.0f%% %s\n", p.Status.State, *p.Progress.Percent, *p.Progress.Message)
	printLog(p)
	// Output:
	// running: 50% Imported a.csv
	// done: 100% Imported b.csv
	//   State changed to scheduled
	//   State changed to running
	//   Listing files
	//   Importing 2 files
	//   Imported a.csv
	//   Imported b.csv
	//   State changed to done
}
