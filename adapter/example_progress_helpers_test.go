package adapter_test

import (
	"context"
	"fmt"

	"github.com/optio-temporal/optio/adapter"
)

// MappedProgress maps a child's 0-100% into a range of its parent's
// progress: here the download child fills the parent's first half, and the
// parent reports the second half itself. A child that has ended counts as
// 100%.
func ExampleMappedProgress() {
	ctx := context.Background()
	childAt40 := make(chan struct{})
	resume := make(chan struct{})

	download := func(pc *adapter.ProcessContext) error {
		pc.ReportProgress(40, "40 of 100 MB")
		close(childAt40)
		<-resume
		pc.ReportProgress(100, "100 of 100 MB")
		return nil
	}
	update := func(pc *adapter.ProcessContext) error {
		_, err := pc.RunChild(adapter.ChildSpec{
			Execute:         download,
			ProcessID:       "update/download",
			Name:            "Download",
			OnChildProgress: adapter.MappedProgress(pc, 0, 0.5),
		})
		if err != nil {
			return err
		}
		pc.ReportProgress(75, "Installing")
		pc.ReportProgress(100, "Installed")
		return nil
	}
	eng, stop := newExampleEngine(adapter.TaskInstance{Execute: update, ProcessID: "update", Name: "Update"})
	defer stop()

	if _, err := eng.Launch(ctx, "update"); err != nil {
		panic(err)
	}
	<-childAt40
	p := waitFor(eng, "update", func(p *adapter.Process) bool {
		return p.Progress.Percent != nil && *p.Progress.Percent > 0
	})
	fmt.Printf("child at 40%%, parent at %.0f%%\n", *p.Progress.Percent)
	close(resume)

	p = waitEnded(eng, "update")
	fmt.Printf("parent %s at %.0f%%\n", p.Status.State, *p.Progress.Percent)
	// Output:
	// child at 40%, parent at 20%
	// parent done at 100%
}
