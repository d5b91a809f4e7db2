package activities

import "errors"

// ErrCancelRequested is the cause of a body context cancelled because the
// process was cancelled.
var ErrCancelRequested = errors.New("process cancellation requested")

// ErrShutdown is the cause of a body context cancelled because the engine is
// shutting down.
var ErrShutdown = errors.New("engine shutting down")

// ErrNoExecute is returned by a BodyRunner that holds no execute function for
// the process. Its text is optio-core's, written to status.error as it is.
//
//lint:ignore ST1005 optio-core's exact status.error text
var ErrNoExecute = errors.New("No execute function found")
