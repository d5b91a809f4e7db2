package engineservice

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"

	"github.com/optio-temporal/optio/adapter"
	"github.com/optio-temporal/optio/rpc"
	"github.com/optio-temporal/optio/rpc/engineapi"
)

// Register registers the optio-engine service of eng on srv. Each call is
// reported to the engine's Config.Metrics, when set.
func Register(srv *rpc.Server, eng *adapter.Engine) error {
	cfg := eng.Config()
	s := service{e: eng, log: cfg.Logger.With("component", "optio-engine-service", "keyPrefix", eng.RPCKeyPrefix())}
	return srv.Register(withMetrics(orderedEngineService(s.service()), cfg.Metrics))
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
	case errors.Is(err, adapter.ErrInvalidInput):
		return &pyError{name: "ValueError", err: err}
	case errors.Is(err, adapter.ErrStillActive):
		return &pyError{name: "TimeoutError", err: err}
	}
	return err
}

// service adapts an Engine to the optio-engine contract.
type service struct {
	e   *adapter.Engine
	log *slog.Logger
}

func (s service) service() rpc.Service {
	return rpc.Service{Name: engineapi.Service, Methods: []rpc.Method{
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

func (s service) launch(ctx context.Context, p engineapi.LaunchParams) (any, error) {
	if err := engineapi.CheckProcessID(p.ProcessID); err != nil {
		return nil, err
	}
	var opts []adapter.LaunchOption
	if p.Resume != nil && *p.Resume {
		// optio-core's order: shutting-down, not-found, not-launchable,
		// no-resume-support, launch-blocked; Launch checks them so.
		opts = append(opts, adapter.WithResume())
	}
	if p.SessionID != nil {
		opts = append(opts, adapter.WithSessionID(*p.SessionID))
	}
	out, err := s.e.Launch(ctx, p.ProcessID, opts...)
	if err != nil {
		return nil, wireError(err)
	}
	return outcomeResult("launch", p.ProcessID, out)
}

func (s service) cancel(ctx context.Context, p engineapi.ProcessIDParams) (any, error) {
	if err := engineapi.CheckProcessID(p.ProcessID); err != nil {
		return nil, err
	}
	out, err := s.e.Cancel(ctx, p.ProcessID)
	if err != nil {
		return nil, wireError(err)
	}
	return outcomeResult("cancel", p.ProcessID, out)
}

func (s service) dismiss(ctx context.Context, p engineapi.ProcessIDParams) (any, error) {
	if err := engineapi.CheckProcessID(p.ProcessID); err != nil {
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
func outcomeResult(method, id string, out adapter.Outcome) (any, error) {
	if !out.OK {
		if out.Reason == adapter.ReasonShuttingDown {
			return nil, &pyError{name: "ValidationError", err: fmt.Errorf(
				"%s %q: the engine is shutting down (reason %q is not in the contract's reasons)", method, id, out.Reason)}
		}
		return engineapi.ReasonResult{Reason: out.Reason}, nil
	}
	doc, err := engineapi.ProcessJSON(out.Process)
	if err != nil {
		return nil, &pyError{name: "ValidationError", err: err}
	}
	return engineapi.ProcessResult{OK: true, Process: doc}, nil
}

func (s service) resync(ctx context.Context, p engineapi.ResyncParams) error {
	var filter map[string]any
	if p.MetadataFilter != nil {
		filter = *p.MetadataFilter
	}
	clean := p.Clean != nil && *p.Clean
	synced, err := s.e.Resync(ctx, clean, filter)
	if err != nil {
		return fmt.Errorf("resync (clean=%v, filter=%v): %w", clean, filter, err)
	}
	s.log.Info("resync over RPC", "clean", clean, "filter", filter, "tasks", len(synced))
	return nil
}

func groupCancelOptions(p engineapi.GroupCancelParams) adapter.GroupCancelOptions {
	o := adapter.GroupCancelOptions{
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

func (s service) groupCancel(ctx context.Context, p engineapi.GroupCancelParams) (any, error) {
	return s.doGroupCancel(ctx, p, s.e.GroupCancel)
}

func (s service) groupCancelAndWait(ctx context.Context, p engineapi.GroupCancelParams) (any, error) {
	return s.doGroupCancel(ctx, p, s.e.GroupCancelAndWait)
}

func (s service) doGroupCancel(ctx context.Context, p engineapi.GroupCancelParams, run func(context.Context, adapter.GroupCancelOptions) (int, error)) (any, error) {
	opts := groupCancelOptions(p)
	// Checked before the engine runs, as optio-core's service does, so that
	// it wins over an empty filter's ValueError.
	if opts.Persist && !opts.BlockNewLaunches {
		return engineapi.ReasonResult{Reason: adapter.ReasonInvalidPersistWithoutBlock}, nil
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
	return engineapi.CountResult{OK: true, CancelledCount: n}, nil
}

func (s service) blockLaunches(ctx context.Context, p engineapi.BlockLaunchesParams) (any, error) {
	reason := ""
	if p.Reason != nil {
		reason = *p.Reason
	}
	if err := s.e.BlockLaunches(ctx, map[string]any(p.LaunchFilter), reason); err != nil {
		return nil, wireError(err)
	}
	return engineapi.OKResult{OK: true}, nil
}

func (s service) unblockLaunches(ctx context.Context, p engineapi.UnblockLaunchesParams) (any, error) {
	n, err := s.e.UnblockLaunches(ctx, map[string]any(p.LaunchFilter))
	if err != nil {
		return nil, wireError(err)
	}
	return engineapi.RemovedResult{Removed: n}, nil
}

// withMetrics reports every call of svc's methods to m (nil: none).
func withMetrics(svc rpc.Service, m adapter.Metrics) rpc.Service {
	if m == nil {
		return svc
	}
	methods := make([]rpc.Method, len(svc.Methods))
	for i, meth := range svc.Methods {
		name, next := meth.Name, meth.Handler
		meth.Handler = func(ctx context.Context, params json.RawMessage) (any, error) {
			res, err := next(ctx, params)
			outcome := "ok"
			if err != nil {
				outcome = "error"
			}
			m.RPCCall(name, outcome)
			return res, err
		}
		methods[i] = meth
	}
	svc.Methods = methods
	return svc
}
