package adapter

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"time"
	"unicode/utf8"

	"go.temporal.io/api/serviceerror"

	"github.com/optio-temporal/optio/internal/headersafe"
	"github.com/optio-temporal/optio/internal/textclip"
)

// idProbe is the processId whose workflow the engine describes to learn
// whether its client sends IDs outside printable ASCII; no such workflow
// need exist.
const idProbe = "optio-id-probe-\u00e9"

// What the engine knows of its client's IDs (Engine.idChars).
const (
	idCharsUnknown int32 = iota // not asked yet, or the probe failed
	idCharsAny                  // any UTF-8 reaches the server
	idCharsASCII                // only printable ASCII does
)

// probeIDChars learns whether the engine's Temporal client carries workflow
// IDs outside printable ASCII, and records it in e.idChars. The SDK copies
// a call's workflow or Schedule ID into a gRPC header, which gRPC refuses,
// before the call leaves, to carry any other character, unless the client
// was dialled with temporalconn.EscapeResourceIDs. A probe the server
// answers (not found, as a rule) says the client can; the header's refusal
// says it cannot. Any other failure leaves it unknown and is returned;
// checkIDChars asks again when it next needs to know.
func (e *Engine) probeIDChars(ctx context.Context) (int32, error) {
	_, err := e.cfg.Temporal.DescribeWorkflowExecution(ctx, e.WorkflowID(idProbe), "")
	var notFound *serviceerror.NotFound
	var denied *serviceerror.PermissionDenied
	known := idCharsUnknown
	switch {
	case err == nil, errors.As(err, &notFound), errors.As(err, &denied):
		known = idCharsAny
	case strings.Contains(err.Error(), "non-printable ASCII"):
		known = idCharsASCII
	default:
		return known, fmt.Errorf("could not learn whether the Temporal client sends workflow IDs outside printable ASCII: %w", err)
	}
	e.idChars.Store(known)
	return known, nil
}

// idProbeTimeout bounds a probe that checkIDChars makes.
const idProbeTimeout = 10 * time.Second

// checkIDChars returns an ErrInvalidInput error when processID cannot make a
// workflow ID: one that is not UTF-8 (Temporal's IDs are protobuf strings),
// or one outside printable ASCII when the client cannot send it. When that
// is still unknown it probes again, and returns the probe's failure.
func (e *Engine) checkIDChars(processID string) error {
	if headersafe.Printable(processID) {
		return nil
	}
	if !utf8.ValidString(processID) {
		return fmt.Errorf("%w: process id %q is not valid UTF-8, which Temporal's workflow IDs must be",
			ErrInvalidInput, textclip.Clip(processID, 64))
	}
	known := e.idChars.Load()
	if known == idCharsUnknown {
		ctx, cancel := context.WithTimeout(context.Background(), idProbeTimeout)
		var err error
		known, err = e.probeIDChars(ctx)
		cancel()
		if err != nil {
			return fmt.Errorf("process id %q: %w", textclip.Clip(processID, 64), err)
		}
	}
	if known != idCharsAny {
		return fmt.Errorf("%w: process id %q has a character outside printable ASCII, which this engine's Temporal client cannot send: its SDK copies workflow IDs into a gRPC header; dial the client with temporalconn.EscapeResourceIDs() in ConnectionOptions.DialOptions (temporalconn.Dial adds it)",
			ErrInvalidInput, textclip.Clip(processID, 64))
	}
	return nil
}
