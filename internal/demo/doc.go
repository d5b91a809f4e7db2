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
//
// [Tasks] returns the definitions; [Definitions] has the shape of
// adapter.Config's task-definition generator and filters by metadata, the way
// a partial resync asks for it.
package demo
