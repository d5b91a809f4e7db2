package adapter

import (
	"context"
	"fmt"

	"github.com/optio-temporal/optio/adapter/internal/bodyhost"
)

// RunHosted runs fn as the body of a process whose context is backed by
// host rather than by an engine, and returns the state the process ends in
// (done, failed or cancelled, decided as the engine decides it) with the
// error fn returned (a panic becomes an error). It is the entry point of
// the test kit, package [github.com/optio-temporal/optio/adapter/optiotest],
// which is what to use: a host's type lives in a package internal to
// adapter, so only the kit can make one.
//
// The process is cancelled when ctx is; its context is ctx itself. A nil
// ctx, host or fn runs nothing: RunHosted returns an empty State and an
// error wrapping ErrInvalidInput.
func RunHosted(ctx context.Context, host bodyhost.Host[TaskFunc], fn TaskFunc) (State, error) {
	switch {
	case ctx == nil:
		return "", fmt.Errorf("%w: RunHosted: nil context", ErrInvalidInput)
	case host == nil:
		return "", fmt.Errorf("%w: RunHosted: nil host", ErrInvalidInput)
	case fn == nil:
		return "", fmt.Errorf("%w: RunHosted: nil TaskFunc", ErrInvalidInput)
	}
	pc := newProcessContext(ctx, host)
	err := pc.settle(callBody(fn, pc), nil)
	// As on the engine, a failed final write does not change the outcome
	// (the kit's never fails).
	_ = pc.closeCheckpoints(context.WithoutCancel(ctx))
	switch {
	case err != nil && stoppedByCancel(ctx, err):
		return StateCancelled, err
	case err != nil:
		return StateFailed, err
	case ctx.Err() != nil:
		return StateCancelled, nil
	}
	return StateDone, nil
}
