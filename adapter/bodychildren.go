package adapter

import "sync"

// bodyChildren is a body's account of the children it starts: the groups
// it made and its runChild calls in progress. The body's return waits on it
// for the children it left running (ProcessContext.settle), then closes it,
// and a closed account refuses new children. Its zero value is ready.
type bodyChildren struct {
	mu     sync.Mutex
	idle   *sync.Cond // signalled when calls drops to zero; made on first wait
	groups []*ParallelGroup
	calls  int
	closed bool
}

// addGroup records a group the body made.
func (b *bodyChildren) addGroup(g *ParallelGroup) {
	b.mu.Lock()
	b.groups = append(b.groups, g)
	b.mu.Unlock()
}

// enter counts a runChild call; it reports false, counting nothing, once
// the account is closed.
func (b *bodyChildren) enter() bool {
	b.mu.Lock()
	defer b.mu.Unlock()
	if b.closed {
		return false
	}
	b.calls++
	return true
}

// leave ends a call that enter counted.
func (b *bodyChildren) leave() {
	b.mu.Lock()
	defer b.mu.Unlock()
	if b.calls--; b.calls == 0 && b.idle != nil {
		b.idle.Broadcast()
	}
}

// snapshot returns the groups made so far and the calls in progress.
func (b *bodyChildren) snapshot() ([]*ParallelGroup, int) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.groups, b.calls
}

// isClosed reports whether the account refuses new children.
func (b *bodyChildren) isClosed() bool {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.closed
}

// close refuses new children from now on; with drain, once the calls in
// progress have ended.
func (b *bodyChildren) close(drain bool) {
	b.mu.Lock()
	defer b.mu.Unlock()
	if drain {
		if b.idle == nil {
			b.idle = sync.NewCond(&b.mu)
		}
		for b.calls > 0 {
			b.idle.Wait()
		}
	}
	b.closed = true
}
