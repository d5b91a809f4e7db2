package docstore

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"sync/atomic"
	"time"

	"go.mongodb.org/mongo-driver/v2/bson"

	"github.com/optio-temporal/optio/internal/textclip"
	"github.com/optio-temporal/optio/mirror"
)

// Avalanche detection, as in optio-core: a report with a message is in
// avalanche mode when, counting it, more than avalancheThreshold such
// reports were made within avalancheWindow.
const (
	avalancheThreshold = 10
	avalancheWindow    = 100 * time.Millisecond
)

// WriteProgress sets a running process's progress and appends entries to its
// log, but only while the process is still in the run that started at
// runningSince and is active. It reports whether the document was written.
func (s *Store) WriteProgress(ctx context.Context, id bson.ObjectID, runningSince time.Time, p mirror.Progress, entries []mirror.LogEntry) (bool, error) {
	active := []mirror.State{mirror.Running, mirror.CancelRequested, mirror.Cancelling}
	guard := bson.D{{Key: "status.runningSince", Value: runningSince}}
	filter := append(bson.D{{Key: "_id", Value: id}, {Key: "status.state", Value: bson.D{{Key: "$in", Value: active}}}}, guard...)
	unlock := s.lockDoc(id)
	defer unlock()
	upd := s.setPush(bson.D{{Key: "progress", Value: p}}, entries...)
	if s.locks != nil {
		// Check in Go, then write by _id alone (see lockedCAS), without
		// reading back a document whose log keeps growing.
		cur := s.knownHead(id)
		if cur == nil || !casAllows(cur, active, guard) {
			var err error
			if cur, err = s.getHead(ctx, id); errors.Is(err, mirror.ErrNotFound) {
				return false, nil
			} else if err != nil {
				return false, err
			}
			s.remember(cur)
		}
		if !casAllows(cur, active, guard) {
			return false, nil
		}
		filter = bson.D{{Key: "_id", Value: id}}
	}
	release, err := s.gateWrite(ctx)
	if err != nil {
		return false, err
	}
	res, err := s.procs.UpdateOne(ctx, filter, upd)
	release()
	if err != nil {
		return false, fmt.Errorf("write progress of %s: %w", id.Hex(), err)
	}
	if res.MatchedCount > 0 && len(entries) > 0 {
		s.afterPush(ctx, id, entries)
	}
	return res.MatchedCount > 0, nil
}

// ProgressBuffer batches a body's progress reports and writes them at most once
// per interval. Report never blocks on Mongo. Close performs the final flush.
//
// Which messages reach the log is decided as each is reported, as in
// optio-core: a report with a message counts in a window of the last 100 ms.
// While that window holds at most 10 such reports (counting this one), the
// message is queued for the log. Past that (an avalanche), the message is
// held instead, replacing the one held before, which is counted as dropped.
// The next queued message, or the next write, first logs what is held: a
// "(N messages dropped)" line when some were, then the held message. So a
// burst logs its first 10 messages, a summary and its last one, however the
// writes fall; a write in the middle of a long burst logs the summary and
// the message held so far.
type ProgressBuffer struct {
	store        *Store
	id           bson.ObjectID
	runningSince time.Time
	interval     time.Duration
	// onWrite, when set, hears of every write with its latency.
	onWrite func(took time.Duration, err error)

	mu     sync.Mutex
	latest mirror.Progress
	dirty  bool
	// queue is the log entries the next write appends, in order.
	queue []mirror.LogEntry
	// window holds the times of the latest reports with a message made
	// within avalancheWindow, oldest first; no more than
	// avalancheThreshold+1 of them, which is all it takes to tell.
	window []time.Time
	// held is the avalanche's latest message, not yet queued; dropped
	// counts the messages it replaced.
	held      *mirror.LogEntry
	dropped   int
	lastError error

	wake    chan struct{}
	stop    chan struct{}
	stopped chan struct{}
	once    sync.Once
	writes  atomic.Int64
	// flushMu keeps an explicit Flush and the loop's flush from writing
	// out of order.
	flushMu sync.Mutex
}

// NewProgressBuffer starts a buffer for the run of process id that began at
// runningSince. interval <= 0 means 100 ms. onWrite, when not nil, is called
// after each write to Mongo with its latency and error (for metrics).
func NewProgressBuffer(store *Store, id bson.ObjectID, runningSince time.Time, interval time.Duration, onWrite func(took time.Duration, err error)) *ProgressBuffer {
	if interval <= 0 {
		interval = 100 * time.Millisecond
	}
	b := &ProgressBuffer{
		store: store, id: id, runningSince: runningSince, interval: interval, onWrite: onWrite,
		latest:  zeroProgress(),
		wake:    make(chan struct{}, 1),
		stop:    make(chan struct{}),
		stopped: make(chan struct{}),
	}
	go b.loop()
	return b
}

// MaxMessageBytes bounds a progress message and a body's error text, as
// the document and the process's log keep them (the rest is cut, with a
// note of the full length): optio-core keeps them whole, and one message of
// megabytes then failed the process, its heartbeat past Temporal's payload
// limit (2 MB) or its document past MongoDB's (16 MB).
const MaxMessageBytes = 32 << 10

// Report records a progress update. percent nil means indeterminate; message
// nil leaves progress.message null and adds no log line, as in optio-core,
// and does not count towards avalanche detection. A message is clipped to
// MaxMessageBytes. A message reported when more than 10 reports with a
// message, this one included, fall within 100 ms is held rather than queued
// for the log (see ProgressBuffer).
func (b *ProgressBuffer) Report(percent *float64, message *string) {
	if message != nil && len(*message) > MaxMessageBytes {
		clipped := textclip.Clip(*message, MaxMessageBytes)
		message = &clipped
	}
	b.mu.Lock()
	b.latest = mirror.Progress{Percent: percent, Message: message}
	b.dirty = true
	if message != nil && *message != "" {
		now := b.store.now()
		e := mirror.NewLogEntry(now, mirror.LevelInfo, *message)
		if b.avalanche(now) {
			if b.held != nil {
				b.dropped++
			}
			b.held = &e
		} else {
			b.queueHeld()
			b.queue = append(b.queue, e)
		}
	}
	b.mu.Unlock()
	b.nudge()
}

// Log queues a log entry that is not a progress report (a refused child's
// event), stamped now and written with the next write, after the messages
// reported before it. It changes no progress and does not count towards
// avalanche detection. Like Report, it never blocks on Mongo, and what the
// buffer writes once the run has ended goes nowhere.
func (b *ProgressBuffer) Log(level mirror.Level, message string) {
	b.mu.Lock()
	b.queueHeld()
	b.queue = append(b.queue, mirror.NewLogEntry(b.store.now(), level, message))
	b.dirty = true
	b.mu.Unlock()
	b.nudge()
}

// nudge wakes the writer, unless a wake is pending already.
func (b *ProgressBuffer) nudge() {
	select {
	case b.wake <- struct{}{}:
	default:
	}
}

// Latest returns the most recent report.
func (b *ProgressBuffer) Latest() mirror.Progress {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.latest
}

// Writes returns how many Mongo writes the buffer has made.
func (b *ProgressBuffer) Writes() int64 { return b.writes.Load() }

func (b *ProgressBuffer) loop() {
	defer close(b.stopped)
	flushEvery(b.stop, b.wake, b.interval, func() {
		b.flushMu.Lock()
		b.flush(context.Background())
		b.flushMu.Unlock()
	})
}

// flushEvery calls flush after each wake, at most once per interval, until
// stop is closed: the write loop of ProgressBuffer and CheckpointBuffer.
func flushEvery(stop, wake <-chan struct{}, interval time.Duration, flush func()) {
	var last time.Time
	for {
		select {
		case <-stop:
			return
		case <-wake:
		}
		if wait := interval - time.Since(last); wait > 0 {
			t := time.NewTimer(wait)
			select {
			case <-stop:
				t.Stop()
				return
			case <-t.C:
			}
		}
		flush()
		last = time.Now()
	}
}

// avalanche adds a report with a message made at now to the window and
// reports whether the window then holds more than avalancheThreshold
// reports. b.mu is held.
func (b *ProgressBuffer) avalanche(now time.Time) bool {
	// Forget the reports older than the window (and, should the clock
	// have gone back, those after now).
	i := 0
	for i < len(b.window) && (now.Sub(b.window[i]) > avalancheWindow || now.Before(b.window[i])) {
		i++
	}
	b.window = append(b.window[i:], now)
	if n := len(b.window) - (avalancheThreshold + 1); n > 0 {
		b.window = b.window[n:]
	}
	return len(b.window) > avalancheThreshold
}

// queueHeld queues the held message, after a "(N messages dropped)" line
// (timestamped like it) when it replaced some. b.mu is held.
func (b *ProgressBuffer) queueHeld() {
	if b.held == nil {
		return
	}
	if b.dropped > 0 {
		b.queue = append(b.queue, mirror.LogEntry{Timestamp: b.held.Timestamp, Level: mirror.LevelInfo, Message: fmt.Sprintf("(%d messages dropped)", b.dropped)})
	}
	b.queue = append(b.queue, *b.held)
	b.held, b.dropped = nil, 0
}

// take removes what is pending: the latest progress and the log entries to
// append, the held message (with its summary) last.
func (b *ProgressBuffer) take() (mirror.Progress, []mirror.LogEntry, bool) {
	b.mu.Lock()
	defer b.mu.Unlock()
	if !b.dirty {
		return mirror.Progress{}, nil, false
	}
	b.queueHeld()
	entries := b.queue
	b.queue = nil
	b.dirty = false
	return b.latest, entries, true
}

func (b *ProgressBuffer) flush(ctx context.Context) {
	p, entries, ok := b.take()
	if !ok {
		return
	}
	b.writes.Add(1)
	start := time.Now()
	_, err := b.store.WriteProgress(ctx, b.id, b.runningSince, p, entries)
	if b.onWrite != nil {
		b.onWrite(time.Since(start), err)
	}
	if err != nil {
		b.mu.Lock()
		b.lastError = err
		b.mu.Unlock()
	}
}

// Flush writes whatever is pending now, so that log entries written next by
// someone else (a child's "Spawned child" entry) come after it.
func (b *ProgressBuffer) Flush(ctx context.Context) {
	b.flushMu.Lock()
	defer b.flushMu.Unlock()
	b.flush(ctx)
}

// Close stops the buffer and writes whatever is still pending (the final
// flush). It returns the last write error, if any. Close is idempotent.
func (b *ProgressBuffer) Close(ctx context.Context) error {
	b.once.Do(func() {
		close(b.stop)
		<-b.stopped
		b.flush(ctx)
	})
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.lastError
}
