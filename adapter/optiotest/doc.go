// Package optiotest is a test kit for task authors: it runs a body (an
// adapter.TaskFunc) in a plain go test, with no Temporal server, MongoDB or
// Redis, and records what it did, so that a test asserts a task's
// behaviour in milliseconds.
//
//	res, err := optiotest.Run(ctx, importFiles, optiotest.Options{
//		Params:   map[string]any{"source": "testdata/files"},
//		Services: map[string]any{"store": fakeStore},
//	})
//	if err != nil {
//		t.Fatal(err) // bad Options: an error wrapping adapter.ErrInvalidInput
//	}
//	if res.State != adapter.StateDone {
//		t.Fatalf("ended %s: %v", res.State, res.Err)
//	}
//
// [Run] gives the body a real *adapter.ProcessContext, with the process ID,
// params, metadata and services of [Options], and returns a [Result]: the
// end state the engine would write (done, failed or cancelled, by the
// engine's own rules: a body that returns only what its cancel caused ends
// cancelled), the error the body returned, every progress report, the log
// entries the body caused, whether it marked itself ephemeral, and the
// checkpoint it saved.
//
// # Children
//
// Children spawned with RunChild or a ParallelGroup run in process through
// the kit too, recursively, each with its own params and a Result of its
// own in Result.Children ([Result.Child] finds one by process ID at any
// depth). The parent sees their ends as it would on the engine: RunChild's
// state and *adapter.ChildError, a group's []adapter.ChildResult and
// *adapter.GroupError, its on-child-progress callback, and the siblings a
// failed child makes its group cancel. A child inherits its parent's
// metadata and services; a process ID already used in the tree is refused
// as on the engine (an error wrapping adapter.ErrInvalidInput), and so is
// a spawn after the parent was cancelled (adapter.ErrParentCancelled,
// logged on the parent). A parent ends after all its children, and a
// parent that fails has its children still running cancelled, as the
// engine does.
//
// # Cancelling at a chosen point
//
// [Options.CancelWhen] sees each progress report made in the process tree
// as it is made and cancels the process under test when it says so,
// before the ReportProgress that made the report returns: the body's next
// ShouldContinue is false. [Options.CancelChildWhen] does the same for the
// child that made a report, as a cancel of that child from the dashboard
// would. Cancelling the ctx given to Run cancels the process too, at any
// moment. Cancellation is cooperative, as on the engine: Run returns once
// the body has returned.
//
// # Resume
//
// [Options.RunKind] and [Options.Checkpoint] start the body as a re-run
// after a lost worker or as a resumed run, with the checkpoint an earlier
// run saved; Result.Checkpoint is the checkpoint a run leaves, so a test
// runs a body, cancels it midway and resumes it from where it stopped.
//
// # What the kit does not do
//
// There are no launch blocks, no shutdowns and no lost workers: a child is
// never refused for a block, a re-run is what Options.RunKind says. Every
// progress message is logged (the engine drops some of a burst of more
// than ten within one flush interval). The document's own entries (state
// changes) are not in Result.Log.
//
// # How it plugs in
//
// A ProcessContext asks whatever runs its body for everything outside the
// body (progress, checkpoints, children) through an interface, which the
// engine implements over Mongo and Temporal and this package implements
// in memory. The interface lives in a package internal to adapter, so it
// is no API and no one else can implement it; adapter exports a single
// function for the kit, adapter.RunHosted, which builds the context on the
// kit's host and decides the end state with the engine's code. Nothing is
// global: each Run has its own hosts, so tests may run in parallel.
package optiotest
