package adapter_test

import (
	"context"
	"fmt"

	"github.com/optio-temporal/optio/adapter"
)

// A launch block refuses launches of every process whose metadata matches
// its filter, with ReasonLaunchBlocked, until it is lifted. Blocks are kept
// in Mongo ({prefix}_launch_blocks), so they hold across restarts and for
// every engine on the database; running processes are not touched.
func ExampleEngine_BlockLaunches() {
	ctx := context.Background()
	migrate := func(pc *adapter.ProcessContext) error { return nil }
	eng, stop := newExampleEngine(adapter.TaskInstance{
		Execute: migrate, ProcessID: "migrate-eu", Name: "Migrate EU",
		Metadata: map[string]any{"region": "eu"},
	})
	defer stop()

	eu := map[string]any{"region": "eu"}
	if err := eng.BlockLaunches(ctx, eu, "EU maintenance window"); err != nil {
		panic(err)
	}
	out, err := eng.Launch(ctx, "migrate-eu")
	if err != nil {
		panic(err)
	}
	fmt.Println("while blocked:", out.OK, out.Reason)

	lifted, err := eng.UnblockLaunches(ctx, eu)
	if err != nil {
		panic(err)
	}
	fmt.Println("blocks lifted:", lifted)

	p, err := eng.LaunchAndWait(ctx, "migrate-eu")
	if err != nil {
		panic(err)
	}
	fmt.Println("after unblocking:", p.Status.State)
	// Output:
	// while blocked: false launch-blocked
	// blocks lifted: 1
	// after unblocking: done
}
