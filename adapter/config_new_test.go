package adapter_test

import (
	"context"
	"testing"

	"github.com/stretchr/testify/require"
	"go.mongodb.org/mongo-driver/v2/bson"

	"github.com/optio-temporal/optio/adapter"
)

// TestNewRefusesBadNamesBeforeWriting: New refuses a database name or a
// Prefix that cannot name optio's collections, IDs and keys (see
// TestConfigNames) with ErrInvalidConfig, before it creates a collection or
// an index.
func TestNewRefusesBadNamesBeforeWriting(t *testing.T) {
	tc, db, closeStack := exampleStack()
	t.Cleanup(closeStack)
	mc := db.Client()
	for _, bad := range []struct{ db, prefix, field string }{
		{db: db.Name(), prefix: "a:b", field: "Prefix"},
		{db: db.Name(), prefix: "a/b", field: "Prefix"},
		{db: db.Name(), prefix: "a$b", field: "Prefix"},
		{db: db.Name() + ".x", prefix: "optio", field: "database name"},
		{db: db.Name() + "/x", prefix: "optio", field: "database name"},
		{db: db.Name() + "$x", prefix: "optio", field: "database name"},
	} {
		t.Run(bad.db+"|"+bad.prefix, func(t *testing.T) {
			eng, err := adapter.New(t.Context(), adapter.Config{
				Temporal: tc, Mongo: mc.Database(bad.db), Prefix: bad.prefix, Logger: exampleLogger(),
				TaskDefinitions: func(context.Context, map[string]any, map[string]any) ([]adapter.TaskInstance, error) {
					return []adapter.TaskInstance{{ProcessID: "job", Name: "Job", Execute: func(*adapter.ProcessContext) error { return nil }}}, nil
				},
			})
			if eng != nil {
				t.Cleanup(func() { _ = eng.Shutdown(context.Background()) })
			}
			require.ErrorIs(t, err, adapter.ErrInvalidConfig)
			require.ErrorContains(t, err, bad.field)
			colls, err := db.ListCollectionNames(t.Context(), bson.D{})
			require.NoError(t, err)
			require.Empty(t, colls, "no collection created")
			names, err := mc.ListDatabaseNames(t.Context(), bson.D{})
			require.NoError(t, err)
			require.NotContains(t, names, bad.db, "no database created")
		})
	}
}
