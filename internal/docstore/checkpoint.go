package docstore

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"sync"
	"sync/atomic"
	"time"

	"go.mongodb.org/mongo-driver/v2/bson"
	"go.mongodb.org/mongo-driver/v2/mongo"
	"go.mongodb.org/mongo-driver/v2/mongo/options"

	"github.com/optio-temporal/optio/mirror"
)

// A process's checkpoint (the small JSON value its body saves to continue
// from) lives in a side collection, {prefix}_checkpoints, one document per
// process keyed by the process's _id, rather than in the process document:
// the process documents keep optio-core's schema field for field, and a
// checkpoint outlives the run that saved it. Whatever deletes a process
// document deletes its checkpoint (DeleteTree, DeleteDescendants,
// DeleteAll).

// checkpointsSuffix names the side collection: {prefix}_checkpoints.
const checkpointsSuffix = "_checkpoints"

// CheckpointRecord is a process's document in {prefix}_checkpoints.
type CheckpointRecord struct {
	ID bson.ObjectID `bson:"_id"`
	// Seq and Data are the checkpoint; Data is the JSON text, empty when
	// none was saved (a resume was prepared for a process whose
	// hasSavedState was marked without a checkpoint).
	Seq  int64  `bson:"seq"`
	Data string `bson:"data"`
	// SavedAt is when the checkpoint was written.
	SavedAt time.Time `bson:"savedAt"`
	// Resume is set by a launch that resumes the process, so that its body
	// knows it continues; a fresh launch deletes the record.
	Resume bool `bson:"resume"`
}

// Checkpoint returns the record's checkpoint, nil when it holds none.
func (r *CheckpointRecord) Checkpoint() *mirror.Checkpoint {
	if r == nil || r.Data == "" {
		return nil
	}
	return &mirror.Checkpoint{Seq: r.Seq, Data: json.RawMessage(r.Data)}
}

// LoadCheckpoint returns the checkpoint record of process id, nil when it
// has none.
func (s *Store) LoadCheckpoint(ctx context.Context, id bson.ObjectID) (*CheckpointRecord, error) {
	var r CheckpointRecord
	err := s.checkpoints.FindOne(ctx, bson.D{{Key: "_id", Value: id}}).Decode(&r)
	if errors.Is(err, mongo.ErrNoDocuments) {
		return nil, nil
	}
	if err != nil {
		return nil, fmt.Errorf("read checkpoint of %s: %w", id.Hex(), err)
	}
	return &r, nil
}

// SaveCheckpoint writes process id's checkpoint, keeping the record's
// resume mark.
func (s *Store) SaveCheckpoint(ctx context.Context, id bson.ObjectID, cp mirror.Checkpoint) error {
	release, err := s.gateWrite(ctx)
	if err != nil {
		return err
	}
	defer release()
	_, err = s.checkpoints.UpdateOne(ctx, bson.D{{Key: "_id", Value: id}}, bson.D{{Key: "$set", Value: bson.D{
		{Key: "seq", Value: cp.Seq},
		{Key: "data", Value: string(cp.Data)},
		{Key: "savedAt", Value: s.now()},
	}}}, options.UpdateOne().SetUpsert(true))
	if err != nil {
		return fmt.Errorf("write checkpoint of %s: %w", id.Hex(), err)
	}
	return nil
}

// MarkResume records that the run about to start resumes process id.
func (s *Store) MarkResume(ctx context.Context, id bson.ObjectID) error {
	release, err := s.gateWrite(ctx)
	if err != nil {
		return err
	}
	defer release()
	_, err = s.checkpoints.UpdateOne(ctx, bson.D{{Key: "_id", Value: id}},
		bson.D{{Key: "$set", Value: bson.D{{Key: "resume", Value: true}}}}, options.UpdateOne().SetUpsert(true))
	if err != nil {
		return fmt.Errorf("mark resume of %s: %w", id.Hex(), err)
	}
	return nil
}

// ClearSavedState deletes process id's checkpoint and sets its
// hasSavedState to false (a top-level process only).
func (s *Store) ClearSavedState(ctx context.Context, id bson.ObjectID) error {
	if err := s.deleteCheckpoints(ctx, id); err != nil {
		return err
	}
	return s.SetHasSavedState(ctx, id, false)
}

// SetHasSavedState sets hasSavedState on a top-level process; a child
// process (which has no such field) is left alone.
func (s *Store) SetHasSavedState(ctx context.Context, id bson.ObjectID, v bool) error {
	return s.setRootFlag(ctx, id, "hasSavedState", v)
}

// SetAutoResumeScheduled sets autoResumeScheduled on a top-level process
// and appends entries to its log in the same write.
func (s *Store) SetAutoResumeScheduled(ctx context.Context, id bson.ObjectID, v bool, entries ...mirror.LogEntry) error {
	return s.setRootFlag(ctx, id, "autoResumeScheduled", v, entries...)
}

func (s *Store) setRootFlag(ctx context.Context, id bson.ObjectID, key string, v bool, entries ...mirror.LogEntry) error {
	unlock := s.lockDoc(id)
	defer unlock()
	// The filter is _id alone (FerretDB scans on any other), so the
	// parentId check is made on the document as read.
	var err error
	cur := s.knownHead(id)
	if cur == nil {
		cur, err = s.Get(ctx, id)
	}
	if errors.Is(err, mirror.ErrNotFound) {
		return nil
	}
	if err != nil {
		return err
	}
	if cur.ParentID != nil {
		return nil
	}
	_, err = s.updateByID(ctx, id, s.setPush(bson.D{{Key: key, Value: v}}, entries...))
	if err != nil && !errors.Is(err, mirror.ErrNotFound) {
		return fmt.Errorf("set %s of %s: %w", key, id.Hex(), err)
	}
	return nil
}

// AutoResumeScheduled returns the top-level processes whose
// autoResumeScheduled is true.
func (s *Store) AutoResumeScheduled(ctx context.Context) ([]mirror.Process, error) {
	cur, err := s.procs.Find(ctx, bson.D{{Key: "autoResumeScheduled", Value: true}, {Key: "parentId", Value: nil}})
	if err != nil {
		return nil, fmt.Errorf("find processes scheduled for auto-resume: %w", err)
	}
	out := []mirror.Process{}
	if err := cur.All(ctx, &out); err != nil {
		return nil, fmt.Errorf("find processes scheduled for auto-resume: %w", err)
	}
	return out, nil
}

func (s *Store) deleteCheckpoints(ctx context.Context, ids ...bson.ObjectID) error {
	var err error
	switch len(ids) {
	case 0:
		return nil
	case 1:
		_, err = s.checkpoints.DeleteOne(ctx, bson.D{{Key: "_id", Value: ids[0]}})
	default:
		_, err = s.checkpoints.DeleteMany(ctx, bson.D{{Key: "_id", Value: bson.D{{Key: "$in", Value: ids}}}})
	}
	if err != nil {
		return fmt.Errorf("delete checkpoints: %w", err)
	}
	return nil
}

// CheckpointBuffer keeps a body's latest checkpoint and writes it to Mongo
// at most once per interval, as ProgressBuffer does progress: Save never
// blocks on Mongo, and saves in between coalesce into one write. The first
// write also marks the process's hasSavedState. Close makes the final write.
type CheckpointBuffer struct {
	store    *Store
	id       bson.ObjectID
	interval time.Duration

	mu        sync.Mutex
	latest    *mirror.Checkpoint
	dirty     bool
	marked    bool
	lastError error

	wake    chan struct{}
	stop    chan struct{}
	stopped chan struct{}
	once    sync.Once
	writes  atomic.Int64
	flushMu sync.Mutex
}

// NewCheckpointBuffer starts a buffer for process id; interval <= 0 means
// 100 ms.
func NewCheckpointBuffer(store *Store, id bson.ObjectID, interval time.Duration) *CheckpointBuffer {
	if interval <= 0 {
		interval = 100 * time.Millisecond
	}
	b := &CheckpointBuffer{
		store: store, id: id, interval: interval,
		wake:    make(chan struct{}, 1),
		stop:    make(chan struct{}),
		stopped: make(chan struct{}),
	}
	go b.loop()
	return b
}

// Save records cp as the latest checkpoint.
func (b *CheckpointBuffer) Save(cp mirror.Checkpoint) {
	b.mu.Lock()
	b.latest = &cp
	b.dirty = true
	b.mu.Unlock()
	select {
	case b.wake <- struct{}{}:
	default:
	}
}

// Forget drops the pending checkpoint, and the buffer's knowledge that it
// marked hasSavedState, after the body cleared its saved state: the next
// save writes the flag again.
func (b *CheckpointBuffer) Forget() {
	b.flushMu.Lock()
	defer b.flushMu.Unlock()
	b.mu.Lock()
	defer b.mu.Unlock()
	b.latest, b.dirty, b.marked = nil, false, false
}

// Writes returns how many Mongo writes the buffer has made (the
// hasSavedState mark included).
func (b *CheckpointBuffer) Writes() int64 { return b.writes.Load() }

func (b *CheckpointBuffer) loop() {
	defer close(b.stopped)
	flushEvery(b.stop, b.wake, b.interval, func() { _ = b.Flush(context.Background()) })
}

// Flush writes the pending checkpoint now and returns the write's error.
func (b *CheckpointBuffer) Flush(ctx context.Context) error {
	b.flushMu.Lock()
	defer b.flushMu.Unlock()
	b.mu.Lock()
	cp, dirty, marked := b.latest, b.dirty, b.marked
	b.dirty = false
	b.mu.Unlock()
	if !dirty || cp == nil {
		return nil
	}
	err := b.write(ctx, *cp, marked)
	b.mu.Lock()
	defer b.mu.Unlock()
	if err != nil {
		b.lastError = err
		if b.latest == cp {
			b.dirty = true // a later flush tries again
		}
		return err
	}
	b.marked = true
	return nil
}

func (b *CheckpointBuffer) write(ctx context.Context, cp mirror.Checkpoint, marked bool) error {
	// The flag first: a checkpoint without its flag could be deleted by a
	// fresh launch that did not know of it.
	if !marked {
		b.writes.Add(1)
		if err := b.store.SetHasSavedState(ctx, b.id, true); err != nil {
			return err
		}
	}
	b.writes.Add(1)
	return b.store.SaveCheckpoint(ctx, b.id, cp)
}

// Close stops the buffer and writes whatever is still pending. It returns
// the last write error, if any; it is idempotent.
func (b *CheckpointBuffer) Close(ctx context.Context) error {
	var err error
	b.once.Do(func() {
		close(b.stop)
		<-b.stopped
		err = b.Flush(ctx)
	})
	if err != nil {
		return err
	}
	b.mu.Lock()
	defer b.mu.Unlock()
	if b.dirty {
		return b.lastError
	}
	return nil
}
