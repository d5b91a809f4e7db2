package docstore

import (
	"context"
	"errors"
	"fmt"
	"regexp"
	"sync"
	"sync/atomic"
	"time"

	"go.mongodb.org/mongo-driver/v2/bson"
	"go.mongodb.org/mongo-driver/v2/mongo"
	"go.mongodb.org/mongo-driver/v2/mongo/options"

	"github.com/optio-temporal/optio/mirror"
)

// Store reads and writes the {prefix}_processes and {prefix}_launch_blocks
// collections of one database. It is safe for concurrent use.
type Store struct {
	procs  *mongo.Collection
	blocks *mongo.Collection
	now    func() time.Time
	locks  *docLocks
	prefix string
	// parents is set on FerretDB only (see parents.go).
	parents *mongo.Collection
	// claims is set on FerretDB only (see claimlock.go).
	claims *mongo.Collection
	// writes is set on FerretDB only (see gateWrite).
	writes chan struct{}
	// checkpoints is {prefix}_checkpoints (see checkpoint.go).
	checkpoints *mongo.Collection
	// ids remembers processId -> _id, so that a lookup by processId is a
	// lookup by _id (verified) rather than a collection scan on FerretDB.
	ids sync.Map
	// idsFill serializes the reads that fill ids with every document's
	// processId on FerretDB (see fillIDs).
	idsFill idsFill
	// logLimit and logBytes are the entries and bytes a log keeps (0: all);
	// logTally tracks what this store appends (see logcap.go).
	logLimit int
	logBytes int
	logTally logTally
	// lease is set on FerretDB only (see lease.go); known is what the
	// store may trust while the lease says it is solo (see known.go).
	lease *lease
	known known
}

// NewStore returns a store over db's {prefix}_processes and
// {prefix}_launch_blocks collections.
func NewStore(db *mongo.Database, prefix string) *Store {
	bopts := options.Collection().SetBSONOptions(&options.BSONOptions{DefaultDocumentMap: true})
	return &Store{
		prefix: prefix,
		procs:  db.Collection(prefix+"_processes", bopts),
		blocks: db.Collection(prefix+"_launch_blocks", bopts),

		checkpoints: db.Collection(prefix+checkpointsSuffix, bopts),
		now:         func() time.Time { return time.Now().UTC().Truncate(time.Millisecond) },
		logLimit:    DefaultLogLimit,
		logBytes:    DefaultLogBytes,
	}
}

// Processes returns the processes collection (for readers and tests).
func (s *Store) Processes() *mongo.Collection { return s.procs }

// EnsureIndexes creates the unique index on processId and, on MongoDB, the
// indexes that queries and tree walks use (parentId, rootId, status.state
// and a wildcard index over metadata). It is idempotent. It also checks
// whether the server's updates are atomic (see docLocks).
//
// FerretDB (v1, on SQLite) reads by nothing but _id: its queries use no
// other index, and every write updates each of them (with the three, a
// state write cost 6-14% more CPU in three runs of
// BenchmarkMongoFindAndModify in internal/devstack). There only the unique
// index is made (those an earlier engine made stay).
func (s *Store) EnsureIndexes(ctx context.Context) error {
	if err := s.detectNonAtomicUpdates(ctx); err != nil {
		return fmt.Errorf("query server build info: %w", err)
	}
	index := func(name string, unique bool, key string) mongo.IndexModel {
		o := options.Index().SetName(name)
		if unique {
			o.SetUnique(true)
		}
		return mongo.IndexModel{Keys: bson.D{{Key: key, Value: 1}}, Options: o}
	}
	type spec struct {
		name   string
		unique bool
		key    string
	}
	want := []spec{{"processId_unique", true, "processId"}}
	lookups := []spec{
		{"parentId", false, "parentId"},
		{"rootId", false, "rootId"},
		{"status_state", false, "status.state"},
		// ListProcesses and filtered resyncs match metadata.<key> for any
		// key; without this wildcard index MongoDB (4.2+) reads every
		// document for them. FerretDB v1 has no wildcard indexes.
		{"metadata_wildcard", false, "metadata.$**"},
	}
	if s.locks == nil {
		want = append(want, lookups...)
	}
	// Only the missing ones: FerretDB v1 drops the connection when
	// createIndexes names indexes that already exist (a second engine, or a
	// restart, on the same database).
	specs, err := s.procs.Indexes().ListSpecifications(ctx)
	if err != nil {
		return fmt.Errorf("list process indexes: %w", err)
	}
	have := map[string]bool{}
	for _, sp := range specs {
		have[sp.Name] = true
	}
	var missing []mongo.IndexModel
	for _, w := range want {
		if !have[w.name] {
			missing = append(missing, index(w.name, w.unique, w.key))
		}
	}
	if len(missing) == 0 {
		return nil
	}
	if _, err := s.procs.Indexes().CreateMany(ctx, missing); err != nil {
		return fmt.Errorf("create process indexes: %w", err)
	}
	return nil
}

var hexID = regexp.MustCompile(`^[a-fA-F0-9]{24}$`)

// Resolve finds a process by either form of id, as optio-core does: a 24-digit
// hex string is tried as an _id first, then any string as a processId.
func (s *Store) Resolve(ctx context.Context, id string) (*mirror.Process, error) {
	if hexID.MatchString(id) {
		if oid, err := bson.ObjectIDFromHex(id); err == nil {
			p, err := s.Get(ctx, oid)
			if err == nil || !errors.Is(err, mirror.ErrNotFound) {
				return p, err
			}
		}
	}
	return s.ByProcessID(ctx, id)
}

// Get returns the process with the given _id.
func (s *Store) Get(ctx context.Context, id bson.ObjectID) (*mirror.Process, error) {
	var p mirror.Process
	err := s.procs.FindOne(ctx, bson.D{{Key: "_id", Value: id}}).Decode(&p)
	if errors.Is(err, mongo.ErrNoDocuments) {
		return nil, mirror.ErrNotFound
	}
	if err != nil {
		return nil, fmt.Errorf("read process: %w", err)
	}
	return &p, nil
}

// knownID returns the _id ref names without reading: ref itself when it is
// 24 hex digits, else the _id this store last resolved the processId to.
// Callers verify it against the document they read.
func (s *Store) knownID(ref string) (bson.ObjectID, bool) {
	if hexID.MatchString(ref) {
		if oid, err := bson.ObjectIDFromHex(ref); err == nil {
			return oid, true
		}
	}
	if v, ok := s.ids.Load(ref); ok {
		return v.(bson.ObjectID), true
	}
	return bson.ObjectID{}, false
}

// ByProcessID returns the process with the given processId.
func (s *Store) ByProcessID(ctx context.Context, processID string) (*mirror.Process, error) {
	gen := s.idsFill.generation()
	p, err := s.byKnownProcessID(ctx, processID)
	if p != nil || err != nil {
		return p, err
	}
	if s.lease != nil {
		// FerretDB: one read of every processId costs what a find by
		// processId does (both read the whole collection), and answers
		// the lookups that follow too.
		if err := s.fillIDs(ctx, gen); err != nil {
			return nil, err
		}
		p, err := s.byKnownProcessID(ctx, processID)
		if p == nil && err == nil {
			err = mirror.ErrNotFound
		}
		return p, err
	}
	p, err = s.findOne(ctx, bson.D{{Key: "processId", Value: processID}})
	if err == nil {
		s.ids.Store(processID, p.ID)
	}
	return p, err
}

// byKnownProcessID reads the process the store knows processId's _id of,
// verified; nil, nil when it knows none or the document no longer matches.
func (s *Store) byKnownProcessID(ctx context.Context, processID string) (*mirror.Process, error) {
	v, ok := s.ids.Load(processID)
	if !ok {
		return nil, nil
	}
	p, err := s.Get(ctx, v.(bson.ObjectID))
	if err == nil && p.ProcessID == processID {
		return p, nil
	}
	if err != nil && !errors.Is(err, mirror.ErrNotFound) {
		return nil, err
	}
	s.ids.CompareAndDelete(processID, v)
	return nil, nil
}

// idsFill serializes fillIDs and counts the reads it made.
type idsFill struct {
	mu  sync.Mutex
	gen atomic.Int64
}

func (f *idsFill) generation() int64 { return f.gen.Load() }

// fillIDs reads the processId of every document into ids, on FerretDB,
// where a lookup by processId misses what the store knows: FerretDB
// answers a find by processId by reading and decoding the whole
// collection (it pushes only {_id} filters down to SQLite), 1.5 s at
// 10,000 documents here, and this read costs the same but leaves every
// processId a lookup by _id. A lookup that misses then costs one such read,
// as a find by processId did, and those after it nothing. seen is the
// generation the caller looked up at: a read completed since serves it, so
// concurrent misses share one read. The price is about 100 bytes of memory
// per document.
func (s *Store) fillIDs(ctx context.Context, seen int64) error {
	s.idsFill.mu.Lock()
	defer s.idsFill.mu.Unlock()
	if s.idsFill.gen.Load() != seen {
		return nil
	}
	cur, err := s.procs.Find(ctx, bson.D{}, options.Find().SetProjection(bson.D{{Key: "processId", Value: 1}}))
	if err != nil {
		return fmt.Errorf("read processIds: %w", err)
	}
	defer func() { _ = cur.Close(ctx) }()
	for cur.Next(ctx) {
		var head struct {
			ID        bson.ObjectID `bson:"_id"`
			ProcessID string        `bson:"processId"`
		}
		if cur.Decode(&head) == nil && head.ProcessID != "" {
			s.ids.Store(head.ProcessID, head.ID)
		}
	}
	if err := cur.Err(); err != nil {
		return fmt.Errorf("read processIds: %w", err)
	}
	s.idsFill.gen.Add(1)
	return nil
}

func (s *Store) findOne(ctx context.Context, filter bson.D) (*mirror.Process, error) {
	var p mirror.Process
	err := s.procs.FindOne(ctx, filter, options.FindOne().SetSort(bson.D{{Key: "_id", Value: -1}})).Decode(&p)
	if errors.Is(err, mongo.ErrNoDocuments) {
		return nil, mirror.ErrNotFound
	}
	if err != nil {
		return nil, fmt.Errorf("read process: %w", err)
	}
	return &p, nil
}

// queryFilter is the Mongo filter of q.
func queryFilter(q mirror.Query) bson.D {
	f := bson.D{}
	if q.State != "" {
		f = append(f, bson.E{Key: "status.state", Value: q.State})
	}
	if len(q.States) > 0 {
		f = append(f, bson.E{Key: "status.state", Value: bson.D{{Key: "$in", Value: q.States}}})
	}
	if q.RootID != nil {
		f = append(f, bson.E{Key: "rootId", Value: *q.RootID})
	}
	if q.ParentID != nil {
		f = append(f, bson.E{Key: "parentId", Value: *q.ParentID})
	}
	if q.RootsOnly {
		f = append(f, bson.E{Key: "parentId", Value: nil})
	}
	for _, k := range sortedKeys(q.Metadata) {
		f = append(f, bson.E{Key: "metadata." + k, Value: q.Metadata[k]})
	}
	return f
}

// List returns the matching processes sorted by depth, order, then _id.
func (s *Store) List(ctx context.Context, q mirror.Query) ([]mirror.Process, error) {
	cur, err := s.procs.Find(ctx, queryFilter(q), options.Find().SetSort(bson.D{
		{Key: "depth", Value: 1}, {Key: "order", Value: 1}, {Key: "_id", Value: 1},
	}))
	if err != nil {
		return nil, fmt.Errorf("list processes: %w", err)
	}
	out := []mirror.Process{}
	if err := cur.All(ctx, &out); err != nil {
		return nil, fmt.Errorf("list processes: %w", err)
	}
	return out, nil
}

// Descendants returns the _ids of every descendant of id, breadth first.
// On MongoDB it reads one level at a time through the parentId index; on
// FerretDB, which reads the whole collection for each such query, it reads
// every document's parentId once and walks the tree in memory. A document
// whose _id or parentId is not an ObjectId (the engine writes none; one
// written by hand) is not part of any tree.
func (s *Store) Descendants(ctx context.Context, id bson.ObjectID) ([]bson.ObjectID, error) {
	if s.parents != nil {
		return s.descendantsInOneRead(ctx, id)
	}
	var out []bson.ObjectID
	frontier := []bson.ObjectID{id}
	seen := map[bson.ObjectID]bool{id: true} // a cycle in hand-made data ends
	for len(frontier) > 0 {
		cur, err := s.procs.Find(ctx, bson.D{{Key: "parentId", Value: bson.D{{Key: "$in", Value: frontier}}}},
			options.Find().SetProjection(bson.D{{Key: "_id", Value: 1}}))
		if err != nil {
			return nil, fmt.Errorf("walk descendants: %w", err)
		}
		var rows []struct {
			ID any `bson:"_id"`
		}
		if err := cur.All(ctx, &rows); err != nil {
			return nil, fmt.Errorf("walk descendants: %w", err)
		}
		frontier = frontier[:0:0]
		for _, r := range rows {
			if id, ok := r.ID.(bson.ObjectID); ok && !seen[id] { // see descendantsInOneRead
				seen[id] = true
				out = append(out, id)
				frontier = append(frontier, id)
			}
		}
	}
	return out, nil
}

// descendantsInOneRead is Descendants with one read of every child
// document's _id and parentId: a tree of depth d cost d+1 reads of the
// whole collection on FerretDB, and a level of many children a filter of
// as many _ids, matched against every document.
func (s *Store) descendantsInOneRead(ctx context.Context, id bson.ObjectID) ([]bson.ObjectID, error) {
	cur, err := s.procs.Find(ctx, bson.D{{Key: "parentId", Value: bson.D{{Key: "$ne", Value: nil}}}},
		options.Find().SetProjection(bson.D{{Key: "_id", Value: 1}, {Key: "parentId", Value: 1}}))
	if err != nil {
		return nil, fmt.Errorf("walk descendants: %w", err)
	}
	// Every child document in the collection is read, not only the
	// tree's, so one with an _id or a parentId of another type must not
	// fail the walk.
	var rows []struct {
		ID       any `bson:"_id"`
		ParentID any `bson:"parentId"`
	}
	if err := cur.All(ctx, &rows); err != nil {
		return nil, fmt.Errorf("walk descendants: %w", err)
	}
	children := map[bson.ObjectID][]bson.ObjectID{}
	for _, r := range rows {
		id, idOK := r.ID.(bson.ObjectID)
		p, parentOK := r.ParentID.(bson.ObjectID)
		if idOK && parentOK {
			children[p] = append(children[p], id)
		}
	}
	var out []bson.ObjectID
	frontier := []bson.ObjectID{id}
	seen := map[bson.ObjectID]bool{id: true} // a cycle in hand-made data ends
	for len(frontier) > 0 {
		var next []bson.ObjectID
		for _, p := range frontier {
			for _, c := range children[p] {
				if !seen[c] {
					seen[c] = true
					next = append(next, c)
				}
			}
		}
		out = append(out, next...)
		frontier = next
	}
	return out, nil
}

// DeleteDescendants deletes every descendant of id and returns how many went.
func (s *Store) DeleteDescendants(ctx context.Context, id bson.ObjectID) (int, error) {
	if may, err := s.mayHaveChildren(ctx, id); err != nil || !may {
		return 0, err
	}
	ids, err := s.Descendants(ctx, id)
	if err != nil {
		return 0, err
	}
	n := 0
	if len(ids) > 0 {
		if n, err = s.deleteProcesses(ctx, ids); err != nil {
			return 0, fmt.Errorf("delete descendants: %w", err)
		}
		s.forget(ids...)
		if err := s.deleteCheckpoints(ctx, ids...); err != nil {
			return n, err
		}
	}
	return n, s.unmarkParents(ctx, append(ids, id)...)
}

// deleteProcesses deletes the process documents ids and returns how many
// went. On FerretDB, which matches {_id: {$in: ...}} by reading the whole
// collection, each is a statement {_id: id} of one delete command, which it
// looks up by _id.
func (s *Store) deleteProcesses(ctx context.Context, ids []bson.ObjectID) (int, error) {
	if s.parents == nil {
		res, err := s.procs.DeleteMany(ctx, bson.D{{Key: "_id", Value: bson.D{{Key: "$in", Value: ids}}}})
		if err != nil {
			return 0, err
		}
		return int(res.DeletedCount), nil
	}
	models := make([]mongo.WriteModel, len(ids))
	for i, id := range ids {
		models[i] = mongo.NewDeleteOneModel().SetFilter(bson.D{{Key: "_id", Value: id}})
	}
	res, err := s.procs.BulkWrite(ctx, models, options.BulkWrite().SetOrdered(false))
	if err != nil {
		return 0, err
	}
	return int(res.DeletedCount), nil
}

// DeleteTree deletes a process and all its descendants; it returns how many
// documents went.
func (s *Store) DeleteTree(ctx context.Context, id bson.ObjectID) (int, error) {
	n, err := s.DeleteDescendants(ctx, id)
	if err != nil {
		return n, err
	}
	res, err := s.procs.DeleteOne(ctx, bson.D{{Key: "_id", Value: id}})
	s.forget(id)
	if err != nil {
		return n, fmt.Errorf("delete process: %w", err)
	}
	return n + int(res.DeletedCount), s.deleteCheckpoints(ctx, id)
}

// DeleteAll deletes every process document.
func (s *Store) DeleteAll(ctx context.Context) (int, error) {
	res, err := s.procs.DeleteMany(ctx, bson.D{})
	s.known.reset()
	if err != nil {
		return 0, fmt.Errorf("delete processes: %w", err)
	}
	if s.parents != nil {
		if _, err := s.parents.DeleteMany(ctx, bson.D{}); err != nil {
			return int(res.DeletedCount), fmt.Errorf("unmark parents: %w", err)
		}
	}
	if _, err := s.checkpoints.DeleteMany(ctx, bson.D{}); err != nil {
		return int(res.DeletedCount), fmt.Errorf("delete checkpoints: %w", err)
	}
	return int(res.DeletedCount), nil
}
