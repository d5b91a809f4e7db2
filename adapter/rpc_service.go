package adapter

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"

	"github.com/optio-temporal/optio/rpc"
)

// EngineService is the clamator service name of the optio-engine contract.
const EngineService = "optio-engine"

// The optio-engine contract's params, decoded as strictly as optio-core's
// generated models decode them: unknown keys, missing required keys and
// wrong JSON types are -32602, and null counts as absent for optional keys
// (Python clients send every optional key, as null when unset).

type launchParams struct {
	ProcessID string `json:"processId"`
	Resume    *bool  `json:"resume"`
	// SessionID's key must be present (string or null). It becomes the
	// run's originatingSessionId.
	SessionID *string `json:"sessionId" rpc:"required"`
}

type processIDParams struct {
	ProcessID string `json:"processId"`
}

type resyncParams struct {
	Clean          *bool       `json:"clean"`
	MetadataFilter *wireFilter `json:"metadataFilter"`
}

type groupCancelParams struct {
	MetadataFilter   wireFilter `json:"metadataFilter"`
	BlockNewLaunches *bool      `json:"blockNewLaunches"`
	Persist          *bool      `json:"persist"`
	Reason           *string    `json:"reason"`
	PurgeRecords     *bool      `json:"purgeRecords"`
}

type blockParams struct {
	LaunchFilter launchFilter `json:"launchFilter"`
	Reason       *string      `json:"reason"`
}

type unblockParams struct {
	LaunchFilter launchFilter `json:"launchFilter"`
}

// The contract's results, in its key order.

type processResult struct {
	OK      bool            `json:"ok"`
	Process json.RawMessage `json:"process"`
}

type reasonResult struct {
	OK     bool   `json:"ok"`
	Reason Reason `json:"reason"`
}

type countResult struct {
	OK             bool `json:"ok"`
	CancelledCount int  `json:"cancelledCount"`
}

type okResult struct {
	OK bool `json:"ok"`
}

type removedResult struct {
	Removed int `json:"removed"`
}

// pyError names an error the way optio-core's exception would be named in
// the -32603 data ({"name": "ValueError", "message": ...}).
type pyError struct {
	name string
	err  error
}

func (e *pyError) Error() string     { return e.err.Error() }
func (e *pyError) ErrorName() string { return e.name }
func (e *pyError) Unwrap() error     { return e.err }

// wireError maps an engine error to the RPC error optio-core sends for it:
// bad input is its ValueError, a group cancel that outwaits its ceiling its
// TimeoutError; anything else is an internal error named by its type.
func wireError(err error) error {
	switch {
	case errors.Is(err, ErrInvalidInput):
		return &pyError{name: "ValueError", err: err}
	case errors.Is(err, errStillActive):
		return &pyError{name: "TimeoutError", err: err}
	}
	return err
}

// engineService adapts the Engine to the optio-engine contract.
type engineService struct{ e *Engine }

func (s engineService) service() rpc.Service {
	return rpc.Service{Name: EngineService, Methods: []rpc.Method{
		{Name: "launch", Handler: rpc.Typed(s.launch)},
		{Name: "cancel", Handler: rpc.Typed(s.cancel)},
		{Name: "dismiss", Handler: rpc.Typed(s.dismiss)},
		{Name: "resync", Kind: rpc.Notification, Handler: rpc.TypedNotification(s.resync)},
		{Name: "groupCancel", Handler: rpc.Typed(s.groupCancel)},
		{Name: "groupCancelAndWait", Handler: rpc.Typed(s.groupCancelAndWait)},
		{Name: "blockLaunches", Handler: rpc.Typed(s.blockLaunches)},
		{Name: "unblockLaunches", Handler: rpc.Typed(s.unblockLaunches)},
		{Name: "materializeUpload", Handler: rpc.Typed(s.materializeUpload)},
	}}
}

// checkProcessID enforces the contract's min length of 1.
func checkProcessID(id string) error {
	if id != "" {
		return nil
	}
	return rpc.InvalidParams(rpc.FieldError{
		Type:  "string_too_short",
		Loc:   []any{"processId"},
		Msg:   "String should have at least 1 character",
		Input: "",
		Ctx:   map[string]any{"min_length": 1},
	})
}

func (s engineService) launch(ctx context.Context, p launchParams) (any, error) {
	if err := checkProcessID(p.ProcessID); err != nil {
		return nil, err
	}
	var opts []LaunchOption
	if p.Resume != nil && *p.Resume {
		// optio-core's order: shutting-down, not-found, not-launchable,
		// no-resume-support, launch-blocked; Launch checks them so.
		opts = append(opts, WithResume())
	}
	if p.SessionID != nil {
		opts = append(opts, WithSessionID(*p.SessionID))
	}
	out, err := s.e.Launch(ctx, p.ProcessID, opts...)
	if err != nil {
		return nil, wireError(err)
	}
	return outcomeResult("launch", p.ProcessID, out)
}

func (s engineService) cancel(ctx context.Context, p processIDParams) (any, error) {
	if err := checkProcessID(p.ProcessID); err != nil {
		return nil, err
	}
	out, err := s.e.Cancel(ctx, p.ProcessID)
	if err != nil {
		return nil, wireError(err)
	}
	return outcomeResult("cancel", p.ProcessID, out)
}

func (s engineService) dismiss(ctx context.Context, p processIDParams) (any, error) {
	if err := checkProcessID(p.ProcessID); err != nil {
		return nil, err
	}
	out, err := s.e.Dismiss(ctx, p.ProcessID)
	if err != nil {
		return nil, wireError(err)
	}
	return outcomeResult("dismiss", p.ProcessID, out)
}

// outcomeResult encodes an Outcome. The document is encoded here rather than
// by the server so that a document the contract's model rejects is the
// ValidationError optio-core raises, and so is shutting-down, which the
// contract's reasons do not include. A document gone by the time of the
// answer (an ephemeral process that already ended) is sent as null.
func outcomeResult(method, id string, out Outcome) (any, error) {
	if !out.OK {
		if out.Reason == ReasonShuttingDown {
			return nil, &pyError{name: "ValidationError", err: fmt.Errorf(
				"%s %q: the engine is shutting down (reason %q is not in the contract's reasons)", method, id, out.Reason)}
		}
		return reasonResult{Reason: out.Reason}, nil
	}
	doc, err := ProcessJSON(out.Process)
	if err != nil {
		return nil, &pyError{name: "ValidationError", err: err}
	}
	return processResult{OK: true, Process: doc}, nil
}

func (s engineService) resync(ctx context.Context, p resyncParams) error {
	var filter map[string]any
	if p.MetadataFilter != nil {
		filter = *p.MetadataFilter
	}
	clean := p.Clean != nil && *p.Clean
	synced, err := s.e.Resync(ctx, clean, filter)
	if err != nil {
		return fmt.Errorf("resync (clean=%v, filter=%v): %w", clean, filter, err)
	}
	s.e.log.Info("resync over RPC", "clean", clean, "filter", filter, "tasks", len(synced))
	return nil
}

func (p groupCancelParams) options() GroupCancelOptions {
	o := GroupCancelOptions{
		Filter:           p.MetadataFilter,
		BlockNewLaunches: p.BlockNewLaunches != nil && *p.BlockNewLaunches,
		Persist:          p.Persist != nil && *p.Persist,
		PurgeRecords:     p.PurgeRecords != nil && *p.PurgeRecords,
	}
	if p.Reason != nil {
		o.Reason = *p.Reason
	}
	return o
}

func (s engineService) groupCancel(ctx context.Context, p groupCancelParams) (any, error) {
	return s.doGroupCancel(ctx, p, s.e.GroupCancel)
}

func (s engineService) groupCancelAndWait(ctx context.Context, p groupCancelParams) (any, error) {
	return s.doGroupCancel(ctx, p, s.e.GroupCancelAndWait)
}

func (s engineService) doGroupCancel(ctx context.Context, p groupCancelParams, run func(context.Context, GroupCancelOptions) (int, error)) (any, error) {
	opts := p.options()
	// Checked before the engine runs, as optio-core's service does, so that
	// it wins over an empty filter's ValueError.
	if opts.Persist && !opts.BlockNewLaunches {
		return reasonResult{Reason: ReasonInvalidPersistWithoutBlock}, nil
	}
	if len(p.MetadataFilter) == 0 {
		// optio-core raises a ValueError here, which its server answers
		// -32603; it is the caller's input, so -32602.
		return nil, rpc.InvalidParams(rpc.FieldError{
			Type:  "value_error",
			Loc:   []any{"metadataFilter"},
			Msg:   "Value error, a group cancel needs a non-empty metadataFilter (an empty one would cancel everything; shut the engine down to drain it all)",
			Input: map[string]any{},
		})
	}
	n, err := run(ctx, opts)
	if err != nil {
		return nil, wireError(err)
	}
	return countResult{OK: true, CancelledCount: n}, nil
}

func (s engineService) blockLaunches(ctx context.Context, p blockParams) (any, error) {
	reason := ""
	if p.Reason != nil {
		reason = *p.Reason
	}
	if err := s.e.BlockLaunches(ctx, map[string]any(p.LaunchFilter), reason); err != nil {
		return nil, wireError(err)
	}
	return okResult{OK: true}, nil
}

func (s engineService) unblockLaunches(ctx context.Context, p unblockParams) (any, error) {
	n, err := s.e.UnblockLaunches(ctx, map[string]any(p.LaunchFilter))
	if err != nil {
		return nil, wireError(err)
	}
	return removedResult{Removed: n}, nil
}
