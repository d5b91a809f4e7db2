package adapter_test

import (
	"context"
	"errors"
	"fmt"

	"github.com/optio-temporal/optio/adapter"
)

// AdhocDefine creates a process at runtime, outside the task generator; an
// ephemeral one is deleted, with its children, as soon as it ends.
func ExampleEngine_AdhocDefine() {
	ctx := context.Background()
	eng, stop := newExampleEngine() // no generated tasks at all
	defer stop()

	oneOff := func(pc *adapter.ProcessContext) error {
		pc.ReportProgress(100, "Imported order "+pc.Params()["order"].(string))
		return nil
	}
	p, err := eng.AdhocDefine(ctx, adapter.TaskInstance{
		Execute:   oneOff,
		ProcessID: "import-order-123",
		Name:      "One-off import",
		Params:    map[string]any{"order": "123"},
	}, adapter.AdhocOptions{Ephemeral: true})
	if err != nil {
		panic(err)
	}
	fmt.Printf("%s: %s, adhoc=%t, ephemeral=%t\n", p.ProcessID, p.Status.State, p.Adhoc, p.Ephemeral)

	// LaunchAndWait returns a nil document: it was deleted when it ended.
	p, err = eng.LaunchAndWait(ctx, "import-order-123")
	if err != nil {
		panic(err)
	}
	fmt.Println("document after the run:", p)

	_, err = eng.GetProcess(ctx, "import-order-123")
	fmt.Println(errors.Is(err, adapter.ErrNotFound))
	// Output:
	// import-order-123: idle, adhoc=true, ephemeral=true
	// document after the run: <nil>
	// true
}

// AdhocDelete deletes an ad-hoc process with its descendants and drops its
// function from the engine. An active one is cancelled first, and its body
// (with its children's) given up to Config.CancelGrace to return, so that
// nothing writes to the deleted documents.
func ExampleEngine_AdhocDelete() {
	ctx := context.Background()
	eng, stop := newExampleEngine()
	defer stop()

	watching := make(chan struct{})
	watchRegion := func(pc *adapter.ProcessContext) error {
		close(watching)
		<-pc.Context().Done() // until cancelled
		fmt.Println("EU watcher stopped")
		return nil
	}
	watchOrders := func(pc *adapter.ProcessContext) error {
		_, err := pc.RunChild(adapter.ChildSpec{Execute: watchRegion, ProcessID: "watch-orders/eu", Name: "Watch EU orders"})
		return err
	}
	_, err := eng.AdhocDefine(ctx, adapter.TaskInstance{Execute: watchOrders, ProcessID: "watch-orders", Name: "Watch orders"}, adapter.AdhocOptions{})
	if err != nil {
		panic(err)
	}
	if _, err := eng.Launch(ctx, "watch-orders"); err != nil {
		panic(err)
	}
	<-watching
	all, err := eng.ListProcesses(ctx, adapter.ListOptions{})
	if err != nil {
		panic(err)
	}
	for _, p := range all {
		fmt.Printf("%s: %s\n", p.ProcessID, p.Status.State)
	}

	if err := eng.AdhocDelete(ctx, "watch-orders"); err != nil {
		panic(err)
	}
	all, err = eng.ListProcesses(ctx, adapter.ListOptions{})
	if err != nil {
		panic(err)
	}
	fmt.Println("processes left:", len(all))

	err = eng.AdhocDelete(ctx, "watch-orders")
	fmt.Println(errors.Is(err, adapter.ErrNotFound))
	// Output:
	// watch-orders: running
	// watch-orders/eu: running
	// EU watcher stopped
	// processes left: 0
	// true
}
