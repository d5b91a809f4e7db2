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

// On FerretDB (see docLocks) the store keeps a side collection,
// {prefix}_parents, holding the _id of every process under which a child
// document was inserted, written before the child. FerretDB answers any
// filter other than {_id} by reading and decoding the whole collection (160
// ms for 1000 process documents), and every launch, dismissal and deletion
// has to look for a previous run's children by parentId. With the marker,
// processes that never had children (most of them) are checked with one
// lookup by _id instead. A stale marker costs one needless search; a child
// is never inserted without its parent's marker. MongoDB uses its parentId
// index and gets no side collection.

// parentsSuffix names the side collection: {prefix}_parents.
const parentsSuffix = "_parents"

// ParentForChildren reads the process id for InsertMarkedChildren: its document
// without the log, which grows with every child spawned. A caller inserting
// many batches under one parent within one launch may read it once.
func (s *Store) ParentForChildren(ctx context.Context, id bson.ObjectID) (*mirror.Process, error) {
	return s.getHead(ctx, id)
}

// getHead returns a process's document without its log.
func (s *Store) getHead(ctx context.Context, id bson.ObjectID) (*mirror.Process, error) {
	var p mirror.Process
	err := s.procs.FindOne(ctx, bson.D{{Key: "_id", Value: id}},
		options.FindOne().SetProjection(bson.D{{Key: "log", Value: 0}})).Decode(&p)
	if errors.Is(err, mongo.ErrNoDocuments) {
		return nil, mirror.ErrNotFound
	}
	if err != nil {
		return nil, fmt.Errorf("read process: %w", err)
	}
	return &p, nil
}

// MarkParent records that id has (or is about to have) children, before
// InsertMarkedChildren inserts them.
func (s *Store) MarkParent(ctx context.Context, id bson.ObjectID) error {
	return s.markParent(ctx, id)
}

// markParent records that id has (or is about to have) children.
func (s *Store) markParent(ctx context.Context, id bson.ObjectID) error {
	if s.parents == nil {
		return nil
	}
	s.setChildless(id, false)
	_, err := s.parents.InsertOne(ctx, bson.D{{Key: "_id", Value: id}})
	if err != nil && !mongo.IsDuplicateKeyError(err) {
		return fmt.Errorf("mark %s as a parent: %w", id.Hex(), err)
	}
	return nil
}

// mayHaveChildren reports whether id may have child documents.
func (s *Store) mayHaveChildren(ctx context.Context, id bson.ObjectID) (bool, error) {
	if s.parents == nil {
		return true, nil
	}
	if s.knownChildless(id) {
		return false, nil
	}
	err := s.parents.FindOne(ctx, bson.D{{Key: "_id", Value: id}}).Err()
	if errors.Is(err, mongo.ErrNoDocuments) {
		s.setChildless(id, true)
		return false, nil
	}
	if err != nil {
		return false, fmt.Errorf("look up %s as a parent: %w", id.Hex(), err)
	}
	return true, nil
}

// unmarkParents forgets ids as parents once their children are gone.
func (s *Store) unmarkParents(ctx context.Context, ids ...bson.ObjectID) error {
	if s.parents == nil || len(ids) == 0 {
		return nil
	}
	var err error
	if len(ids) == 1 {
		_, err = s.parents.DeleteOne(ctx, bson.D{{Key: "_id", Value: ids[0]}})
	} else {
		_, err = s.parents.DeleteMany(ctx, bson.D{{Key: "_id", Value: bson.D{{Key: "$in", Value: ids}}}})
	}
	if err != nil {
		return fmt.Errorf("unmark parents: %w", err)
	}
	for _, id := range ids {
		s.setChildless(id, true)
	}
	return nil
}
