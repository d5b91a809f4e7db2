package devstack

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
	"go.mongodb.org/mongo-driver/v2/bson"
)

// A burst of concurrent writes leaves FerretDB's log with pages that the
// pass copies back, and once the writes stop the log is emptied: it does not
// keep the size of the burst (37 MB for these 3000 updates, when FerretDB's
// connections checkpointed themselves). Every update is still there, and
// after a restart on the same directory.
func TestMongoEmptiesItsLogAfterABurst(t *testing.T) {
	ctx := context.Background()
	dir := t.TempDir()
	m, err := StartMongo(ctx, MongoConfig{Dir: dir})
	require.NoError(t, err)
	stopped := false
	t.Cleanup(func() {
		if !stopped {
			require.NoError(t, m.Stop())
		}
	})
	c := connectMongo(t, m.URL())
	coll := c.Database("burst").Collection("optio_processes")
	// Each writer updates documents of its own: FerretDB v1 does not make
	// concurrent updates of one document atomic.
	const writers, docsPerWriter, perWriter = 6, 20, 500
	const docs = writers * docsPerWriter
	batch := make([]any, docs)
	for i := range docs {
		batch[i] = bson.D{{Key: "_id", Value: fmt.Sprint(i)}, {Key: "n", Value: 0}, {Key: "pad", Value: string(make([]byte, 400))}}
	}
	_, err = coll.InsertMany(ctx, batch)
	require.NoError(t, err)

	var wg sync.WaitGroup
	for w := range writers {
		wg.Go(func() {
			for i := range perWriter {
				id := fmt.Sprint(w*docsPerWriter + i%docsPerWriter)
				if err := coll.FindOneAndUpdate(ctx, bson.D{{Key: "_id", Value: id}}, bson.D{{Key: "$inc", Value: bson.D{{Key: "n", Value: 1}}}}).Err(); err != nil {
					t.Error(err)
					return
				}
			}
		})
	}
	wg.Wait()

	wal := filepath.Join(dir, "burst.sqlite-wal")
	walSize := func() int64 {
		st, err := os.Stat(wal)
		if os.IsNotExist(err) {
			return 0
		}
		require.NoError(t, err)
		return st.Size()
	}
	require.Eventually(t, func() bool { return walSize() == 0 }, 10*time.Second, 50*time.Millisecond,
		"the log keeps %d bytes after the burst", walSize())

	total := func() int {
		cur, err := coll.Find(ctx, bson.D{})
		require.NoError(t, err)
		var got []struct {
			N int `bson:"n"`
		}
		require.NoError(t, cur.All(ctx, &got))
		require.Len(t, got, docs)
		sum := 0
		for _, d := range got {
			sum += d.N
		}
		return sum
	}
	require.Equal(t, writers*perWriter, total())

	require.NoError(t, c.Disconnect(ctx))
	require.NoError(t, m.Stop())
	stopped = true
	m2, err := StartMongo(ctx, MongoConfig{Dir: dir})
	require.NoError(t, err)
	t.Cleanup(func() { require.NoError(t, m2.Stop()) })
	c = connectMongo(t, m2.URL())
	defer func() { require.NoError(t, c.Disconnect(ctx)) }()
	coll = c.Database("burst").Collection("optio_processes")
	require.Equal(t, writers*perWriter, total())
}
