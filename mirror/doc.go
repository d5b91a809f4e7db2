// Package mirror is the MongoDB projection of optio processes as readers see
// it: the documents of the {prefix}_processes collection in optio-core's exact
// schema (Process, Status, Progress, LogEntry), the state machine their
// states follow (State, CanTransition), the reasons an action on a process
// is refused for (Reason, the optio-engine contract's failure reasons), the
// persisted launch blocks of {prefix}_launch_blocks, and Reader, the queries code outside the engine may
// run on them (adapter.Engine.Store returns one).
//
// Only the engine writes these documents, and every state write is a
// compare-and-set: the update filter names the state(s) the write may start
// from, so two concurrent launches cannot both win, a cancel during
// "scheduled" cannot be overwritten by the start of the run, and a late
// terminal write cannot clobber a relaunch. Where optio-core 0.4.0 is racy (no
// CAS, status timestamps nulled on every write, orphaned children on resync)
// the engine does the correct thing instead:
//
//   - status.runningSince is kept once a run has started, through the terminal
//     state, and is used as the identity of a run: progress writes of an
//     earlier run can never land on a later one;
//   - deleting a process always deletes its descendants;
//   - processId is unique (a unique index), so every lookup is unambiguous.
//
// Log timestamps are ISO-8601 strings in Python's isoformat layout
// ("2026-05-18T12:46:35.123456+00:00"); every other date is a BSON datetime.
package mirror
