package adapter_test

import (
	"context"
	"fmt"

	"github.com/optio-temporal/optio/adapter"
)

// Metadata tags processes so that they can be found again: ListProcesses
// matches metadata.<key> for each key of the filter, and can also filter by
// state or by tree (RootID). Results are sorted by depth, order, then _id.
func ExampleEngine_ListProcesses() {
	ctx := context.Background()
	syncCustomer := func(pc *adapter.ProcessContext) error { return nil }
	eng, stop := newExampleEngine(
		adapter.TaskInstance{Execute: syncCustomer, ProcessID: "sync-customer-1", Name: "Sync customer 1",
			Metadata: map[string]any{"customer": "1", "kind": "sync"}},
		adapter.TaskInstance{Execute: syncCustomer, ProcessID: "sync-customer-2", Name: "Sync customer 2",
			Metadata: map[string]any{"customer": "2", "kind": "sync"}},
		adapter.TaskInstance{Execute: syncCustomer, ProcessID: "bill-customer-2", Name: "Bill customer 2",
			Metadata: map[string]any{"customer": "2", "kind": "billing"}},
	)
	defer stop()

	if _, err := eng.LaunchAndWait(ctx, "sync-customer-2"); err != nil {
		panic(err)
	}

	customer2, err := eng.ListProcesses(ctx, adapter.ListOptions{Metadata: map[string]any{"customer": "2"}})
	if err != nil {
		panic(err)
	}
	fmt.Println("customer 2:")
	for _, p := range customer2 {
		fmt.Printf("  %s (%s)\n", p.ProcessID, p.Status.State)
	}

	doneSyncs, err := eng.ListProcesses(ctx, adapter.ListOptions{
		State:    adapter.StateDone,
		Metadata: map[string]any{"kind": "sync"},
	})
	if err != nil {
		panic(err)
	}
	fmt.Println("done syncs:")
	for _, p := range doneSyncs {
		fmt.Printf("  %s\n", p.ProcessID)
	}

	p, err := eng.GetProcess(ctx, "bill-customer-2")
	if err != nil {
		panic(err)
	}
	fmt.Println(p.Name, p.Metadata["kind"])
	// Output:
	// customer 2:
	//   sync-customer-2 (done)
	//   bill-customer-2 (idle)
	// done syncs:
	//   sync-customer-2
	// Bill customer 2 billing
}
