package devstack

import (
	"context"
	"fmt"
	"strings"
	"testing"
	"time"

	"go.mongodb.org/mongo-driver/v2/bson"
	"go.mongodb.org/mongo-driver/v2/mongo"
	"go.mongodb.org/mongo-driver/v2/mongo/options"

	"github.com/optio-temporal/optio/internal/processfixture"
	"github.com/optio-temporal/optio/mirror"
)

// BenchmarkMongoFindAndModify measures the embedded server's cost of the
// write optio's mirror makes most: a findAndModify by _id that sets the
// state and appends a log entry to a process document (the project's
// example document, processfixture.Example), on a collection of 1000 such
// documents. It reports the whole process's CPU per write
// (cpu-ms/op), the server's share being most of it. The sub-benchmarks
// differ in the secondary indexes of the collection (each is an SQLite
// index over the JSON document that every update rewrites): none, the
// unique processId index that optio's mirror makes on FerretDB, or the
// four it makes on MongoDB and made on FerretDB too until FerretDB's reads
// were found to use none of them.
func BenchmarkMongoFindAndModify(b *testing.B) {
	for _, bc := range []struct {
		name    string
		indexes []string
	}{
		{"indexes=_id", nil},
		{"indexes=processId", []string{"processId"}},
		{"indexes=four", []string{"processId", "parentId", "rootId", "status.state"}},
	} {
		b.Run(bc.name, func(b *testing.B) {
			ctx := context.Background()
			m, err := StartMongo(ctx, MongoConfig{})
			if err != nil {
				b.Fatal(err)
			}
			defer func() { _ = m.Stop() }()
			c, err := mongo.Connect(options.Client().ApplyURI(m.URL()).SetTimeout(time.Minute))
			if err != nil {
				b.Fatal(err)
			}
			defer func() { _ = c.Disconnect(ctx) }()
			coll := c.Database("bench").Collection("optio_processes")
			for i, key := range bc.indexes {
				o := options.Index().SetName(strings.ReplaceAll(key, ".", "_"))
				if i == 0 {
					o.SetUnique(true)
				}
				if _, err := coll.Indexes().CreateOne(ctx, mongo.IndexModel{Keys: bson.D{{Key: key, Value: 1}}, Options: o}); err != nil {
					b.Fatal(err)
				}
			}
			const docs = 1000
			ids := make([]bson.ObjectID, docs)
			batch := make([]any, docs)
			for i := range docs {
				ids[i] = bson.NewObjectID()
				doc := processfixture.Example()
				doc.ID, doc.RootID, doc.ProcessID = ids[i], ids[i], fmt.Sprintf("bench-%05d", i)
				batch[i] = doc
			}
			if _, err := coll.InsertMany(ctx, batch); err != nil {
				b.Fatal(err)
			}
			// Let the lookup indexer index the table.
			time.Sleep(3 * defaultIndexInterval)
			cpu0 := processCPU()
			n := 0
			for b.Loop() {
				id := ids[n%docs]
				state := mirror.Running
				if n%2 == 1 {
					state = mirror.Done
				}
				err := coll.FindOneAndUpdate(ctx, bson.D{{Key: "_id", Value: id}}, bson.D{
					{Key: "$set", Value: bson.D{{Key: "status.state", Value: state}}},
					{Key: "$push", Value: bson.D{{Key: "log", Value: mirror.NewLogEntry(time.Now(), mirror.LevelEvent, "State changed to "+string(state))}}},
				}).Err()
				if err != nil {
					b.Fatal(err)
				}
				n++
			}
			cpu := processCPU() - cpu0
			b.ReportMetric(float64(cpu.Microseconds())/1000/float64(n), "cpu-ms/op")
		})
	}
}
