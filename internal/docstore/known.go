package docstore

import (
	"sync"

	"go.mongodb.org/mongo-driver/v2/bson"

	"github.com/optio-temporal/optio/mirror"
)

// known is what a solo store (see lease.go) learnt of documents from its own
// reads and writes in the current solo period: each document's head (the
// document without its log) as last read or written, and whether it is
// known to have no children. A compare-and-set whose cached head allows the
// move writes at once, without reading the document first; one whose cached
// head refuses it reads the document again before refusing, so a cache that
// missed a write (made outside the engines' stores) can delay nothing but a
// refusal. On MongoDB, and on FerretDB with more than one engine, nothing is
// cached.
type known struct {
	mu    sync.Mutex
	epoch uint64
	docs  map[bson.ObjectID]knownDoc
}

// knownDoc is one cached document.
type knownDoc struct {
	// head is the document without its log; nil when only childless is
	// known.
	head *mirror.Process
	// childless is true when the document is known to have no children.
	childless bool
}

// knownCap bounds the cache; past it, entries are dropped at random.
const knownCap = 20_000

// at returns the entries of epoch, emptied when the epoch changed. The
// caller holds mu.
func (k *known) at(epoch uint64) map[bson.ObjectID]knownDoc {
	if k.docs == nil || k.epoch != epoch {
		k.docs = map[bson.ObjectID]knownDoc{}
		k.epoch = epoch
	}
	return k.docs
}

// update applies f to id's entry in epoch.
func (k *known) update(epoch uint64, id bson.ObjectID, f func(*knownDoc)) {
	k.mu.Lock()
	defer k.mu.Unlock()
	docs := k.at(epoch)
	d := docs[id]
	f(&d)
	if d.head == nil && !d.childless {
		delete(docs, id)
		return
	}
	if _, ok := docs[id]; !ok && len(docs) >= knownCap {
		n := knownCap / 10
		for drop := range docs {
			delete(docs, drop)
			if n--; n == 0 {
				break
			}
		}
	}
	docs[id] = d
}

func (k *known) get(epoch uint64, id bson.ObjectID) knownDoc {
	k.mu.Lock()
	defer k.mu.Unlock()
	return k.at(epoch)[id]
}

// reset forgets everything.
func (k *known) reset() {
	k.mu.Lock()
	defer k.mu.Unlock()
	k.docs = nil
}

// headOf returns p without its log, for the cache. It shares nothing
// mutable with p: the document a write returns is handed to callers (a
// Launch's outcome, a LaunchAndWait's result), who may change it.
func headOf(p *mirror.Process) *mirror.Process {
	h := *p
	h.Params = cloneMap(p.Params)
	h.Metadata = cloneMap(p.Metadata)
	// The first entry only: a launch's claim starts the log, and StartRun
	// checks it is still that launch's (StartClaimed).
	h.Log = nil
	if len(p.Log) > 0 {
		first := p.Log[0]
		first.Data = cloneMap(first.Data)
		h.Log = []mirror.LogEntry{first}
	}
	h.Description, h.Warning, h.OriginatingSessionID = clonePtr(p.Description), clonePtr(p.Warning), clonePtr(p.OriginatingSessionID)
	h.ParentID = clonePtr(p.ParentID)
	h.SupportsResume, h.HasSavedState, h.AutoResumeScheduled = clonePtr(p.SupportsResume), clonePtr(p.HasSavedState), clonePtr(p.AutoResumeScheduled)
	st := &h.Status
	st.Error, st.Duration = clonePtr(st.Error), clonePtr(st.Duration)
	st.RunningSince, st.DoneAt, st.FailedAt, st.StoppedAt = clonePtr(st.RunningSince), clonePtr(st.DoneAt), clonePtr(st.FailedAt), clonePtr(st.StoppedAt)
	h.Progress.Percent, h.Progress.Message = clonePtr(p.Progress.Percent), clonePtr(p.Progress.Message)
	return &h
}

// clonePtr returns a pointer to a copy of *v, nil for nil.
func clonePtr[T any](v *T) *T {
	if v == nil {
		return nil
	}
	c := *v
	return &c
}

// cloneMap deep-copies a decoded document's map (nil stays nil).
func cloneMap(m map[string]any) map[string]any {
	if m == nil {
		return nil
	}
	out := make(map[string]any, len(m))
	for k, v := range m {
		out[k] = cloneValue(v)
	}
	return out
}

// cloneValue deep-copies the containers the driver decodes a document's
// values into; other values (strings, numbers, times, IDs) are immutable
// or copied by value.
func cloneValue(v any) any {
	switch v := v.(type) {
	case map[string]any:
		return cloneMap(v)
	case bson.M:
		return bson.M(cloneMap(v))
	case bson.D:
		out := make(bson.D, len(v))
		for i, e := range v {
			out[i] = bson.E{Key: e.Key, Value: cloneValue(e.Value)}
		}
		return out
	case bson.A:
		return bson.A(cloneSlice(v))
	case []any:
		return cloneSlice(v)
	case bson.Binary:
		v.Data = append([]byte(nil), v.Data...)
		return v
	}
	return v
}

func cloneSlice(s []any) []any {
	if s == nil {
		return nil
	}
	out := make([]any, len(s))
	for i, v := range s {
		out[i] = cloneValue(v)
	}
	return out
}

// knownHead returns id's cached head (a copy), or nil.
func (s *Store) knownHead(id bson.ObjectID) *mirror.Process {
	epoch, ok := s.lease.solo()
	if !ok {
		return nil
	}
	d := s.known.get(epoch, id)
	if d.head == nil {
		return nil
	}
	h := *d.head
	return &h
}

// remember caches p as read or written by this store.
func (s *Store) remember(p *mirror.Process) {
	if epoch, ok := s.lease.solo(); ok && p != nil {
		h := headOf(p)
		s.known.update(epoch, p.ID, func(d *knownDoc) { d.head = h })
	}
}

// rememberNew caches p, just inserted by this store: it has no children.
func (s *Store) rememberNew(p *mirror.Process) {
	if epoch, ok := s.lease.solo(); ok {
		h := headOf(p)
		s.known.update(epoch, p.ID, func(d *knownDoc) { d.head, d.childless = h, true })
	}
}

// knownChildless reports whether id is known to have no children.
func (s *Store) knownChildless(id bson.ObjectID) bool {
	epoch, ok := s.lease.solo()
	return ok && s.known.get(epoch, id).childless
}

// setChildless records whether id is known to have no children. Marking a
// parent takes effect whether or not the store is solo, so that no period
// can keep a stale "childless".
func (s *Store) setChildless(id bson.ObjectID, childless bool) {
	if !childless {
		s.known.mu.Lock()
		if d, ok := s.known.docs[id]; ok {
			d.childless = false
			s.known.docs[id] = d
		}
		s.known.mu.Unlock()
		return
	}
	if epoch, ok := s.lease.solo(); ok {
		s.known.update(epoch, id, func(d *knownDoc) { d.childless = true })
	}
}

// forget drops what is cached of ids.
func (s *Store) forget(ids ...bson.ObjectID) {
	s.known.mu.Lock()
	defer s.known.mu.Unlock()
	for _, id := range ids {
		delete(s.known.docs, id)
	}
}
