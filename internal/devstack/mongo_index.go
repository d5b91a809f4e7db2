package devstack

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"time"

	"modernc.org/sqlite" // the SQLite driver FerretDB uses, by name "sqlite"
	sqlite3 "modernc.org/sqlite/lib"
)

// FerretDB v1 on SQLite keeps each collection in a table of one JSON column,
// _ferretdb_sjson, and pushes a filter down to SQL only when it is exactly
// {_id: <string or ObjectId>}, as
//
//	WHERE _ferretdb_sjson->'$._id' = ?
//
// Its own index on _id is built over the expression _ferretdb_sjson->"_id",
// which SQLite does not take for the same thing, so every lookup by _id reads
// the whole table: a find by _id cost 0.6 ms on a collection of one document
// and 17 ms on one of 1000 (go run ./bench -only filters). An index over the
// very expression the query uses makes it a B-tree lookup. The indexer adds
// one to every collection table, in every database file of the directory,
// shortly after FerretDB creates it. FerretDB does not know of these indexes
// (listIndexes does not show them) and drops them with their tables.
const (
	idIndexSuffix   = "_optio_id_lookup"
	idExpr          = `_ferretdb_sjson->'$._id'`
	sqliteExt       = ".sqlite"
	collectionsMeta = "_ferretdb_collections"
)

// defaultIndexInterval is how often the indexer looks for new collections.
const defaultIndexInterval = 200 * time.Millisecond

// idIndexer adds the _id lookup index to the collection tables of the SQLite
// files in dir.
type idIndexer struct {
	dir string
	log *slog.Logger
	// seen maps a database file to the sizes and times it had when every
	// collection in it was last found indexed.
	seen map[string]fileStamp
}

type fileStamp struct {
	main, wal os.FileInfo
}

func (s fileStamp) same(o fileStamp) bool {
	eq := func(a, b os.FileInfo) bool {
		if a == nil || b == nil {
			return a == nil && b == nil
		}
		return a.Size() == b.Size() && a.ModTime().Equal(b.ModTime())
	}
	return eq(s.main, o.main) && eq(s.wal, o.wal)
}

func stampOf(path string) fileStamp {
	var s fileStamp
	s.main, _ = os.Stat(path)
	s.wal, _ = os.Stat(path + "-wal")
	return s
}

// run indexes every interval until ctx ends.
func (x *idIndexer) run(ctx context.Context, interval time.Duration) {
	t := time.NewTicker(interval)
	defer t.Stop()
	for {
		if err := x.indexAll(ctx); err != nil && ctx.Err() == nil {
			x.log.Warn("index FerretDB collections by _id", "err", err)
		}
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
	}
}

// indexAll indexes the collections of every database file that changed
// since it was last found fully indexed, and checkpoints its log
// (checkpoint).
func (x *idIndexer) indexAll(ctx context.Context) error {
	files, err := filepath.Glob(filepath.Join(x.dir, "*"+sqliteExt))
	if err != nil {
		return err
	}
	var errs []error
	for _, f := range files {
		stamp := stampOf(f)
		if prev, ok := x.seen[f]; ok && prev.same(stamp) {
			continue
		}
		if err := maintainFile(ctx, f); err != nil {
			errs = append(errs, fmt.Errorf("%s: %w", filepath.Base(f), err))
			continue
		}
		// The state found before the pass: a change made during it, even
		// the pass's own checkpoint, gets another pass.
		x.seen[f] = stamp
	}
	return errors.Join(errs...)
}

// maintainFile indexes the collections of one database file and
// checkpoints its log, on a connection of its own.
func maintainFile(ctx context.Context, path string) error {
	// Mode rw: a database FerretDB just dropped stays dropped.
	db, err := sql.Open("sqlite", sqliteFileURL(path, "rw", "busy_timeout(10000)"))
	if err != nil {
		return err
	}
	defer db.Close()
	db.SetMaxOpenConns(1)
	if err := indexFile(ctx, db); err != nil {
		if isNoSuchFile(err) {
			return nil
		}
		return err
	}
	if err := checkpoint(ctx, db); err != nil {
		return fmt.Errorf("checkpoint: %w", err)
	}
	return nil
}

// indexFile adds the _id lookup index to every collection table of one
// database file that lacks it.
func indexFile(ctx context.Context, db *sql.DB) error {
	rows, err := db.QueryContext(ctx, `SELECT c.table_name FROM `+collectionsMeta+` c
		WHERE NOT EXISTS (SELECT 1 FROM sqlite_master m WHERE m.type = 'index' AND m.name = c.table_name || ?)`, idIndexSuffix)
	if err != nil {
		if strings.Contains(err.Error(), "no such table") {
			return nil // a database FerretDB has not set up yet
		}
		return err
	}
	var tables []string
	for rows.Next() {
		var t string
		if err := rows.Scan(&t); err != nil {
			rows.Close()
			return err
		}
		tables = append(tables, t)
	}
	rows.Close()
	if err := rows.Err(); err != nil {
		return err
	}
	for _, t := range tables {
		q := fmt.Sprintf(`CREATE INDEX IF NOT EXISTS %s ON %s (%s)`, quoteIdent(t+idIndexSuffix), quoteIdent(t), idExpr)
		if _, err := db.ExecContext(ctx, q); err != nil {
			if strings.Contains(err.Error(), "no such table") {
				continue // dropped meanwhile
			}
			return err
		}
	}
	return nil
}

func quoteIdent(s string) string { return `"` + strings.ReplaceAll(s, `"`, `""`) + `"` }

// isNoSuchFile reports whether err is SQLite's refusal to open a database
// file that does not exist (mode=rw): FerretDB dropped it since the pass
// listed it.
func isNoSuchFile(err error) bool {
	var se *sqlite.Error
	return errors.As(err, &se) && se.Code() == sqlite3.SQLITE_CANTOPEN
}
