// Package docstore is the engine's write side of the mirror package's
// documents: Store reads and writes {prefix}_processes,
// {prefix}_launch_blocks and {prefix}_checkpoints, guards every state write
// with a compare-and-set on the states it may start from (mirror.CanTransition),
// caps logs, and batches progress and checkpoint writes (ProgressBuffer,
// CheckpointBuffer). Only the engine (adapter and activities) uses it; others
// read through mirror.Reader.
package docstore
