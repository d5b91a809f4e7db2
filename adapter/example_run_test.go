package adapter_test

import (
	"context"
	"fmt"

	"github.com/optio-temporal/optio/adapter"
)

// Run is a worker's main loop: it serves until its context is cancelled or
// SIGINT or SIGTERM arrives, then shuts the engine down gracefully (running
// bodies are cancelled and given Config.CancelGrace to return) and returns.
// New has started the workers already, so processes run before Run is
// called; Run adds the remote face (Config.RPC) and the signal handling.
func ExampleEngine_Run() {
	greet := func(pc *adapter.ProcessContext) error {
		pc.ReportProgress(100, "Hello")
		return nil
	}
	eng, stop := newExampleEngine(adapter.TaskInstance{Execute: greet, ProcessID: "greet", Name: "Greet"})
	defer stop()

	serve, shutdown := context.WithCancel(context.Background())
	ran := make(chan error, 1)
	go func() { ran <- eng.Run(serve) }()

	p, err := eng.LaunchAndWait(context.Background(), "greet")
	if err != nil {
		panic(err)
	}
	fmt.Println("greet:", p.Status.State)

	shutdown() // as SIGTERM would
	fmt.Println("Run returned:", <-ran)

	out, err := eng.Launch(context.Background(), "greet")
	if err != nil {
		panic(err)
	}
	fmt.Println("launch after the shutdown:", out.Reason)
	// Output:
	// greet: done
	// Run returned: <nil>
	// launch after the shutdown: shutting-down
}
