package docstore

import (
	"context"
	"errors"
	"fmt"
	"strconv"
	"time"

	"go.mongodb.org/mongo-driver/v2/bson"
	"go.mongodb.org/mongo-driver/v2/mongo"
)

// On FerretDB (see docLocks) a compare-and-set is a read, a check in Go and a
// write, which docLocks make safe against this process only: two engines in
// two processes (a second worker pointed at the first's services) could both
// read a done document and both claim it, and each start a run, the later
// terminating the earlier one before its body ran. So the writes that start
// or end the ownership of a run (Claim, ResolveAndClaim, Dismiss) first take
// a lock shared by every process on the server: a document
// {_id: <process _id>, owner, at} inserted into the side collection
// {prefix}_claims. An insert into a unique index is atomic in SQLite, so of
// two processes exactly one gets it; the other waits for it to go. The lock
// is held for the read, the check and the write (a few milliseconds) and
// deleted after. Other writes (progress, logs, the run's own transitions)
// stay process-local: they never race a claim, which only ever moves a
// document whose run has ended. MongoDB's findOneAndUpdate is atomic, and
// MongoDB gets no side collection.

// claimsSuffix names the side collection of cross-process claim locks:
// {prefix}_claims.
const claimsSuffix = "_claims"

// claimLockStale is the age past which a claim lock is taken to belong to a
// process that died holding it. Holders keep it for milliseconds; the bound
// leaves room for a server stalled by a long write and for clocks that
// disagree by a few seconds.
const claimLockStale = 30 * time.Second

// claimLockPoll bounds the wait between two attempts at a held lock.
const claimLockPoll = 20 * time.Millisecond

// claimLock is a claim lock's document.
type claimLock struct {
	ID    bson.ObjectID `bson:"_id"`
	Owner string        `bson:"owner"`
	At    time.Time     `bson:"at"`
}

// lockClaim takes the cross-process claim lock of document id on FerretDB
// and returns its release func; elsewhere it returns a no-op at once. It
// waits while another holder has it, up to ctx.
func (s *Store) lockClaim(ctx context.Context, id bson.ObjectID) (func(), error) {
	if s.claims == nil {
		return func() {}, nil
	}
	// Unique per acquisition, so that a release never deletes a successor's
	// lock.
	owner := bson.NewObjectID().Hex()
	wait := time.Millisecond
	for {
		err := s.gatedWrite(ctx, func() error {
			_, err := s.claims.InsertOne(ctx, claimLock{ID: id, Owner: owner, At: s.now()})
			return err
		})
		if err == nil {
			return func() { s.unlockClaim(id, owner) }, nil
		}
		if !mongo.IsDuplicateKeyError(err) {
			return nil, fmt.Errorf("lock claim of %s: %w", id.Hex(), err)
		}
		retryNow, err := s.takeOverStale(ctx, id)
		if err != nil {
			return nil, err
		}
		if retryNow {
			continue
		}
		select {
		case <-ctx.Done():
			return nil, fmt.Errorf("lock claim of %s: %w", id.Hex(), ctx.Err())
		case <-time.After(wait):
		}
		wait = min(2*wait, claimLockPoll)
	}
}

// takeOverStale looks at the lock that refused an insert: gone, or stale and
// now removed, it reports true (try again at once). A stale lock is removed
// by the one process that inserts its takeover marker (an _id naming the
// lock's owner and time, unique like the lock), because FerretDB's delete is
// not a compare-and-set either: two takers deleting by _id could otherwise
// remove a lock a third process took in between. Markers are left behind:
// one per process that died holding a lock.
func (s *Store) takeOverStale(ctx context.Context, id bson.ObjectID) (bool, error) {
	var held claimLock
	err := s.claims.FindOne(ctx, bson.D{{Key: "_id", Value: id}}).Decode(&held)
	if errors.Is(err, mongo.ErrNoDocuments) {
		return true, nil
	}
	if err != nil {
		return false, fmt.Errorf("read claim lock of %s: %w", id.Hex(), err)
	}
	if s.now().Sub(held.At) < claimLockStale {
		return false, nil
	}
	marker := id.Hex() + "/" + held.Owner + "/" + strconv.FormatInt(held.At.UnixMilli(), 10)
	if _, err := s.claims.InsertOne(ctx, bson.D{{Key: "_id", Value: marker}, {Key: "at", Value: s.now()}}); err != nil {
		if mongo.IsDuplicateKeyError(err) {
			return false, nil // another process is taking it over
		}
		return false, fmt.Errorf("take over claim lock of %s: %w", id.Hex(), err)
	}
	if _, err := s.claims.DeleteOne(ctx, bson.D{{Key: "_id", Value: id}, {Key: "owner", Value: held.Owner}}); err != nil {
		return false, fmt.Errorf("take over claim lock of %s: %w", id.Hex(), err)
	}
	return true, nil
}

// unlockClaim deletes this acquisition's lock. It runs even when the claim's
// context is done; should it fail, the lock goes stale and is taken over.
func (s *Store) unlockClaim(id bson.ObjectID, owner string) {
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	_ = s.gatedWrite(ctx, func() error {
		_, err := s.claims.DeleteOne(ctx, bson.D{{Key: "_id", Value: id}, {Key: "owner", Value: owner}})
		return err
	})
}

// gatedWrite runs one write in this store's turn (see gateWrite). A claim
// lock is never waited for while holding the turn.
func (s *Store) gatedWrite(ctx context.Context, write func() error) error {
	release, err := s.gateWrite(ctx)
	if err != nil {
		return err
	}
	defer release()
	return write()
}
