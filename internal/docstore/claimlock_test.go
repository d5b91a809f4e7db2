package docstore_test

import (
	"context"
	"errors"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
	"go.mongodb.org/mongo-driver/v2/bson"

	"github.com/optio-temporal/optio/internal/docstore"
	"github.com/optio-temporal/optio/internal/testenv"
	"github.com/optio-temporal/optio/mirror"
)

func TestMain(m *testing.M) { testenv.Main(m) }

// twoStores returns two stores over one database of the embedded Mongo-wire
// server (FerretDB), as two engines in two processes have: each with its own
// in-process locks. The database holds one idle process, "contested".
func twoStores(t *testing.T) (a, b *docstore.Store, id bson.ObjectID) {
	t.Helper()
	db := testenv.NewMongo(t).DB
	a, b = docstore.NewStore(db, "optio"), docstore.NewStore(db, "optio")
	for _, s := range []*docstore.Store{a, b} {
		require.NoError(t, s.EnsureIndexes(t.Context()))
	}
	p, err := a.UpsertDefinition(t.Context(), docstore.Definition{ProcessID: "contested", Name: "Contested"})
	require.NoError(t, err)
	return a, b, p.ID
}

// finishRun takes a claimed process through its run to done.
func finishRun(t *testing.T, s *docstore.Store, id bson.ObjectID) {
	t.Helper()
	p, err := s.Start(t.Context(), id)
	require.NoError(t, err)
	_, err = s.Complete(t.Context(), id, *p.Status.RunningSince)
	require.NoError(t, err)
}

// Two stores with separate in-process locks (two engines, as in two
// processes) race to claim one ended process, round after round, through
// Claim and through ResolveAndClaim: every round exactly one wins and the
// other is refused with a conflict.
func TestClaimIsAtomicAcrossStores(t *testing.T) {
	a, b, id := twoStores(t)
	const rounds = 60
	doubles := 0
	for round := range rounds {
		claim := func(s *docstore.Store) error {
			if round%2 == 0 {
				_, err := s.Claim(t.Context(), id)
				return err
			}
			_, err := s.ResolveAndClaim(t.Context(), "contested", nil, func(*mirror.Process) error { return nil })
			return err
		}
		var errs [2]error
		start := make(chan struct{})
		var wg sync.WaitGroup
		for i, s := range []*docstore.Store{a, b} {
			wg.Go(func() {
				<-start
				errs[i] = claim(s)
			})
		}
		close(start)
		wg.Wait()
		won := 0
		for _, err := range errs {
			if err == nil {
				won++
				continue
			}
			var conflict *mirror.ConflictError
			require.ErrorAs(t, err, &conflict, "round %d", round)
			require.Equal(t, mirror.Scheduled, conflict.Current, "round %d", round)
		}
		if won == 2 {
			doubles++
		}
		require.GreaterOrEqual(t, won, 1, "round %d: nobody claimed", round)
		finishRun(t, a, id)
	}
	t.Logf("%d of %d rounds claimed twice", doubles, rounds)
	require.Zero(t, doubles, "rounds in which both stores claimed the process")
}

// A claim lock left by a process that died holding it blocks claims while it
// is fresh, and is taken over once it is stale.
func TestClaimLockOfADeadHolder(t *testing.T) {
	a, _, id := twoStores(t)
	claims := a.Processes().Database().Collection("optio_claims")
	_, err := claims.InsertOne(t.Context(), bson.D{{Key: "_id", Value: id}, {Key: "owner", Value: "dead"}, {Key: "at", Value: time.Now()}})
	require.NoError(t, err)
	ctx, cancel := context.WithTimeout(t.Context(), 300*time.Millisecond)
	defer cancel()
	_, err = a.Claim(ctx, id)
	require.True(t, errors.Is(err, context.DeadlineExceeded), "a fresh lock blocks the claim: %v", err)

	_, err = claims.UpdateOne(t.Context(), bson.D{{Key: "_id", Value: id}}, bson.D{{Key: "$set", Value: bson.D{{Key: "at", Value: time.Now().Add(-time.Minute)}}}})
	require.NoError(t, err)
	p, err := a.Claim(t.Context(), id)
	require.NoError(t, err, "a stale lock is taken over")
	require.Equal(t, mirror.Scheduled, p.Status.State)
	n, err := claims.CountDocuments(t.Context(), bson.D{{Key: "_id", Value: id}})
	require.NoError(t, err)
	require.Zero(t, n, "the claim released its lock")
}
