package devstack

import (
	"context"
	"database/sql"
	"errors"
	"fmt"

	persistencespb "go.temporal.io/server/api/persistence/v1"
	"google.golang.org/protobuf/proto"
)

// The visibility table of Temporal's SQLite schema carries 58 secondary
// indexes: one per system column a list can filter on, and one per
// pre-allocated slot of custom search attributes (Bool01 to Keyword10),
// whether or not a namespace maps an attribute to it. Every visibility write
// (a run's start, each search attribute upsert, its close) rewrites the
// entries of all of them, and SQLite compiles that statement afresh each
// time: visibility took 8.7 ms of CPU per trivial bare workflow, a third of
// the whole, and 4.4 ms on the indexes kept here.
//
// trimVisibilityIndexes keeps the indexes the dev stack's lists use (the
// Web UI's default order and its filters by workflow ID, type, status,
// parent and root, the Schedules pages', optio's closed-run watch) and those
// of the slots a namespace maps a custom attribute to, and moves the others
// into visibilityDroppedTable. Each start runs it again: an index whose slot
// has since been mapped is re-created from the definition kept there. A
// list filtering on a column without an index still answers, by scanning
// the namespace's rows.
const visibilityDroppedTable = "optio_dropped_visibility_indexes"

// visibilityKeptColumns are the visibility columns besides the mapped
// custom slots whose indexes stay. The table's default index (ordered by
// close and start time) has no plain column and always stays.
var visibilityKeptColumns = map[string]bool{
	"workflow_id":               true,
	"workflow_type_name":        true,
	"status":                    true,
	"parent_workflow_id":        true,
	"root_workflow_id":          true,
	"TemporalScheduledById":     true,
	"TemporalNamespaceDivision": true,
}

// visibilityIndex is one secondary index of the visibility table: its name,
// the column it leads with after namespace_id ("" for an expression), and
// its CREATE statement.
type visibilityIndex struct {
	name, column, create string
}

// trimVisibilityIndexes brings the visibility indexes of the SQLite
// database in file to the set the dev stack keeps (see
// visibilityDroppedTable), in one transaction. It runs before the server
// opens the file.
func trimVisibilityIndexes(ctx context.Context, file string) error {
	db, err := sql.Open("sqlite", sqliteFileURL(file, "", "busy_timeout(5000)"))
	if err != nil {
		return err
	}
	defer db.Close()
	tx, err := db.BeginTx(ctx, nil)
	if err != nil {
		return err
	}
	if err := trimVisibilityIndexesIn(ctx, tx); err != nil {
		return errors.Join(err, tx.Rollback())
	}
	return tx.Commit()
}

func trimVisibilityIndexesIn(ctx context.Context, tx *sql.Tx) error {
	if _, err := tx.ExecContext(ctx, `CREATE TABLE IF NOT EXISTS `+visibilityDroppedTable+
		` (name TEXT PRIMARY KEY, lead_column TEXT NOT NULL, create_sql TEXT NOT NULL)`); err != nil {
		return err
	}
	mapped, err := mappedSearchAttributeColumns(ctx, tx)
	if err != nil {
		return err
	}
	keep := func(column string) bool { return column == "" || visibilityKeptColumns[column] || mapped[column] }

	present, err := visibilityIndexes(ctx, tx)
	if err != nil {
		return err
	}
	for _, ix := range present {
		if keep(ix.column) {
			continue
		}
		if _, err := tx.ExecContext(ctx, `INSERT OR REPLACE INTO `+visibilityDroppedTable+` (name, lead_column, create_sql) VALUES (?, ?, ?)`,
			ix.name, ix.column, ix.create); err != nil {
			return err
		}
		if _, err := tx.ExecContext(ctx, `DROP INDEX `+quoteIdent(ix.name)); err != nil {
			return fmt.Errorf("drop visibility index %s: %w", ix.name, err)
		}
	}

	dropped, err := droppedVisibilityIndexes(ctx, tx)
	if err != nil {
		return err
	}
	for _, ix := range dropped {
		if !keep(ix.column) {
			continue
		}
		if _, err := tx.ExecContext(ctx, ix.create); err != nil {
			return fmt.Errorf("re-create visibility index %s: %w", ix.name, err)
		}
		if _, err := tx.ExecContext(ctx, `DELETE FROM `+visibilityDroppedTable+` WHERE name = ?`, ix.name); err != nil {
			return err
		}
	}
	return nil
}

// visibilityIndexes lists the visibility table's secondary indexes that
// have a CREATE statement (not the primary key's).
func visibilityIndexes(ctx context.Context, tx *sql.Tx) ([]visibilityIndex, error) {
	return queryIndexes(ctx, tx, `SELECT m.name, COALESCE(i.name, ''), m.sql
		FROM sqlite_master AS m LEFT JOIN pragma_index_info(m.name) AS i ON i.seqno = 1
		WHERE m.type = 'index' AND m.tbl_name = 'executions_visibility' AND m.sql IS NOT NULL`)
}

// droppedVisibilityIndexes lists the indexes kept in visibilityDroppedTable.
func droppedVisibilityIndexes(ctx context.Context, tx *sql.Tx) ([]visibilityIndex, error) {
	return queryIndexes(ctx, tx, `SELECT name, lead_column, create_sql FROM `+visibilityDroppedTable)
}

// queryIndexes runs a query whose rows are an index's name, lead column and
// CREATE statement.
func queryIndexes(ctx context.Context, tx *sql.Tx, query string) ([]visibilityIndex, error) {
	rows, err := tx.QueryContext(ctx, query)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	var out []visibilityIndex
	for rows.Next() {
		var ix visibilityIndex
		if err := rows.Scan(&ix.name, &ix.column, &ix.create); err != nil {
			return nil, err
		}
		out = append(out, ix)
	}
	return out, rows.Err()
}

// mappedSearchAttributeColumns returns the visibility columns that some
// namespace maps a custom search attribute to (Keyword01, ...).
func mappedSearchAttributeColumns(ctx context.Context, tx *sql.Tx) (map[string]bool, error) {
	rows, err := tx.QueryContext(ctx, `SELECT name, data, data_encoding FROM namespaces`)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	mapped := map[string]bool{}
	for rows.Next() {
		var name, encoding string
		var data []byte
		if err := rows.Scan(&name, &data, &encoding); err != nil {
			return nil, err
		}
		var detail persistencespb.NamespaceDetail
		if encoding != "Proto3" {
			return nil, fmt.Errorf("namespace %q: unknown encoding %q", name, encoding)
		}
		if err := proto.Unmarshal(data, &detail); err != nil {
			return nil, fmt.Errorf("namespace %q: %w", name, err)
		}
		for column := range detail.GetConfig().GetCustomSearchAttributeAliases() {
			mapped[column] = true
		}
	}
	return mapped, rows.Err()
}
