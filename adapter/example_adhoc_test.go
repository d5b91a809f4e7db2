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
