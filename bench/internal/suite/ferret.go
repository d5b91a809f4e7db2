package suite

import (
	"context"
	"fmt"
	"strings"
	"time"

	"go.mongodb.org/mongo-driver/v2/bson"
	"go.mongodb.org/mongo-driver/v2/mongo"
	"go.mongodb.org/mongo-driver/v2/mongo/options"

	"github.com/optio-temporal/optio/adapter"
)

// FilterCost is a diagnostic for the Mongo side (not one of the five
// measurements): how long one findAndModify and one find take on
// collections of optio process documents of growing size, with the filters
// optio's mirror uses ({_id, status.state: {$in}} for a compare-and-set,
// {processId} to resolve an id) against _id-only filters. On FerretDB v1
// (SQLite) only a filter that is exactly {_id: <id>} is pushed down to SQL;
// any other filter makes it read and decode every document of the
// collection.
func FilterCost(ctx context.Context, env *Env, sizes []int) (*Result, error) {
	if len(sizes) == 0 {
		sizes = []int{1, 100, 500, 1000}
	}
	eng, err := env.NewEngine(ctx, "filters")
	if err != nil {
		return nil, err
	}
	defer StopEngine(eng)
	if _, err := eng.AdhocDefine(ctx, adapter.TaskInstance{ProcessID: "template", Name: "Template",
		Params:   map[string]any{"items": 20, "source": "s3://bucket/path"},
		Metadata: map[string]any{"team": "data", "kind": "import"},
		Execute:  func(*adapter.ProcessContext) error { return nil }}, adapter.AdhocOptions{}); err != nil {
		return nil, err
	}
	var template bson.M
	if err := processes(eng).FindOne(ctx, bson.D{{Key: "processId", Value: "template"}}).Decode(&template); err != nil {
		return nil, err
	}
	coll := processes(eng).Database().Collection("filter_cost")
	const reps = 10
	timeOp := func(f func() error) (time.Duration, error) {
		start := time.Now()
		for range reps {
			if err := f(); err != nil {
				return 0, err
			}
		}
		return time.Since(start) / reps, nil
	}
	var rows []Row
	have := 0
	for _, size := range sizes {
		var batch []any
		for have < size {
			doc := bson.M{}
			for k, v := range template {
				doc[k] = v
			}
			doc["_id"] = bson.NewObjectID()
			doc["processId"] = fmt.Sprintf("doc-%05d", have)
			batch = append(batch, doc)
			have++
			if len(batch) == 100 || have == size {
				if _, err := coll.InsertMany(ctx, batch); err != nil {
					return nil, err
				}
				batch = nil
			}
		}
		// The newest document, as a freshly launched or spawned process is:
		// a scan in insertion order reaches it last.
		pid := fmt.Sprintf("doc-%05d", size-1)
		var target bson.M
		if err := coll.FindOne(ctx, bson.D{{Key: "processId", Value: pid}}).Decode(&target); err != nil {
			return nil, err
		}
		id := target["_id"]
		upd := bson.D{{Key: "$set", Value: bson.D{{Key: "progress.percent", Value: 42.0}}}}
		after := options.FindOneAndUpdate().SetReturnDocument(options.After)
		decode := func(r *mongo.SingleResult) error { var m bson.M; return r.Decode(&m) }
		cas, err := timeOp(func() error {
			return decode(coll.FindOneAndUpdate(ctx, bson.D{{Key: "_id", Value: id}, {Key: "status.state", Value: bson.D{{Key: "$in", Value: bson.A{"idle", "done"}}}}}, upd, after))
		})
		if err != nil {
			return nil, err
		}
		byID, err := timeOp(func() error { return decode(coll.FindOneAndUpdate(ctx, bson.D{{Key: "_id", Value: id}}, upd, after)) })
		if err != nil {
			return nil, err
		}
		byPID, err := timeOp(func() error { return decode(coll.FindOne(ctx, bson.D{{Key: "processId", Value: pid}})) })
		if err != nil {
			return nil, err
		}
		getID, err := timeOp(func() error { return decode(coll.FindOne(ctx, bson.D{{Key: "_id", Value: id}})) })
		if err != nil {
			return nil, err
		}
		m := fmt.Sprintf("D filter cost (%d docs)", size)
		rows = append(rows,
			Row{Measure: m, Metric: "findAndModify ms: CAS / _id", Ours: ms(cas), Bare: ms(byID)},
			Row{Measure: m, Metric: "find ms: processId / _id", Ours: ms(byPID), Bare: ms(getID)},
		)
	}
	var b strings.Builder
	fmt.Fprintf(&b, "  D filter cost: mean of %d calls each on the newest of N copies of one optio process document; the optio column is the filter optio's mirror uses\n"+
		"    ({_id, status.state: {$in: ...}} for findAndModify, {processId} for find), the bare column the _id-only filter; the ratio is the cost of the extra key\n", reps)
	return &Result{Name: "filters", Rows: rows, Details: b.String()}, nil
}
