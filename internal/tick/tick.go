// Package tick runs periodic work: the passes of background loops that act
// every interval until their context ends.
package tick

import (
	"context"
	"time"
)

// Every calls pass every interval until ctx ends; the first call comes one
// interval after the start. A pass that outlasts the interval delays the
// next rather than stacking calls.
func Every(ctx context.Context, interval time.Duration, pass func()) {
	t := time.NewTicker(interval)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
			pass()
		}
	}
}

// Paced calls pass until ctx ends, the first time after first and each
// next time after the wait the previous call returned (at once when it is
// zero or negative): for loops whose pace depends on what a pass found.
func Paced(ctx context.Context, first time.Duration, pass func() time.Duration) {
	t := time.NewTimer(first)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
			t.Reset(pass())
		}
	}
}
