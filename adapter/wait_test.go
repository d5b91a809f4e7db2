package adapter

import (
	"context"
	"errors"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
)

// A channel taken before a look is closed by the next change, and only by
// it; a later look gets a fresh one.
func TestChangesWakeTheWaitersOfTheirTime(t *testing.T) {
	var c changes
	first := c.next()
	require.Equal(t, first, c.next(), "one change for every waiter until it happens")
	select {
	case <-first:
		t.Fatal("closed before any change")
	default:
	}
	c.notify()
	<-first
	second := c.next()
	select {
	case <-second:
		t.Fatal("a look after the change waits for the next one")
	default:
	}
	c.notify()
	<-second
	c.notify() // with no waiter, nothing to close
}

// A wrapped activity notifies when it returns, with its result untouched.
func TestNotifyingActivity(t *testing.T) {
	var c changes
	boom := errors.New("boom")
	fn := notifying(&c, func(_ context.Context, n int) (int, error) { return n * 2, boom })
	woken := c.next()
	got, err := fn(context.Background(), 21)
	require.Equal(t, 42, got)
	require.ErrorIs(t, err, boom)
	<-woken
}

// settle returns once the claims in progress have ended, not before, and
// on its context when they do not end.
func TestClaimGateSettle(t *testing.T) {
	var g claimGate
	require.NoError(t, g.settle(context.Background()), "no claim in flight")

	leave := g.enter()
	settled := make(chan error, 1)
	go func() { settled <- g.settle(context.Background()) }()
	select {
	case err := <-settled:
		t.Fatalf("settled with a claim in flight: %v", err)
	case <-time.After(50 * time.Millisecond):
	}
	leave()
	require.NoError(t, <-settled)

	leave = g.enter()
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	require.ErrorIs(t, g.settle(ctx), context.Canceled)
	leave()
}

// Outcome stays comparable with ==, as callers may compare it with a value
// of their own: the watch of a launch that waits is held by pointer.
func TestOutcomeIsComparable(t *testing.T) {
	w := &endWatch{}
	waited := Outcome{OK: true, watch: w}
	require.True(t, waited == Outcome{OK: true, watch: w})
	require.False(t, waited == okOutcome(nil))
	require.True(t, failOutcome(ReasonNotFound) == failOutcome(ReasonNotFound))
}
