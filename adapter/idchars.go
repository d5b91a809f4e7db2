package adapter

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"unicode/utf8"

	"go.temporal.io/api/serviceerror"

	"github.com/optio-temporal/optio/internal/headersafe"
	"github.com/optio-temporal/optio/internal/textclip"
)

// idProbe is the processId whose workflow New describes to learn whether
// the client sends IDs outside printable ASCII; no such workflow need
// exist.
const idProbe = "optio-id-probe-\u00e9"

// probeIDChars reports whether the engine's Temporal client carries workflow
// IDs outside printable ASCII. The SDK copies a call's workflow or Schedule
// ID into a gRPC header, which gRPC refuses, before the call leaves, to
// carry any other character, unless the client was dialled with
// temporalconn.EscapeResourceIDs. A probe the server answers (not found,
// as a rule) says the client can; the header's refusal says it cannot;
// anything else is logged and taken as cannot, which refuses such IDs
// rather than failing their runs.
func (e *Engine) probeIDChars(ctx context.Context) bool {
	_, err := e.cfg.Temporal.DescribeWorkflowExecution(ctx, e.WorkflowID(idProbe), "")
	var notFound *serviceerror.NotFound
	switch {
	case err == nil, errors.As(err, &notFound):
		return true
	case strings.Contains(err.Error(), "non-printable ASCII"):
		return false
	}
	e.log.Warn("Could not learn whether the Temporal client carries process IDs outside printable ASCII; refusing them", "error", err)
	return false
}

// checkIDChars returns an ErrInvalidInput error when processID cannot make a
// workflow ID: one that is not UTF-8 (Temporal's IDs are protobuf strings),
// or one outside printable ASCII when the client cannot send it
// (probeIDChars).
func (e *Engine) checkIDChars(processID string) error {
	if headersafe.Printable(processID) {
		return nil
	}
	if !utf8.ValidString(processID) {
		return fmt.Errorf("%w: process id %q is not valid UTF-8, which Temporal's workflow IDs must be",
			ErrInvalidInput, textclip.Clip(processID, 64))
	}
	if !e.unicodeIDs {
		return fmt.Errorf("%w: process id %q has a character outside printable ASCII, which this engine's Temporal client cannot send: its SDK copies workflow IDs into a gRPC header; dial the client with temporalconn.EscapeResourceIDs() in ConnectionOptions.DialOptions (temporalconn.Dial adds it)",
			ErrInvalidInput, textclip.Clip(processID, 64))
	}
	return nil
}
