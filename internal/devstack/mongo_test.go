package devstack

import (
	"context"
	"errors"
	"os"
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
