package tick

import (
	"context"
	"testing"
	"time"
)

// Paced waits first, then what each pass returned, and stops with ctx.
func TestPaced(t *testing.T) {
	ctx, cancel := context.WithCancel(t.Context())
	start := time.Now()
	var at []time.Duration
	done := make(chan struct{})
	go func() {
		defer close(done)
		Paced(ctx, 20*time.Millisecond, func() time.Duration {
			at = append(at, time.Since(start))
			if len(at) == 3 {
				cancel()
			}
			return 30 * time.Millisecond
		})
	}()
	select {
	case <-done:
	case <-time.After(10 * time.Second):
		t.Fatal("Paced did not return after its context ended")
	}
	if len(at) != 3 {
		t.Fatalf("passes: %v, want 3", at)
	}
	// Lower bounds only: a loaded machine makes the waits longer, never shorter.
	for i, want := range []time.Duration{20, 50, 80} {
		if at[i] < want*time.Millisecond {
			t.Errorf("pass %d at %v, before %v", i, at[i], want*time.Millisecond)
		}
	}
}
