package docstore

import (
	"slices"
	"testing"

	"github.com/stretchr/testify/require"
	"go.mongodb.org/mongo-driver/v2/bson"
	"go.mongodb.org/mongo-driver/v2/mongo"
)

// TestEnsureIndexesByServer: the processId stays unique on either server;
// the indexes that only reads by something else than _id use are made on
// MongoDB (OPTIO_TEST_MONGO_URL) and not on FerretDB, whose reads use none
// but _id and whose writes update every index. A second EnsureIndexes (an
// engine's restart) changes nothing.
func TestEnsureIndexesByServer(t *testing.T) {
	s := newTestStore(t)
	ctx := t.Context()
	names := func() []string {
		t.Helper()
		specs, err := s.Processes().Indexes().ListSpecifications(ctx)
		require.NoError(t, err)
		var out []string
		for _, sp := range specs {
			out = append(out, sp.Name)
		}
		slices.Sort(out)
		return out
	}
	want := []string{"_id_", "metadata_wildcard", "parentId", "processId_unique", "rootId", "status_state"}
	if s.locks != nil {
		want = []string{"_id_", "processId_unique"}
	}
	require.Equal(t, want, names())
	require.NoError(t, s.EnsureIndexes(ctx))
	require.Equal(t, want, names())

	_, err := s.Processes().InsertOne(ctx, bson.D{{Key: "processId", Value: "twice"}})
	require.NoError(t, err)
	_, err = s.Processes().InsertOne(ctx, bson.D{{Key: "processId", Value: "twice"}})
	require.True(t, mongo.IsDuplicateKeyError(err), "a second document with the processId: %v", err)
}
