// Package demo holds the task set that cmd/worker runs in dev mode, so that a
// newcomer who opens the Temporal Web UI has something to launch and watch.
//
// Each task shows one feature of the optio programming model:
//
//   - demo-quick reports progress up to 100% within a second and finishes.
//   - demo-progress runs ten steps of about a second each, with a message per
//     step, and stops early when it is cancelled.
//   - demo-failing fails with an error that says it is meant to fail.
//   - demo-nightly runs on the cron schedule "0 2 * * *"; in the Web UI it
//     appears as a Temporal Schedule.
//   - demo-children runs three phases as sequential child processes.
//   - demo-parallel runs 20 items as a parallel group of children, five at a
//     time; one item fails and the parent survives it.
//   - demo-marathon reports progress with a message ("Tick 123/900") every
//     100 ms for 90 s, then finishes; like demo-progress it stops early when
//     cancelled.
//   - demo-resumable runs 40 steps of 250 ms ("Step 7/40") and saves a
//     checkpoint after each; it supports resume and auto-resume. Killed mid-run
//     (its worker, or the whole dev stack), cancelled and resumed, or running
//     when the engine shuts down, it continues from its last checkpoint, and
//     its first log entry says so ("Resumed (...): continuing from step
//     13/40").
//   - demo-fanout runs one parallel group of 2,000 children that do nothing
//     (demo-fanout/child-0000 to demo-fanout/child-1999), 100 at a time; the
//     parent is done once every child is.
//
// Cancelled mid-run, the parents (demo-children, demo-parallel, demo-fanout)
// end cancelled, and show how: they stop spawning once Spawn or RunChild is
// refused (adapter.ErrParentCancelled), wait for the children already
// running, and return what they got; errors made only of the cancel end the
// process cancelled, a real failure fails it.
//
// The lengths and counts are params of the tasks (steps and stepMillis,
// items and concurrency), so tests run the same bodies smaller.
//
// [Tasks] returns the definitions; [Definitions] has the shape of
// adapter.Config's task-definition generator and filters by metadata, the way
// a partial resync asks for it.
package demo
