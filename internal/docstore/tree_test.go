package docstore

import (
	"fmt"
	"testing"

	"github.com/stretchr/testify/require"
	"go.mongodb.org/mongo-driver/v2/bson"

	"github.com/optio-temporal/optio/mirror"
)

// On FerretDB, deleting a tree reads the collection once, however deep the
// tree: a query by parentId reads every document there, and the walk used
// to make one per level and one more. The descendants go in one delete
// command of one statement by _id each (FerretDB matches {_id: {$in}} by
// reading every document too). Other trees, and hand-made child documents
// whose _id or parentId is not an ObjectId, are left alone; a hand-made
// cycle ends the walk.
func TestDeleteTreeReadsOnceOnFerretDB(t *testing.T) {
	open := leaseStores(t)
	log := &commandLog{}
	s := open(log)
	ctx := t.Context()
	child := func(parent *mirror.Process, id string) *mirror.Process {
		t.Helper()
		c, err := s.InsertChild(ctx, parent, Child{ProcessID: id, Name: id, State: mirror.Idle})
		require.NoError(t, err)
		return c
	}
	root, err := s.UpsertDefinition(ctx, Definition{ProcessID: "root", Name: "Root"})
	require.NoError(t, err)
	tree := 0
	for i := range 3 {
		c := child(root, fmt.Sprintf("c%d", i))
		tree++
		for j := range 2 {
			g := child(c, fmt.Sprintf("c%d-g%d", i, j))
			tree++
			if i == 0 && j == 0 {
				child(g, "c0-g0-x")
				tree++
			}
		}
	}
	other, err := s.UpsertDefinition(ctx, Definition{ProcessID: "other", Name: "Other"})
	require.NoError(t, err)
	child(other, "other-child")
	_, err = s.procs.InsertOne(ctx, bson.D{{Key: "_id", Value: "hand-made"}, {Key: "processId", Value: "hand-made"}, {Key: "parentId", Value: root.ID}})
	require.NoError(t, err)
	_, err = s.procs.InsertOne(ctx, bson.D{{Key: "processId", Value: "hand-made-2"}, {Key: "parentId", Value: "not an id"}})
	require.NoError(t, err)

	log.take()
	n, err := s.DeleteTree(ctx, root.ID)
	require.NoError(t, err)
	require.Equal(t, tree+1, n, "the tree's documents and the root")
	cmds := log.take()
	require.Equal(t, 1, count(cmds, "find optio_processes"), "one read for the walk: %v", cmds)
	require.Equal(t, 2, count(cmds, "delete optio_processes"), "the descendants in one command, then the root: %v", cmds)
	left, err := s.procs.CountDocuments(ctx, bson.D{})
	require.NoError(t, err)
	require.EqualValues(t, 4, left, "the other tree and the two hand-made documents")
	_, err = s.ByProcessID(ctx, "other-child")
	require.NoError(t, err)

	// Two hand-made documents, each the other's parent: the walk from one
	// ends.
	a, b := bson.NewObjectID(), bson.NewObjectID()
	_, err = s.procs.InsertMany(ctx, []any{
		bson.D{{Key: "_id", Value: a}, {Key: "processId", Value: "cycle-a"}, {Key: "parentId", Value: b}},
		bson.D{{Key: "_id", Value: b}, {Key: "processId", Value: "cycle-b"}, {Key: "parentId", Value: a}},
	})
	require.NoError(t, err)
	ids, err := s.Descendants(ctx, a)
	require.NoError(t, err)
	require.Equal(t, []bson.ObjectID{b}, ids)
}
