package devstack

import (
	"context"
	"database/sql"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
	"go.mongodb.org/mongo-driver/v2/bson"
	"go.mongodb.org/mongo-driver/v2/mongo"
	"go.mongodb.org/mongo-driver/v2/mongo/options"
)

func connectMongo(t *testing.T, url string) *mongo.Client {
	t.Helper()
	c, err := mongo.Connect(options.Client().ApplyURI(url).SetTimeout(10 * time.Second))
	require.NoError(t, err)
	return c
}

func TestMongoInsertAndFind(t *testing.T) {
	ctx := context.Background()
	m, err := StartMongo(ctx, MongoConfig{})
	require.NoError(t, err)
	t.Cleanup(func() { require.NoError(t, m.Stop()) })
	require.Regexp(t, `^mongodb://127\.0\.0\.1:\d+/$`, m.URL())

	c := connectMongo(t, m.URL())
	defer func() { require.NoError(t, c.Disconnect(ctx)) }()
	coll := c.Database("devstack").Collection("optio_processes")
	_, err = coll.InsertOne(ctx, bson.D{{Key: "processId", Value: "p1"}, {Key: "status", Value: bson.D{{Key: "state", Value: "idle"}}}})
	require.NoError(t, err)

	var doc struct {
		ProcessID string `bson:"processId"`
		Status    struct {
			State string `bson:"state"`
		} `bson:"status"`
	}
	require.NoError(t, coll.FindOne(ctx, bson.D{{Key: "processId", Value: "p1"}}).Decode(&doc))
	require.Equal(t, "idle", doc.Status.State)
}

func TestMongoTempDirIsRemovedAndDataDirKept(t *testing.T) {
	ctx := context.Background()
	m, err := StartMongo(ctx, MongoConfig{})
	require.NoError(t, err)
	tmp := m.Dir()
	require.NoError(t, m.Stop())
	_, err = os.Stat(tmp)
	require.True(t, os.IsNotExist(err), "temporary dir %s survived Stop", tmp)

	dir := t.TempDir()
	first, err := StartMongo(ctx, MongoConfig{Dir: dir})
	require.NoError(t, err)
	c := connectMongo(t, first.URL())
	_, err = c.Database("keep").Collection("c").InsertOne(ctx, bson.D{{Key: "k", Value: 1}})
	require.NoError(t, err)
	require.NoError(t, c.Disconnect(ctx))
	require.NoError(t, first.Stop())

	second, err := StartMongo(ctx, MongoConfig{Dir: dir})
	require.NoError(t, err)
	t.Cleanup(func() { require.NoError(t, second.Stop()) })
	c = connectMongo(t, second.URL())
	defer func() { require.NoError(t, c.Disconnect(ctx)) }()
	n, err := c.Database("keep").Collection("c").CountDocuments(ctx, bson.D{})
	require.NoError(t, err)
	require.EqualValues(t, 1, n)
}

func TestMongoPortInUse(t *testing.T) {
	ln, err := listen("test", DefaultHost, 0)
	require.NoError(t, err)
	defer ln.Close()
	_, err = StartMongo(context.Background(), MongoConfig{Port: portOf(ln.Addr().String())})
	var pe *PortInUseError
	require.True(t, errors.As(err, &pe), "got %v", err)
	require.Equal(t, PartMongo, pe.Part)
}

func TestMongoLooksUpIDsThroughAnIndex(t *testing.T) {
	ctx := context.Background()
	m, err := StartMongo(ctx, MongoConfig{})
	require.NoError(t, err)
	t.Cleanup(func() { require.NoError(t, m.Stop()) })
	c := connectMongo(t, m.URL())
	defer func() { require.NoError(t, c.Disconnect(ctx)) }()
	coll := c.Database("lookups").Collection("optio_processes")
	var docs []any
	for i := range 200 {
		docs = append(docs, bson.D{{Key: "_id", Value: bson.NewObjectID()}, {Key: "n", Value: i}})
	}
	_, err = coll.InsertMany(ctx, docs)
	require.NoError(t, err)

	path := "file:" + filepath.Join(m.Dir(), "lookups.sqlite")
	db, err := sql.Open("sqlite", path)
	require.NoError(t, err)
	var table string
	require.NoError(t, db.QueryRowContext(ctx, `SELECT table_name FROM _ferretdb_collections WHERE name = ?`, "optio_processes").Scan(&table))
	require.NoError(t, db.Close())
	// The query FerretDB runs for a find by _id (its backends/sqlite Query).
	query := `SELECT _ferretdb_sjson FROM ` + quoteIdent(table) + ` WHERE _ferretdb_sjson->'$._id' = ?`
	usesIndex := func() bool {
		// A new connection each time: EXPLAIN does not notice a schema
		// change made by another connection.
		db, err := sql.Open("sqlite", path)
		require.NoError(t, err)
		defer db.Close()
		rows, err := db.QueryContext(ctx, "EXPLAIN QUERY PLAN "+query, `"x"`)
		require.NoError(t, err)
		defer rows.Close()
		for rows.Next() {
			var id, parent, unused int
			var detail string
			require.NoError(t, rows.Scan(&id, &parent, &unused, &detail))
			if strings.Contains(detail, "USING INDEX "+table+idIndexSuffix) {
				return true
			}
		}
		return false
	}
	require.Eventually(t, usesIndex, 10*time.Second, 50*time.Millisecond, "FerretDB's lookup by _id does not use the index")

	// Lookups by _id still answer, and FerretDB's own index list is unchanged.
	want := docs[137].(bson.D)
	var got bson.M
	require.NoError(t, coll.FindOne(ctx, bson.D{{Key: "_id", Value: want[0].Value}}).Decode(&got))
	require.EqualValues(t, 137, got["n"])
	specs, err := coll.Indexes().ListSpecifications(ctx)
	require.NoError(t, err)
	require.Len(t, specs, 1)
	require.Equal(t, "_id_", specs[0].Name)
}
