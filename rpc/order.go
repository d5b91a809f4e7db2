package rpc

import (
	"context"
	"encoding/json"
	"log/slog"
	"sync"
)

// OrderAll is the ordering key (see Service.OrderKey) of a call that must
// not overlap any other call of its service: it runs after every call the
// server took before it has finished, and every call taken after it waits
// until it has finished. Meanwhile the server reads no more calls of the
// service, so that other servers of its group answer them, as when the
// reference servers run a long call. An ordinary key that happens to equal
// OrderAll only orders more strictly, never less.
const OrderAll = "*"

// StreamOrder is an OrderKey that keys every call OrderAll: the service's
// calls run one at a time, in stream order, as on the reference servers,
// whatever ServerOptions.Concurrency says.
func StreamOrder(string, json.RawMessage) string { return OrderAll }

// sequencer orders the calls of one service that share a key. The server
// enters each entry it takes in the order it took it (stream order for the
// consumer loop); the entry's turn comes once every turn it follows has
// finished: the previous turn with its key, every earlier turn for an
// OrderAll key, and the newest unfinished OrderAll turn for any key.
type sequencer struct {
	mu      sync.Mutex
	live    map[*turn]struct{}
	last    map[string]*turn // newest unfinished turn of each key
	barrier *turn            // newest unfinished OrderAll turn
}

// turn is one entry's place in its service's order.
type turn struct {
	key   string
	after []<-chan struct{} // done channels of the turns it follows
	done  chan struct{}     // closed by leave
}

func newSequencer() *sequencer {
	return &sequencer{live: map[*turn]struct{}{}, last: map[string]*turn{}}
}

// enter places a call with key after those entered before it.
func (q *sequencer) enter(key string) *turn {
	t := &turn{key: key, done: make(chan struct{})}
	q.mu.Lock()
	defer q.mu.Unlock()
	if q.barrier != nil {
		t.after = append(t.after, q.barrier.done)
	}
	switch key {
	case "":
	case OrderAll:
		for other := range q.live {
			if other != q.barrier {
				t.after = append(t.after, other.done)
			}
		}
		q.barrier = t
	default:
		if prev := q.last[key]; prev != nil {
			t.after = append(t.after, prev.done)
		}
		q.last[key] = t
	}
	q.live[t] = struct{}{}
	return t
}

// leave ends t's turn, whether its call ran or not, so that the turns after
// it can come.
func (q *sequencer) leave(t *turn) {
	q.mu.Lock()
	delete(q.live, t)
	if q.last[t.key] == t {
		delete(q.last, t.key)
	}
	if q.barrier == t {
		q.barrier = nil
	}
	q.mu.Unlock()
	close(t.done)
}

// pendingAlone returns the done channel of the newest OrderAll turn not
// yet finished, or nil if there is none.
func (q *sequencer) pendingAlone() <-chan struct{} {
	q.mu.Lock()
	defer q.mu.Unlock()
	if q.barrier == nil {
		return nil
	}
	return q.barrier.done
}

// wait blocks until t's turn has come; it reports false if ctx ended first.
func (t *turn) wait(ctx context.Context) bool {
	for _, c := range t.after {
		select {
		case <-c:
		case <-ctx.Done():
			return false
		}
	}
	return true
}

// orderKey returns the key that orders a parsed entry: the service's
// OrderKey for a call of one of its methods, and "" (no order) for anything
// else, which is answered or dropped without running a handler. A panicking
// OrderKey orders the call OrderAll, the safe side.
func (svc *service) orderKey(env *envelope, log *slog.Logger) (key string) {
	if svc.order == nil || env == nil || env.service != svc.name ||
		(env.kind != kindRequest && env.kind != kindNotification) {
		return ""
	}
	if _, ok := svc.methods[env.method]; !ok {
		return ""
	}
	defer func() {
		if v := recover(); v != nil {
			log.Error("rpc: OrderKey panicked; the call runs alone", "method", env.method, "panic", v)
			key = OrderAll
		}
	}()
	return svc.order(env.method, env.params)
}
