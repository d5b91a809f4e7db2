package adapter_test

import (
	"context"
	"fmt"

	"github.com/optio-temporal/optio/adapter"
)

// A body saves a checkpoint after each item and starts from the last one.
// Here it is cancelled after three items of six, then resumed: the resumed
// run knows it is one (RunKind), reads the checkpoint and does the other
// three only.
func ExampleProcessContext_SaveCheckpoint() {
	ctx := context.Background()
	items := []string{"a", "b", "c", "d", "e", "f"}
	third := make(chan struct{})

	importItems := func(pc *adapter.ProcessContext) error {
		next := 0
		if _, err := pc.LoadCheckpoint(&next); err != nil {
			return err
		}
		if pc.RunKind() != adapter.FreshRun {
			pc.ReportProgress(adapter.Indeterminate, fmt.Sprintf("Resumed (%s) at item %d", pc.RunKind(), next+1))
		}
		for ; next < len(items); next++ {
			if !pc.ShouldContinue() {
				return nil
			}
			pc.ReportProgress(float64(next+1)*100/float64(len(items)), "Imported "+items[next])
			if err := pc.SaveCheckpoint(next + 1); err != nil {
				return err
			}
			if next == 2 && pc.RunKind() == adapter.FreshRun {
				close(third)
				<-pc.Context().Done() // wait here for the cancel
			}
		}
		return nil
	}
	eng, stop := newExampleEngine(adapter.TaskInstance{
		Execute: importItems, ProcessID: "import", Name: "Import", SupportsResume: true,
	})
	defer stop()

	if _, err := eng.Launch(ctx, "import"); err != nil {
		panic(err)
	}
	<-third
	if _, err := eng.Cancel(ctx, "import"); err != nil {
		panic(err)
	}
	p := waitEnded(eng, "import")
	fmt.Println(p.Status.State, "hasSavedState:", *p.HasSavedState)

	p, err := eng.LaunchAndWait(ctx, "import", adapter.WithResume())
	if err != nil {
		panic(err)
	}
	fmt.Println(p.Status.State)
	printLog(p)
	// Output:
	// cancelled hasSavedState: true
	// done
	//   State changed to scheduled
	//   State changed to running
	//   Resumed (resumed) at item 4
	//   Imported d
	//   Imported e
	//   Imported f
	//   State changed to done
}
