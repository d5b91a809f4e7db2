package adapter_test

import (
	"context"
	"fmt"

	"github.com/optio-temporal/optio/adapter"
)

// GroupCancelAndWait cancels every active process whose metadata matches a
// filter, children included, and waits for them to end. With
// BlockNewLaunches and Persist, launches matching the filter stay blocked
// afterwards, until UnblockLaunches.
func ExampleEngine_GroupCancelAndWait() {
	ctx := context.Background()
	poll := func(pc *adapter.ProcessContext) error {
		<-pc.Context().Done() // runs until cancelled
		return pc.Context().Err()
	}
	task := func(id, tenant string) adapter.TaskInstance {
		return adapter.TaskInstance{Execute: poll, ProcessID: id, Name: id, Metadata: map[string]any{"tenant": tenant}}
	}
	eng, stop := newExampleEngine(task("acme-orders", "acme"), task("acme-invoices", "acme"), task("globex-orders", "globex"))
	defer stop()

	for _, id := range []string{"acme-orders", "acme-invoices", "globex-orders"} {
		if _, err := eng.Launch(ctx, id); err != nil {
			panic(err)
		}
		waitState(eng, id, adapter.StateRunning)
	}

	n, err := eng.GroupCancelAndWait(ctx, adapter.GroupCancelOptions{
		Filter:           map[string]any{"tenant": "acme"},
		BlockNewLaunches: true,
		Persist:          true,
		Reason:           "tenant acme offboarded",
	})
	if err != nil {
		panic(err)
	}
	fmt.Println("cancelled:", n)

	all, err := eng.ListProcesses(ctx, adapter.ListOptions{})
	if err != nil {
		panic(err)
	}
	for _, p := range all {
		fmt.Printf("%s: %s\n", p.ProcessID, p.Status.State)
	}

	out, err := eng.Launch(ctx, "acme-orders")
	if err != nil {
		panic(err)
	}
	fmt.Println("relaunch acme-orders:", out.Reason)
	// Output:
	// cancelled: 2
	// acme-orders: cancelled
	// acme-invoices: cancelled
	// globex-orders: running
	// relaunch acme-orders: launch-blocked
}
