package devstack

import (
	"context"
	"database/sql"
	"path/filepath"
	"runtime/pprof"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
	enumspb "go.temporal.io/api/enums/v1"
	"go.temporal.io/sdk/client"
	sqliteschema "go.temporal.io/server/schema/sqlite"
)

// visibilityIndexSet returns the visibility table's secondary indexes by
// the column each leads with after namespace_id ("" for the default index),
// and the names kept in visibilityDroppedTable.
func visibilityIndexSet(t *testing.T, file string) (present map[string]string, dropped []string) {
	t.Helper()
	db, err := sql.Open("sqlite", "file:"+file)
	require.NoError(t, err)
	defer db.Close()
	tx, err := db.Begin()
	require.NoError(t, err)
	defer func() { _ = tx.Rollback() }()
	ixs, err := visibilityIndexes(context.Background(), tx)
	require.NoError(t, err)
	present = map[string]string{}
	for _, ix := range ixs {
		present[ix.name] = ix.column
	}
	gone, err := droppedVisibilityIndexes(context.Background(), tx)
	require.NoError(t, err)
	for _, ix := range gone {
		dropped = append(dropped, ix.name)
	}
	return present, dropped
}

func TestVisibilityIndexesFollowTheMappedSearchAttributes(t *testing.T) {
	dir := t.TempDir()
	file := filepath.Join(dir, TemporalDBFile)
	// Through prepareSQLite: the SQLite plugin keeps the database open for
	// the life of the process, on goroutines labelled as the server's.
	sqlCfg, _, err := prepareSQLite(TemporalConfig{DataDir: dir, Retention: 24 * time.Hour})
	require.NoError(t, err)

	present, dropped := visibilityIndexSet(t, file)
	columns := map[string]bool{}
	for _, col := range present {
		columns[col] = true
	}
	// The default order, the lists the Web UI and optio filter by, and the
	// slots of optio's Keyword attributes stay; the unmapped slots and the
	// system columns nobody lists by go.
	for _, col := range []string{"", "workflow_id", "workflow_type_name", "status", "parent_workflow_id", "root_workflow_id", "TemporalScheduledById", "TemporalNamespaceDivision"} {
		require.True(t, columns[col], "index on %q was dropped", col)
	}
	keywords := 0
	for col := range columns {
		if strings.HasPrefix(col, "Keyword") {
			keywords++
		}
		require.False(t, strings.HasPrefix(col, "Bool"), "index on the unmapped %s kept", col)
	}
	require.Equal(t, 4, keywords, "optio maps four Keyword attributes; indexes: %v", present)
	require.NotContains(t, columns, "history_length")
	require.Len(t, present, 12)
	require.Len(t, dropped, 58-12)

	// A second run changes nothing.
	require.NoError(t, trimVisibilityIndexes(context.Background(), file))
	present2, dropped2 := visibilityIndexSet(t, file)
	require.Equal(t, present, present2)
	require.ElementsMatch(t, dropped, dropped2)

	// A namespace that maps a Bool attribute gets its slot's index back, from
	// the schema's own definition, on the next run. (The server picks the
	// slot at random among the free ones.)
	ns, err := sqliteschema.NewNamespaceConfig(clusterName, "flags", false, map[string]enumspb.IndexedValueType{
		"Flag": enumspb.INDEXED_VALUE_TYPE_BOOL,
	})
	require.NoError(t, err)
	pprof.Do(context.Background(), pprof.Labels(GoroutineLabel, PartTemporal), func(context.Context) {
		err = sqliteschema.CreateNamespaces(sqlCfg, ns)
	})
	require.NoError(t, err)
	var flag string
	for col := range ns.Detail.GetConfig().GetCustomSearchAttributeAliases() {
		flag = col
	}
	require.Contains(t, flag, "Bool")
	require.NoError(t, trimVisibilityIndexes(context.Background(), file))
	present3, dropped3 := visibilityIndexSet(t, file)
	columns3 := map[string]bool{}
	for _, col := range present3 {
		columns3[col] = true
	}
	require.True(t, columns3[flag], "no index on %s: %v", flag, present3)
	require.Len(t, present3, 13)
	require.Len(t, dropped3, 58-13)
}

func TestVisibilityListsAnswerOnTrimmedIndexes(t *testing.T) {
	srv := startTemporal(t, TemporalConfig{})
	c := dialWorker(t, srv)
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	run, err := c.ExecuteWorkflow(ctx, client.StartWorkflowOptions{ID: "trimmed", TaskQueue: testQueue}, greetWorkflow, "trim")
	require.NoError(t, err)
	require.NoError(t, run.Get(ctx, nil))
	// Filters on an indexed column, on a column whose index was dropped
	// (HistoryLength) and on the default order all answer.
	for _, q := range []string{
		"WorkflowId = 'trimmed'",
		"ExecutionStatus = 'Completed' AND WorkflowType = 'greetWorkflow'",
		"HistoryLength > 0 AND WorkflowId = 'trimmed'",
		"TaskQueue = '" + testQueue + "'",
		"",
	} {
		require.Eventually(t, func() bool {
			list, err := c.ListWorkflow(ctx, listRequest(srv.Namespace(), q))
			require.NoError(t, err)
			return len(list.GetExecutions()) == 1 && list.GetExecutions()[0].GetExecution().GetWorkflowId() == "trimmed"
		}, 10*time.Second, 50*time.Millisecond, "query %q", q)
	}
}

func TestVisibilityIndexesUntouchedWhenANamespaceCannotBeRead(t *testing.T) {
	dir := t.TempDir()
	file := filepath.Join(dir, TemporalDBFile)
	_, _, err := prepareSQLite(TemporalConfig{DataDir: dir, Retention: 24 * time.Hour})
	require.NoError(t, err)

	db, err := sql.Open("sqlite", "file:"+file)
	require.NoError(t, err)
	// Put one dropped index back, as a run would find it that trimmed
	// nothing yet, and add a namespace whose detail is not Proto3.
	var create string
	require.NoError(t, db.QueryRow(`SELECT create_sql FROM `+visibilityDroppedTable+` WHERE name = 'by_history_length'`).Scan(&create))
	_, err = db.Exec(create)
	require.NoError(t, err)
	_, err = db.Exec(`DELETE FROM ` + visibilityDroppedTable + ` WHERE name = 'by_history_length'`)
	require.NoError(t, err)
	_, err = db.Exec(`INSERT INTO namespaces (partition_id, id, name, notification_version, data, data_encoding, is_global)
		VALUES (54321, x'00112233445566778899aabbccddeeff', 'odd', 1, x'7b7d', 'Json', 0)`)
	require.NoError(t, err)
	require.NoError(t, db.Close())
	present, dropped := visibilityIndexSet(t, file)
	require.Equal(t, "history_length", present["by_history_length"])

	err = trimVisibilityIndexes(context.Background(), file)
	require.ErrorContains(t, err, `namespace "odd": unknown encoding "Json"`)
	present2, dropped2 := visibilityIndexSet(t, file)
	require.Equal(t, present, present2)
	require.ElementsMatch(t, dropped, dropped2)
}
