// Package docstore is the engine's write side of the mirror package's
// documents: Store reads and writes {prefix}_processes,
// {prefix}_launch_blocks and {prefix}_checkpoints, guards every state write
// with a compare-and-set on the states it may start from (mirror.CanTransition),
// caps logs, and batches progress and checkpoint writes (ProgressBuffer,
// CheckpointBuffer). Only the engine (adapter and activities) uses it; others
// read through mirror.Reader.
//
// On FerretDB, whose updates are not atomic, a compare-and-set is a read and
// a write under a per-document lock, and a claim takes a cross-process lock
// (claimlock.go); a store that its lease (lease.go) shows to be the only
// engine on its prefix skips both, from what it last read and wrote
// (known.go).
package docstore
