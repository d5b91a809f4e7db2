package docstore

import (
	"fmt"
	"testing"

	"github.com/stretchr/testify/require"
	"go.mongodb.org/mongo-driver/v2/bson"

	"github.com/optio-temporal/optio/mirror"
)

// On FerretDB a lookup by processId that misses what the store knows reads
// every document's processId, and the lookups after it are lookups by _id;
// a document another writer inserts later is found by the next such read,
// and a processId that names nothing is not found.
func TestLookupsByProcessIDReadTheCollectionOnce(t *testing.T) {
	open := leaseStores(t)
	log := &commandLog{}
	s := open(log)
	ctx := t.Context()

	// Documents another writer put there, unknown to the store.
	var docs []any
	for i := range 50 {
		docs = append(docs, bson.M{"_id": bson.NewObjectID(), "processId": fmt.Sprintf("seeded-%02d", i), "name": "Seeded", "status": bson.M{"state": "done"}})
	}
	_, err := s.procs.InsertMany(ctx, docs)
	require.NoError(t, err)
	log.takeFinds()

	p, err := s.ByProcessID(ctx, "seeded-07")
	require.NoError(t, err)
	require.Equal(t, "seeded-07", p.ProcessID)
	require.Equal(t, []string{"{}", "{_id}"}, log.takeFinds(), "one read of every processId, then the document by _id")

	for _, id := range []string{"seeded-31", "seeded-49", "seeded-00"} {
		p, err := s.ByProcessID(ctx, id)
		require.NoError(t, err)
		require.Equal(t, id, p.ProcessID)
		require.Equal(t, []string{"{_id}"}, log.takeFinds(), "%s: a lookup by _id", id)
	}

	_, err = s.procs.InsertOne(ctx, bson.M{"_id": bson.NewObjectID(), "processId": "later", "name": "Later", "status": bson.M{"state": "done"}})
	require.NoError(t, err)
	p, err = s.ByProcessID(ctx, "later")
	require.NoError(t, err)
	require.Equal(t, "later", p.ProcessID)
	require.Equal(t, []string{"{}", "{_id}"}, log.takeFinds(), "inserted after the read: found by the next")

	_, err = s.ByProcessID(ctx, "nothing")
	require.ErrorIs(t, err, mirror.ErrNotFound)
	require.Equal(t, []string{"{}"}, log.takeFinds())

	// A deleted document is not returned from what the store knew.
	_, err = s.procs.DeleteOne(ctx, bson.M{"processId": "seeded-31"})
	require.NoError(t, err)
	_, err = s.ByProcessID(ctx, "seeded-31")
	require.ErrorIs(t, err, mirror.ErrNotFound)

	// Concurrent misses share one read.
	_, err = s.procs.InsertMany(ctx, []any{
		bson.M{"_id": bson.NewObjectID(), "processId": "late-1", "name": "Late", "status": bson.M{"state": "done"}},
		bson.M{"_id": bson.NewObjectID(), "processId": "late-2", "name": "Late", "status": bson.M{"state": "done"}},
	})
	require.NoError(t, err)
	log.takeFinds()
	gen := s.idsFill.generation()
	require.NoError(t, s.fillIDs(ctx, gen))
	require.NoError(t, s.fillIDs(ctx, gen), "a second caller that missed at the same generation")
	require.Equal(t, []string{"{}"}, log.takeFinds(), "one read for both")
	p, err = s.ByProcessID(ctx, "late-2")
	require.NoError(t, err)
	require.Equal(t, "late-2", p.ProcessID)
}
