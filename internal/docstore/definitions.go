package docstore

import (
	"context"
	"errors"
	"fmt"

	"go.mongodb.org/mongo-driver/v2/bson"
	"go.mongodb.org/mongo-driver/v2/mongo"
	"go.mongodb.org/mongo-driver/v2/mongo/options"

	"github.com/optio-temporal/optio/mirror"
)

// Definition holds the definition fields of a root process: what a task
// generator (or an ad-hoc define) decides, as opposed to runtime state.
type Definition struct {
	ProcessID   string
	Name        string
	Description string // "" is stored as null
	Params      map[string]any
	Metadata    map[string]any
	Cancellable bool
	Special     bool
	Warning     string // "" is stored as null
	// SupportsResume is written as supportsResume.
	SupportsResume bool
}

func (d Definition) set() bson.D {
	return bson.D{
		{Key: "name", Value: d.Name},
		{Key: "params", Value: nonNilMap(d.Params)},
		{Key: "metadata", Value: nonNilMap(d.Metadata)},
		{Key: "cancellable", Value: d.Cancellable},
		{Key: "description", Value: optionalString(d.Description)},
		{Key: "special", Value: d.Special},
		{Key: "warning", Value: optionalString(d.Warning)},
		{Key: "supportsResume", Value: d.SupportsResume},
	}
}

func nonNilMap(m map[string]any) map[string]any {
	if m == nil {
		return map[string]any{}
	}
	return m
}

// UpsertDefinition creates the root process of a definition in state idle, or
// updates the definition fields of the existing root process with that
// processId without touching its runtime state (status, progress, log, tree
// position, adhoc/ephemeral flags).
func (s *Store) UpsertDefinition(ctx context.Context, d Definition) (*mirror.Process, error) {
	for attempt := 0; attempt < 2; attempt++ {
		p, err := s.updateRootDefinition(ctx, d)
		if !errors.Is(err, mirror.ErrNotFound) {
			return p, err
		}
		doc, err := s.insertDefinition(ctx, d)
		if err == nil {
			return doc, nil
		}
		if !mongo.IsDuplicateKeyError(err) {
			return nil, fmt.Errorf("insert process %q: %w", d.ProcessID, err)
		}
		// Lost a race with a concurrent upsert (retry the update), or the
		// processId belongs to a child (the retry finds no root and fails).
	}
	return nil, fmt.Errorf("define process %q: %w (held by a child process)", d.ProcessID, mirror.ErrDuplicateProcessID)
}

// UpsertDefinitions is UpsertDefinition for many definitions, in order, with
// one lookup of all their processIds instead of one each (on FerretDB a
// lookup by processId reads the whole collection). roots is that lookup
// when the caller has made it (SyncRead.Roots); nil makes it here. It
// returns the documents written so far with the first error.
func (s *Store) UpsertDefinitions(ctx context.Context, defs []Definition, roots map[string]*mirror.Process) ([]*mirror.Process, error) {
	found := roots
	if found == nil {
		ids := make([]string, len(defs))
		for i, d := range defs {
			ids[i] = d.ProcessID
		}
		read, err := s.readProcessIDs(ctx, ids, nil)
		if err != nil {
			return nil, err
		}
		found = read.Roots
	}
	var err error
	out := make([]*mirror.Process, 0, len(defs))
	for _, d := range defs {
		var p *mirror.Process
		if cur, ok := found[d.ProcessID]; ok {
			p, err = s.updateDefinitionOf(ctx, cur, d)
		} else if p, err = s.insertDefinition(ctx, d); err != nil && !mongo.IsDuplicateKeyError(err) {
			err = fmt.Errorf("insert process %q: %w", d.ProcessID, err)
		}
		if errors.Is(err, mirror.ErrNotFound) || mongo.IsDuplicateKeyError(err) {
			// Deleted, or inserted (or held by a child), since the
			// lookup: the one-by-one path says which.
			p, err = s.UpsertDefinition(ctx, d)
		}
		if err != nil {
			return out, err
		}
		out = append(out, p)
	}
	return out, nil
}

// SyncRead is what a sync of task definitions reads before it writes
// anything.
type SyncRead struct {
	// Roots maps each processId asked for that a root document holds to
	// that document (the fields a definition update reads, and adhoc and
	// status).
	Roots map[string]*mirror.Process
	// Held lists the processIds asked for that child processes hold: a
	// definition cannot take them (processId is unique).
	Held []string
	// TaskRoots are the top-level processes that are not ad-hoc and whose
	// metadata matches the sync's filter (those the sync may find removed
	// from the task definitions), with only _id, processId, adhoc and
	// status read, and the fields above.
	TaskRoots []mirror.Process
}

// ReadForSync reads what a sync of the task definitions with processIDs,
// filtered by metadata (nil: all), needs: which of them exist as roots or
// as children, and every task root in scope. Without a filter it is one
// read, with one the task roots are a second: on FerretDB each read goes
// through the whole collection, and a sync used to make three. With a
// filter, which roots match it is left to the server, whose matching
// (arrays, numbers of other types) the engine does not repeat.
func (s *Store) ReadForSync(ctx context.Context, processIDs []string, metadata map[string]any) (*SyncRead, error) {
	if len(metadata) > 0 {
		read, err := s.readProcessIDs(ctx, processIDs, nil)
		if err != nil {
			return nil, err
		}
		if read.TaskRoots, err = s.TaskRoots(ctx, metadata); err != nil {
			return nil, err
		}
		return read, nil
	}
	return s.readProcessIDs(ctx, processIDs, taskRootsFilter(nil))
}

// readProcessIDs reads the documents holding processIDs and, when roots is
// not nil, those matching it as well, in one find, and sorts them into a
// SyncRead (TaskRoots only when roots is given).
func (s *Store) readProcessIDs(ctx context.Context, processIDs []string, roots bson.D) (*SyncRead, error) {
	read := &SyncRead{Roots: map[string]*mirror.Process{}}
	byID := bson.D{{Key: "processId", Value: bson.D{{Key: "$in", Value: processIDs}}}}
	var filter bson.D
	switch {
	case roots == nil && len(processIDs) == 0:
		return read, nil
	case roots == nil:
		filter = byID
	case len(processIDs) == 0:
		filter = roots
	default:
		filter = bson.D{{Key: "$or", Value: bson.A{byID, roots}}}
	}
	cur, err := s.procs.Find(ctx, filter, options.Find().SetProjection(bson.D{
		{Key: "_id", Value: 1}, {Key: "processId", Value: 1}, {Key: "parentId", Value: 1},
		{Key: "adhoc", Value: 1}, {Key: "status", Value: 1},
		{Key: "hasSavedState", Value: 1}, {Key: "autoResumeScheduled", Value: 1},
	}))
	if err != nil {
		return nil, fmt.Errorf("look up task roots: %w", err)
	}
	rows := []mirror.Process{}
	if err := cur.All(ctx, &rows); err != nil {
		return nil, fmt.Errorf("look up task roots: %w", err)
	}
	asked := make(map[string]bool, len(processIDs))
	for _, id := range processIDs {
		asked[id] = true
	}
	if roots != nil {
		read.TaskRoots = []mirror.Process{}
	}
	for i := range rows {
		p := &rows[i]
		if asked[p.ProcessID] {
			if p.ParentID != nil {
				read.Held = append(read.Held, p.ProcessID)
			} else {
				read.Roots[p.ProcessID] = p
				s.ids.Store(p.ProcessID, p.ID)
			}
		}
		// The roots filter without metadata: no parent, not ad-hoc.
		if roots != nil && p.ParentID == nil && !p.Adhoc {
			read.TaskRoots = append(read.TaskRoots, *p)
		}
	}
	return read, nil
}

// insertDefinition inserts the root process of a new definition, idle. A
// processId taken meanwhile gives a duplicate-key error.
func (s *Store) insertDefinition(ctx context.Context, d Definition) (*mirror.Process, error) {
	id := bson.NewObjectID()
	doc := &mirror.Process{
		ID:          id,
		ProcessID:   d.ProcessID,
		Name:        d.Name,
		Description: optionalString(d.Description),
		Params:      nonNilMap(d.Params),
		Metadata:    nonNilMap(d.Metadata),
		RootID:      id,
		Cancellable: d.Cancellable,
		Special:     d.Special,
		Warning:     optionalString(d.Warning),
		Status:      mirror.Status{State: mirror.Idle},
		Progress:    zeroProgress(),
		Log:         []mirror.LogEntry{},
		CreatedAt:   s.now(),

		SupportsResume:      boolPtr(d.SupportsResume),
		HasSavedState:       boolPtr(false),
		AutoResumeScheduled: boolPtr(false),
	}
	err := s.gatedWrite(ctx, func() error {
		_, err := s.procs.InsertOne(ctx, doc)
		return err
	})
	if err != nil {
		return nil, err
	}
	s.ids.Store(doc.ProcessID, doc.ID)
	s.rememberNew(doc)
	return doc, nil
}

func (s *Store) updateRootDefinition(ctx context.Context, d Definition) (*mirror.Process, error) {
	cur, err := s.ByProcessID(ctx, d.ProcessID)
	if err != nil {
		return nil, err
	}
	if cur.ParentID != nil {
		return nil, mirror.ErrNotFound // the processId belongs to a child
	}
	return s.updateDefinitionOf(ctx, cur, d)
}

// updateDefinitionOf writes d's fields on cur, the root process read.
func (s *Store) updateDefinitionOf(ctx context.Context, cur *mirror.Process, d Definition) (*mirror.Process, error) {
	set := d.set()
	// Documents written before the resume fields existed get them, as
	// optio-core's migration m003 backfills hasSavedState.
	if cur.HasSavedState == nil {
		set = append(set, bson.E{Key: "hasSavedState", Value: false})
	}
	if cur.AutoResumeScheduled == nil {
		set = append(set, bson.E{Key: "autoResumeScheduled", Value: false})
	}
	return s.update(ctx, cur.ID, bson.D{{Key: "$set", Value: set}})
}

func boolPtr(b bool) *bool { return &b }

// SetAdhoc marks a process as ad-hoc, ephemeral or not.
func (s *Store) SetAdhoc(ctx context.Context, id bson.ObjectID, ephemeral bool) (*mirror.Process, error) {
	return s.update(ctx, id, bson.D{{Key: "$set", Value: bson.D{{Key: "adhoc", Value: true}, {Key: "ephemeral", Value: ephemeral}}}})
}

// SetEphemeral marks a process for deletion once it reaches an end state.
func (s *Store) SetEphemeral(ctx context.Context, id bson.ObjectID) error {
	_, err := s.update(ctx, id, bson.D{{Key: "$set", Value: bson.D{{Key: "ephemeral", Value: true}}}})
	return err
}

func (s *Store) update(ctx context.Context, id bson.ObjectID, upd bson.D) (*mirror.Process, error) {
	unlock := s.lockDoc(id)
	defer unlock()
	p, err := s.updateByID(ctx, id, upd)
	if err != nil && !errors.Is(err, mirror.ErrNotFound) {
		return nil, fmt.Errorf("update process %s: %w", id.Hex(), err)
	}
	return p, err
}

// updateByID applies upd to the document id (filter {_id} alone) and returns
// it as written; ErrNotFound when there is none.
func (s *Store) updateByID(ctx context.Context, id bson.ObjectID, upd bson.D) (*mirror.Process, error) {
	release, err := s.gateWrite(ctx)
	if err != nil {
		return nil, err
	}
	defer release()
	var p mirror.Process
	err = s.procs.FindOneAndUpdate(ctx, bson.D{{Key: "_id", Value: id}}, upd,
		options.FindOneAndUpdate().SetReturnDocument(options.After)).Decode(&p)
	if errors.Is(err, mongo.ErrNoDocuments) {
		s.forget(id)
		return nil, mirror.ErrNotFound
	}
	if err != nil {
		s.forget(id)
		return nil, err
	}
	s.remember(&p)
	return &p, nil
}

// Child describes a child document to insert under a parent.
type Child struct {
	ProcessID   string
	Name        string
	Description string
	Params      map[string]any
	// Metadata of the child; children of run_child inherit the parent's.
	Metadata map[string]any
	Order    int
	// State is Scheduled for a child about to run, Idle for an ad-hoc child.
	// A child about to run is part of its parent's run and takes the
	// parent's originatingSessionId (null included); an ad-hoc child gets
	// its own when it is launched.
	State     mirror.State
	Adhoc     bool
	Ephemeral bool
}

// InsertChild inserts a child process under parent. The child is always
// cancellable, never special, with no warning, as in optio-core.
func (s *Store) InsertChild(ctx context.Context, parent *mirror.Process, c Child) (*mirror.Process, error) {
	if err := s.markParent(ctx, parent.ID); err != nil {
		return nil, err
	}
	return s.insertChild(ctx, parent, c)
}

// InsertMarkedChildren inserts children under parent, which MarkParent
// marked as a parent (a caller inserting many batches under one parent marks
// it once), in order, numbering them from firstOrder (their Order fields
// are ignored). A child whose processId is
// taken uses no order number and gets a nil document, unless the document
// holding it is this parent's child: with the very order number it would
// get, it is an earlier, interrupted call's insert, which is kept as if
// inserted now; with another, it is returned with Known set (a child of the
// same launch asked for again). It stops at the first other error. The
// children go in one ordered insert, which the server stops at the first
// taken processId; that child is looked up and the rest go in another.
func (s *Store) InsertMarkedChildren(ctx context.Context, parent *mirror.Process, firstOrder int, cs []Child) ([]InsertedChild, error) {
	out := make([]InsertedChild, len(cs))
	order := firstOrder
	for next := 0; next < len(cs); {
		docs := make([]*mirror.Process, len(cs)-next)
		inserts := make([]any, len(docs))
		for k := range docs {
			c := cs[next+k]
			c.Order = order + k
			docs[k], inserts[k] = s.newChild(parent, c)
		}
		inserted, err := s.insertChildren(ctx, parent, docs, inserts)
		for k := range inserted {
			out[next+k] = InsertedChild{Doc: docs[k]}
		}
		next += inserted
		order += inserted
		if err == nil {
			break
		}
		if !errors.Is(err, mirror.ErrDuplicateProcessID) {
			return out, err
		}
		// cs[next]'s processId is taken.
		c := cs[next]
		doc, err := s.ByProcessID(ctx, c.ProcessID)
		if err != nil {
			return out, err
		}
		switch {
		case doc.ParentID == nil || *doc.ParentID != parent.ID:
		case doc.Order != order:
			out[next] = InsertedChild{Doc: doc, Known: true}
		default:
			out[next] = InsertedChild{Doc: doc, Recovered: true}
			order++
		}
		next++
	}
	return out, nil
}

// insertChildren inserts child documents made by newChild, in order, and
// returns how many were inserted before the first error.
func (s *Store) insertChildren(ctx context.Context, parent *mirror.Process, docs []*mirror.Process, inserts []any) (int, error) {
	release, err := s.gateWrite(ctx)
	if err != nil {
		return 0, err
	}
	_, err = s.procs.InsertMany(ctx, inserts, options.InsertMany().SetOrdered(true))
	release()
	inserted := len(docs)
	if err != nil {
		inserted = 0
		var bwe mongo.BulkWriteException
		if errors.As(err, &bwe) && len(bwe.WriteErrors) > 0 && bwe.WriteConcernError == nil {
			inserted = min(max(bwe.WriteErrors[0].Index, 0), len(docs))
		}
	}
	for _, doc := range docs[:inserted] {
		s.insertedChild(parent, doc)
	}
	if err != nil {
		if mongo.IsDuplicateKeyError(err) && inserted < len(docs) {
			return inserted, fmt.Errorf("insert child %q: %w", docs[inserted].ProcessID, mirror.ErrDuplicateProcessID)
		}
		return inserted, fmt.Errorf("insert children: %w", err)
	}
	return inserted, nil
}

// InsertedChild is what InsertMarkedChildren did with one child.
type InsertedChild struct {
	// Doc is the child's document; nil when its processId belongs to
	// another process.
	Doc *mirror.Process
	// Known is true when Doc was there before: a child of the same parent.
	Known bool
	// Recovered is true when Doc was there before with the very order
	// number this call gave it: an earlier, interrupted call's insert (or
	// one a reset of the children workflow makes again), kept as if
	// inserted now.
	Recovered bool
}

func (s *Store) insertChild(ctx context.Context, parent *mirror.Process, c Child) (*mirror.Process, error) {
	doc, insert := s.newChild(parent, c)
	release, err := s.gateWrite(ctx)
	if err != nil {
		return nil, err
	}
	_, err = s.procs.InsertOne(ctx, insert)
	release()
	if err != nil {
		if mongo.IsDuplicateKeyError(err) {
			return nil, fmt.Errorf("insert child %q: %w", c.ProcessID, mirror.ErrDuplicateProcessID)
		}
		return nil, fmt.Errorf("insert child %q: %w", c.ProcessID, err)
	}
	s.insertedChild(parent, doc)
	return doc, nil
}

// newChild makes a child's document and what to insert for it.
func (s *Store) newChild(parent *mirror.Process, c Child) (*mirror.Process, any) {
	pid := parent.ID
	doc := &mirror.Process{
		ID:          bson.NewObjectID(),
		ProcessID:   c.ProcessID,
		Name:        c.Name,
		Description: optionalString(c.Description),
		Params:      nonNilMap(c.Params),
		Metadata:    nonNilMap(c.Metadata),
		ParentID:    &pid,
		RootID:      parent.RootID,
		Depth:       parent.Depth + 1,
		Order:       c.Order,
		Cancellable: true,
		Adhoc:       c.Adhoc,
		Ephemeral:   c.Ephemeral,
		Status:      mirror.Status{State: c.State},
		Progress:    zeroProgress(),
		Log:         []mirror.LogEntry{},
		CreatedAt:   s.now(),
	}
	if doc.RootID.IsZero() {
		doc.RootID = parent.ID
	}
	if c.State != mirror.Idle {
		return doc, withSession{doc, parent.OriginatingSessionID}
	}
	return doc, doc
}

// insertedChild completes an inserted child's document (a child about to
// run took the parent's originatingSessionId) and remembers its _id.
func (s *Store) insertedChild(parent *mirror.Process, doc *mirror.Process) {
	if doc.Status.State != mirror.Idle {
		doc.OriginatingSessionID = parent.OriginatingSessionID
	}
	s.ids.Store(doc.ProcessID, doc.ID)
	s.rememberNew(doc)
}

// withSession is a process document (whose own OriginatingSessionID is nil)
// with its originatingSessionId written even when null, as optio-core
// writes it for every run.
type withSession struct {
	*mirror.Process `bson:",inline"`
	Session         *string `bson:"originatingSessionId"`
}
