package adapter_test

import (
	"testing"

	"github.com/stretchr/testify/require"
	"go.mongodb.org/mongo-driver/v2/bson"

	"github.com/optio-temporal/optio/adapter"
)

// TestCancelWithoutRunEndsTheProcess: a process the mirror shows running
// but that has no workflow run (its run was deleted on the Temporal side,
// or the document was written by hand) is cancelled by Cancel itself, since
// nothing else will write its end. An ephemeral one is then deleted with
// its descendants, as at every other cancelled end; another one stays,
// cancelled.
func TestCancelWithoutRunEndsTheProcess(t *testing.T) {
	for _, ephemeral := range []bool{false, true} {
		name := "kept"
		if ephemeral {
			name = "ephemeral"
		}
		t.Run(name, func(t *testing.T) {
			ctx := t.Context()
			eng, db := newTestEngine(t, adapter.Config{})
			quick := func(*adapter.ProcessContext) error { return nil }
			p, err := eng.AdhocDefine(ctx, adapter.TaskInstance{ProcessID: "orphan", Name: "Orphan", Execute: quick}, adapter.AdhocOptions{Ephemeral: ephemeral})
			require.NoError(t, err)
			_, err = eng.AdhocDefine(ctx, adapter.TaskInstance{ProcessID: "orphan/child", Name: "Child", Execute: quick}, adapter.AdhocOptions{Parent: "orphan"})
			require.NoError(t, err)
			// Running, with no workflow run behind it. The engine is alone
			// on its prefix and has not written the document since it
			// created it, so its cache reads the hand-made state again
			// before it refuses a move from running (see README, "Limits of
			// dev mode").
			res, err := db.Collection("optio_processes").UpdateOne(ctx,
				bson.D{{Key: "_id", Value: p.ID}},
				bson.D{{Key: "$set", Value: bson.D{{Key: "status.state", Value: adapter.StateRunning}}}})
			require.NoError(t, err)
			require.EqualValues(t, 1, res.ModifiedCount)

			out, err := eng.Cancel(ctx, "orphan")
			require.NoError(t, err)
			require.True(t, out.OK, "cancel: %s", out.Reason)

			if ephemeral {
				require.Nil(t, out.Process, "the outcome has no document: it is gone")
				_, err = eng.GetProcess(ctx, "orphan")
				require.ErrorIs(t, err, adapter.ErrNotFound, "an ephemeral process is deleted when cancelled")
				require.Empty(t, processIDs(t, eng), "with its descendants")
				return
			}
			require.Equal(t, adapter.StateCancelled, out.Process.Status.State)
			require.ElementsMatch(t, []string{"orphan", "orphan/child"}, processIDs(t, eng))
		})
	}
}
