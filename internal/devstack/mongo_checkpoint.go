package devstack

import (
	"context"
	"database/sql"
)

// FerretDB's SQLite databases run in WAL mode: a commit appends pages to the
// log, and a checkpoint copies them back into the database file. By default
// the committing connection checkpoints whenever the log holds 1000 pages or
// more, and the log starts over from its beginning only when a writer begins
// with all of it copied back and no reader in it. FerretDB serves each
// command on a pool of connections, in transactions that read before they
// write, and under a steady stream of writes one of them nearly always
// holds its snapshot in the log while it waits for the write lock, so the
// log never started over: it grew to 57 MB during 500 concurrent processes
// (on a 2 MB database), and from its 1000th page on every commit
// checkpointed, indexing the whole log, copying the few new pages and
// syncing both files.
//
// So FerretDB's own connections never checkpoint (wal_autocheckpoint(0) in
// sqliteURL); the indexer's pass checkpoints every database whose files
// changed, once per pass, on a connection of its own (checkpoint).

// walRestartPages is the size of the log, in pages, from which checkpoint
// tries to empty it even while writes go on.
const walRestartPages = 1000

// checkpoint copies the log of db's database back into its file without
// waiting for readers or writers (a passive checkpoint). When that copied
// all of it, or the log holds walRestartPages or more, it then tries to
// empty the log, which succeeds when no reader or writer is in it at that
// moment; it does not wait for them, and a busy database is tried again on
// the next pass.
func checkpoint(ctx context.Context, db *sql.DB) error {
	if _, err := db.ExecContext(ctx, "PRAGMA busy_timeout = 0"); err != nil {
		return err
	}
	// Each answers busy, the pages in the log and the pages copied back; a
	// busy database is an answer, not an error.
	var busy, logged, copied int
	if err := db.QueryRowContext(ctx, "PRAGMA wal_checkpoint(PASSIVE)").Scan(&busy, &logged, &copied); err != nil {
		return err
	}
	if logged <= 0 || (copied < logged && logged < walRestartPages) {
		return nil
	}
	return db.QueryRowContext(ctx, "PRAGMA wal_checkpoint(TRUNCATE)").Scan(&busy, &logged, &copied)
}
