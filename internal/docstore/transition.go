package docstore

import (
	"context"
	"errors"
	"fmt"
	"math"
	"slices"
	"time"

	"go.mongodb.org/mongo-driver/v2/bson"
	"go.mongodb.org/mongo-driver/v2/mongo"
	"go.mongodb.org/mongo-driver/v2/mongo/options"

	"github.com/optio-temporal/optio/mirror"
)

// The engine's log messages, worded exactly as optio-core writes them.
const (
	MsgScheduled = "State changed to scheduled"
	MsgRunning   = "State changed to running"
	MsgDone      = "State changed to done"
	MsgCancelled = "State changed to cancelled"
)

// MsgSpawnedChild is the parent's log entry when a child is created.
func MsgSpawnedChild(name string) string { return "Spawned child: " + name }

// MsgRefusedChild is the parent's log entry when a child is refused because the
// parent was already cancelled.
func MsgRefusedChild(name, processID string) string {
	return fmt.Sprintf("Refused to spawn child '%s' (process_id=%s): parent already cancelled", name, processID)
}

// cas applies upd to the document id if its state is one of from, and returns
// the document after the write. A refused write returns a *ConflictError.
func (s *Store) cas(ctx context.Context, id bson.ObjectID, to mirror.State, from []mirror.State, extra bson.D, upd bson.D) (*mirror.Process, error) {
	unlock := s.lockDoc(id)
	defer unlock()
	if s.locks != nil {
		if cur := s.knownHead(id); cur != nil && casAllows(cur, from, extra) {
			return s.lockedCASFrom(ctx, cur, to, from, extra, upd)
		}
		if _, solo := s.lease.solo(); ownsRun(to) && !solo {
			release, err := s.lockClaim(ctx, id)
			if err != nil {
				return nil, err
			}
			defer release()
		}
		return s.lockedCAS(ctx, id, to, from, extra, upd)
	}
	filter := append(bson.D{{Key: "_id", Value: id}, {Key: "status.state", Value: bson.D{{Key: "$in", Value: from}}}}, extra...)
	var p mirror.Process
	err := s.procs.FindOneAndUpdate(ctx, filter, upd, options.FindOneAndUpdate().SetReturnDocument(options.After)).Decode(&p)
	if err == nil {
		s.trimRead(ctx, &p)
		return &p, nil
	}
	if !errors.Is(err, mongo.ErrNoDocuments) {
		return nil, fmt.Errorf("move process %s to %s: %w", id.Hex(), to, err)
	}
	cur, gerr := s.Get(ctx, id)
	conflict := &mirror.ConflictError{ID: id, To: to, Allowed: from}
	if gerr == nil {
		conflict.Current = cur.Status.State
	} else if !errors.Is(gerr, mirror.ErrNotFound) {
		return nil, gerr
	}
	return nil, conflict
}

// ownsRun reports whether a move to the state to gives a document to a new
// run or takes it from every run (Claim, Dismiss): the writes that another
// process's engine may race on FerretDB, and that take the cross-process
// claim lock there (see claimlock.go).
func ownsRun(to mirror.State) bool { return to == mirror.Scheduled || to == mirror.Idle }

// lockedCAS is cas for servers without atomic updates (FerretDB), run under
// the document's lock: read by _id, check in Go, write by _id. Only a filter
// on _id alone reaches FerretDB's SQLite index; any other filter scans the
// whole collection, which made every state write cost O(processes).
func (s *Store) lockedCAS(ctx context.Context, id bson.ObjectID, to mirror.State, from []mirror.State, extra bson.D, upd bson.D) (*mirror.Process, error) {
	cur, err := s.Get(ctx, id)
	if errors.Is(err, mirror.ErrNotFound) {
		return nil, &mirror.ConflictError{ID: id, To: to, Allowed: from}
	}
	if err != nil {
		return nil, err
	}
	s.remember(cur)
	return s.lockedCASFrom(ctx, cur, to, from, extra, upd)
}

// lockedCASFrom is lockedCAS given the document as just read under its lock.
func (s *Store) lockedCASFrom(ctx context.Context, cur *mirror.Process, to mirror.State, from []mirror.State, extra bson.D, upd bson.D) (*mirror.Process, error) {
	id := cur.ID
	if !casAllows(cur, from, extra) {
		return nil, &mirror.ConflictError{ID: id, To: to, Allowed: from, Current: cur.Status.State}
	}
	p, err := s.updateByID(ctx, id, upd)
	if errors.Is(err, mirror.ErrNotFound) {
		return nil, &mirror.ConflictError{ID: id, To: to, Allowed: from}
	}
	if err != nil {
		return nil, fmt.Errorf("move process %s to %s: %w", id.Hex(), to, err)
	}
	s.trimRead(ctx, p)
	return p, nil
}

// casAllows reports whether a compare-and-set from the states from, with the
// extra conditions guard, may write the document cur (read in Go).
func casAllows(cur *mirror.Process, from []mirror.State, guard bson.D) bool {
	return slices.Contains(from, cur.Status.State) && matchesGuard(cur, guard)
}

// matchesGuard checks the extra conditions cas accepts (a run's
// status.runningSince) against a document read in Go.
func matchesGuard(p *mirror.Process, guard bson.D) bool {
	for _, e := range guard {
		switch e.Key {
		case "status.runningSince":
			want, ok := e.Value.(time.Time)
			if !ok || p.Status.RunningSince == nil || !p.Status.RunningSince.Equal(want) {
				return false
			}
		case claimStampKey:
			want, ok := e.Value.(string)
			if !ok || len(p.Log) == 0 || p.Log[0].Timestamp != want {
				return false
			}
		default:
			return false
		}
	}
	return true
}

func (s *Store) setPush(set bson.D, entries ...mirror.LogEntry) bson.D {
	upd := bson.D{{Key: "$set", Value: set}}
	if len(entries) > 0 {
		upd = append(upd, s.pushLog(entries))
	}
	return upd
}

// Claim moves a launchable process (idle, done, failed, cancelled) to scheduled
// for a new run: status and progress are reset, the log restarts with "State
// changed to scheduled", originatingSessionId is set to null (a run launched
// with no session), and the previous run's descendants are deleted. Of two
// concurrent claims exactly one succeeds; the other gets a *ConflictError.
func (s *Store) Claim(ctx context.Context, id bson.ObjectID) (*mirror.Process, error) {
	p, err := s.cas(ctx, id, mirror.Scheduled, statesFrom(mirror.Scheduled), nil, s.claimUpdate(nil))
	if err != nil {
		return nil, err
	}
	return p, s.afterClaim(ctx, p)
}

// ResolveAndClaim resolves ref as Resolve does, hands the document to check,
// and claims it as Claim does unless check returns an error, which it
// returns unchanged. session becomes the run's originatingSessionId (nil:
// null). The document check sees may be read again for the claim, which
// still refuses a state that is no longer launchable. On FerretDB a ref this
// store has resolved before is read once, under the document's lock, for the
// check and the compare-and-set both.
func (s *Store) ResolveAndClaim(ctx context.Context, ref string, session *string, check func(*mirror.Process) error) (*mirror.Process, error) {
	if oid, ok := s.knownID(ref); ok && s.locks != nil {
		p, done, err := s.claimLocked(ctx, oid, ref, session, check)
		if done {
			return p, err
		}
	}
	p, err := s.Resolve(ctx, ref)
	if err != nil {
		return nil, err
	}
	if err := check(p); err != nil {
		return nil, err
	}
	p, err = s.cas(ctx, p.ID, mirror.Scheduled, statesFrom(mirror.Scheduled), nil, s.claimUpdate(session))
	if err != nil {
		return nil, err
	}
	return p, s.afterClaim(ctx, p)
}

// claimLocked is ResolveAndClaim's one-read path; done is false when oid
// turned out not to be ref's document.
func (s *Store) claimLocked(ctx context.Context, oid bson.ObjectID, ref string, session *string, check func(*mirror.Process) error) (p *mirror.Process, done bool, err error) {
	unlock := s.lockDoc(oid)
	defer unlock()
	release := func() {}
	if _, solo := s.lease.solo(); !solo {
		if release, err = s.lockClaim(ctx, oid); err != nil {
			return nil, true, err
		}
	}
	p, done, err = s.claimReadLocked(ctx, oid, ref, session, check)
	release()
	if p == nil {
		return nil, done, err
	}
	return p, true, s.afterClaim(ctx, p)
}

// claimReadLocked is claimLocked's read, check and write, under both locks.
func (s *Store) claimReadLocked(ctx context.Context, oid bson.ObjectID, ref string, session *string, check func(*mirror.Process) error) (*mirror.Process, bool, error) {
	if cur := s.knownHead(oid); cur != nil && (cur.ProcessID == ref || cur.ID.Hex() == ref) &&
		casAllows(cur, statesFrom(mirror.Scheduled), nil) && check(cur) == nil {
		p, err := s.lockedCASFrom(ctx, cur, mirror.Scheduled, statesFrom(mirror.Scheduled), nil, s.claimUpdate(session))
		return p, true, err
	}
	cur, err := s.Get(ctx, oid)
	if err == nil {
		s.remember(cur)
	}
	if errors.Is(err, mirror.ErrNotFound) || (err == nil && cur.ProcessID != ref && cur.ID.Hex() != ref) {
		return nil, false, nil
	}
	if err != nil {
		return nil, true, err
	}
	if err := check(cur); err != nil {
		return nil, true, err
	}
	p, err := s.lockedCASFrom(ctx, cur, mirror.Scheduled, statesFrom(mirror.Scheduled), nil, s.claimUpdate(session))
	return p, true, err
}

// claimUpdate starts a run. It records the run's session here rather than
// when the body starts, as optio-core does: the value is the same, and a
// run's start (StartRun) knows only the document.
func (s *Store) claimUpdate(session *string) bson.D {
	return bson.D{{Key: "$set", Value: bson.D{
		{Key: "status", Value: mirror.Status{State: mirror.Scheduled}},
		{Key: "progress", Value: zeroProgress()},
		{Key: "log", Value: []mirror.LogEntry{mirror.NewLogEntry(s.now(), mirror.LevelEvent, MsgScheduled)}},
		{Key: "originatingSessionId", Value: session},
	}}}
}

// afterClaim deletes the previous run's descendants of a claimed process.
func (s *Store) afterClaim(ctx context.Context, p *mirror.Process) error {
	_, err := s.DeleteDescendants(ctx, p.ID)
	return err
}

// Start moves a scheduled process to running, stamping status.runningSince.
func (s *Store) Start(ctx context.Context, id bson.ObjectID) (*mirror.Process, error) {
	return s.StartClaimed(ctx, id, "")
}

// claimStampKey is the field a launch's claim stamps: the timestamp of the
// log entry it starts the log with (ClaimStamp).
const claimStampKey = "log.0.timestamp"

// ClaimStamp returns what identifies the claim that scheduled p's current
// run: the timestamp of the first entry of its log, which the claim wrote.
func ClaimStamp(p *mirror.Process) string {
	if len(p.Log) == 0 {
		return ""
	}
	return p.Log[0].Timestamp
}

// claimGuard is the cas condition that the document is still of the claim
// stamped claimStamp; none when it is empty.
func claimGuard(claimStamp string) bson.D {
	if claimStamp == "" {
		return nil
	}
	return bson.D{{Key: claimStampKey, Value: claimStamp}}
}

// StartClaimed is Start, for the run of the claim stamped claimStamp
// (ClaimStamp of the claimed document; empty: any). A document claimed
// again since, by a later launch, is not started: a conflict, as if it were
// in another state. That later launch's run starts it.
func (s *Store) StartClaimed(ctx context.Context, id bson.ObjectID, claimStamp string) (*mirror.Process, error) {
	now := s.now()
	return s.cas(ctx, id, mirror.Running, []mirror.State{mirror.Scheduled}, claimGuard(claimStamp), s.setPush(bson.D{
		{Key: "status.state", Value: mirror.Running},
		{Key: "status.runningSince", Value: now},
	}, mirror.NewLogEntry(now, mirror.LevelEvent, MsgRunning)))
}

// RequestCancel moves a running process to cancel_requested. Of two concurrent
// requests exactly one succeeds.
func (s *Store) RequestCancel(ctx context.Context, id bson.ObjectID) (*mirror.Process, error) {
	return s.cas(ctx, id, mirror.CancelRequested, []mirror.State{mirror.Running}, nil, bson.D{{Key: "$set", Value: bson.D{
		{Key: "status.state", Value: mirror.CancelRequested},
	}}})
}

// AckCancel moves a cancel_requested process to cancelling: the executor has
// seen the request and delivered it to the body.
func (s *Store) AckCancel(ctx context.Context, id bson.ObjectID) (*mirror.Process, error) {
	return s.cas(ctx, id, mirror.Cancelling, []mirror.State{mirror.CancelRequested}, nil, bson.D{{Key: "$set", Value: bson.D{
		{Key: "status.state", Value: mirror.Cancelling},
	}}})
}

// CancelScheduled moves a scheduled process (whose body has not started)
// straight to cancelled.
func (s *Store) CancelScheduled(ctx context.Context, id bson.ObjectID) (*mirror.Process, error) {
	return s.CancelScheduledClaimed(ctx, id, "")
}

// CancelScheduledClaimed is CancelScheduled for the run of the claim
// stamped claimStamp, as StartClaimed is Start's.
func (s *Store) CancelScheduledClaimed(ctx context.Context, id bson.ObjectID, claimStamp string) (*mirror.Process, error) {
	return s.cas(ctx, id, mirror.Cancelled, []mirror.State{mirror.Scheduled}, claimGuard(claimStamp), bson.D{{Key: "$set", Value: bson.D{
		{Key: "status.state", Value: mirror.Cancelled},
		{Key: "status.stoppedAt", Value: s.now()},
	}}})
}

// Complete moves a running process to done, with doneAt and the run's duration
// in seconds (rounded to 10 ms, as optio-core does). runningSince is the
// run's start as StartRun recorded it; a zero value makes Complete read it.
func (s *Store) Complete(ctx context.Context, id bson.ObjectID, runningSince time.Time) (*mirror.Process, error) {
	if runningSince.IsZero() {
		cur, err := s.Get(ctx, id)
		if err != nil {
			return nil, err
		}
		if cur.Status.RunningSince != nil {
			runningSince = *cur.Status.RunningSince
		}
	}
	now := s.now()
	set := bson.D{{Key: "status.state", Value: mirror.Done}, {Key: "status.doneAt", Value: now}}
	var guard bson.D
	if !runningSince.IsZero() {
		set = append(set, bson.E{Key: "status.duration", Value: math.Round(now.Sub(runningSince).Seconds()*100) / 100})
		guard = bson.D{{Key: "status.runningSince", Value: runningSince}}
	}
	return s.cas(ctx, id, mirror.Done, []mirror.State{mirror.Running}, guard, s.setPush(set, mirror.NewLogEntry(now, mirror.LevelEvent, MsgDone)))
}

// Cancelled moves a process whose body returned after a cancel to cancelled.
// A process still running or cancel_requested (a cancel the body saw before the
// mirror did, as at shutdown) is walked through cancel_requested and cancelling
// first, so every write is an allowed edge.
func (s *Store) Cancelled(ctx context.Context, id bson.ObjectID) (*mirror.Process, error) {
	// Usually the workflow has moved it to cancelling already: one write.
	p, err := s.cancelledFromCancelling(ctx, id)
	var conflict *mirror.ConflictError
	if !errors.As(err, &conflict) || (conflict.Current != mirror.Running && conflict.Current != mirror.CancelRequested) {
		return p, err
	}
	if _, err := s.RequestCancel(ctx, id); err != nil && !errors.Is(err, mirror.ErrConflict) {
		return nil, err
	}
	if _, err := s.AckCancel(ctx, id); err != nil && !errors.Is(err, mirror.ErrConflict) {
		return nil, err
	}
	return s.cancelledFromCancelling(ctx, id)
}

func (s *Store) cancelledFromCancelling(ctx context.Context, id bson.ObjectID) (*mirror.Process, error) {
	now := s.now()
	return s.cas(ctx, id, mirror.Cancelled, []mirror.State{mirror.Cancelling}, nil, s.setPush(bson.D{
		{Key: "status.state", Value: mirror.Cancelled},
		{Key: "status.stoppedAt", Value: now},
	}, mirror.NewLogEntry(now, mirror.LevelEvent, MsgCancelled)))
}

// Fail moves an active process to failed with the given error text. The log
// gets an "error" entry with the text (as optio-core writes for a raising
// body) unless entries are given, in which case those are appended instead.
func (s *Store) Fail(ctx context.Context, id bson.ObjectID, errText string, entries ...mirror.LogEntry) (*mirror.Process, error) {
	if len(entries) == 0 {
		entries = []mirror.LogEntry{mirror.NewLogEntry(s.now(), mirror.LevelError, errText)}
	}
	return s.fail(ctx, id, errText, entries)
}

// FailUnlogged is Fail with nothing added to the log, as optio-core fails a
// run whose execute function it cannot find.
func (s *Store) FailUnlogged(ctx context.Context, id bson.ObjectID, errText string) (*mirror.Process, error) {
	return s.fail(ctx, id, errText, nil)
}

func (s *Store) fail(ctx context.Context, id bson.ObjectID, errText string, entries []mirror.LogEntry) (*mirror.Process, error) {
	now := s.now()
	return s.cas(ctx, id, mirror.Failed, statesFrom(mirror.Failed), nil, s.setPush(bson.D{
		{Key: "status.state", Value: mirror.Failed},
		{Key: "status.error", Value: errText},
		{Key: "status.failedAt", Value: now},
	}, entries...))
}

// Dismiss resets an ended process (done, failed, cancelled) to idle: the
// status timestamps, progress and log are cleared and all descendants deleted.
func (s *Store) Dismiss(ctx context.Context, id bson.ObjectID) (*mirror.Process, error) {
	p, err := s.cas(ctx, id, mirror.Idle, statesFrom(mirror.Idle), nil, bson.D{{Key: "$set", Value: bson.D{
		{Key: "status", Value: mirror.Status{State: mirror.Idle}},
		{Key: "progress", Value: zeroProgress()},
		{Key: "log", Value: []mirror.LogEntry{}},
	}}})
	if err != nil {
		return nil, err
	}
	if _, err := s.DeleteDescendants(ctx, id); err != nil {
		return p, err
	}
	return p, nil
}

// AppendLog appends entries to a process's log whatever its state.
func (s *Store) AppendLog(ctx context.Context, id bson.ObjectID, entries ...mirror.LogEntry) error {
	if len(entries) == 0 {
		return nil
	}
	unlock := s.lockDoc(id)
	defer unlock()
	release, err := s.gateWrite(ctx)
	if err != nil {
		return err
	}
	_, err = s.procs.UpdateOne(ctx, bson.D{{Key: "_id", Value: id}}, bson.D{s.pushLog(entries)})
	release()
	if err != nil {
		return fmt.Errorf("append log to %s: %w", id.Hex(), err)
	}
	s.afterPush(ctx, id, entries)
	return nil
}

// AppendLogOnce appends entries that are stamped already to a process's
// log, unless the log holds them already, in a row: a retry of a write that
// landed writes nothing again. The entries of one call land together or not
// at all. The common case costs one update, which appends unless some
// entry has the first one's timestamp and some entry its message; where
// they have, the log is read to tell a retry from an entry written in the
// same millisecond. A run the log's bounds have cut since is written again.
func (s *Store) AppendLogOnce(ctx context.Context, id bson.ObjectID, entries ...mirror.LogEntry) error {
	if len(entries) == 0 {
		return nil
	}
	unlock := s.lockDoc(id)
	defer unlock()
	push := func(filter bson.D) (bool, error) {
		release, err := s.gateWrite(ctx)
		if err != nil {
			return false, err
		}
		res, err := s.procs.UpdateOne(ctx, filter, bson.D{s.pushLog(entries)})
		release()
		if err != nil {
			return false, fmt.Errorf("append log to %s: %w", id.Hex(), err)
		}
		if res.ModifiedCount > 0 {
			s.afterPush(ctx, id, entries)
		}
		return res.MatchedCount > 0, nil
	}
	byID := bson.D{{Key: "_id", Value: id}}
	// $nor rather than $ne: FerretDB's $ne on a path through an array
	// matches where any element differs (seen), not where none is equal;
	// and it matches no element equal to a whole entry (seen), nor does it
	// know $elemMatch there. The two paths may match in two entries, so
	// the update skips where some entry has the first one's timestamp and
	// some its message: rare (entries stamped in one millisecond, as a
	// batch of inserts stamps them, differ in their children's names),
	// and then the read below decides.
	noneAtFirst := bson.E{Key: "$nor", Value: bson.A{bson.D{
		{Key: "log.timestamp", Value: entries[0].Timestamp},
		{Key: "log.message", Value: entries[0].Message},
	}}}
	if done, err := push(bson.D{byID[0], noneAtFirst}); done || err != nil {
		return err
	}
	p, err := s.Get(ctx, id)
	if errors.Is(err, mirror.ErrNotFound) {
		return nil
	}
	if err != nil {
		return err
	}
	if holdsRun(p.Log, entries) {
		return nil
	}
	_, err = push(byID)
	return err
}

// holdsRun reports whether log holds run, entry for entry, in a row.
func holdsRun(log, run []mirror.LogEntry) bool {
	same := func(a, b mirror.LogEntry) bool {
		return a.Timestamp == b.Timestamp && a.Level == b.Level && a.Message == b.Message
	}
	for i := 0; i+len(run) <= len(log); i++ {
		k := 0
		for k < len(run) && same(log[i+k], run[k]) {
			k++
		}
		if k == len(run) {
			return true
		}
	}
	return false
}

// Now returns the store's clock reading (UTC, millisecond precision, as Mongo
// stores dates).
func (s *Store) Now() time.Time { return s.now() }
