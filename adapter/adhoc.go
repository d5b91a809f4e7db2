package adapter

import (
	"context"
	"errors"
	"fmt"

	"github.com/optio-temporal/optio/internal/docstore"
	"github.com/optio-temporal/optio/mirror"
)

// AdhocOptions shapes AdhocDefine.
type AdhocOptions struct {
	// Parent, when set, creates the process as a child of this process
	// (processId or _id in hex); it then gets no schedule and is always
	// cancellable, as in optio-core.
	Parent string
	// Ephemeral deletes the process once it reaches an end state.
	Ephemeral bool
}

// AdhocDefine creates a process at runtime rather than from the task
// generator, in state idle, and returns its document. Its function lives in
// this engine's registry; launch it with Launch. A launch block matching the
// task's metadata refuses it with ReasonLaunchBlocked before anything is
// written. Ad-hoc processes survive resyncs.
func (e *Engine) AdhocDefine(ctx context.Context, task TaskInstance, opts AdhocOptions) (*Process, error) {
	if err := validateTask(task); err != nil {
		return nil, err
	}
	if err := e.CheckProcessID(task.ProcessID); err != nil {
		return nil, fmt.Errorf("ad-hoc task %q: %w", task.Name, err)
	}
	if task.Schedule != "" {
		return nil, fmt.Errorf("%w: ad-hoc task %q: Schedule is not supported for ad-hoc processes", ErrInvalidInput, task.ProcessID)
	}
	blocked, err := e.checkBlocks(ctx, task.Metadata)
	if err != nil {
		return nil, err
	}
	if blocked != nil {
		return nil, fmt.Errorf("adhoc define %q: %w: %w", task.ProcessID, ReasonLaunchBlocked, blocked)
	}
	var p *mirror.Process
	if opts.Parent == "" {
		if p, err = e.store.UpsertDefinition(ctx, definition(task)); err != nil {
			if errors.Is(err, mirror.ErrDuplicateProcessID) {
				// The processId belongs to a child process.
				return nil, fmt.Errorf("%w: %w", ErrInvalidInput, err)
			}
			return nil, err
		}
		if p, err = e.store.SetAdhoc(ctx, p.ID, opts.Ephemeral); err != nil {
			return nil, err
		}
	} else {
		parent, err := e.store.Resolve(ctx, opts.Parent)
		if isNotFound(err) {
			return nil, fmt.Errorf("%w: parent process %q not found", ErrInvalidInput, opts.Parent)
		}
		if err != nil {
			return nil, err
		}
		p, err = e.store.InsertChild(ctx, parent, docstore.Child{
			ProcessID: task.ProcessID, Name: task.Name, Params: task.Params, Metadata: task.Metadata,
			State: mirror.Idle, Adhoc: true, Ephemeral: opts.Ephemeral,
		})
		if errors.Is(err, mirror.ErrDuplicateProcessID) {
			return nil, fmt.Errorf("%w: %w", ErrInvalidInput, err)
		}
		if err != nil {
			return nil, err
		}
	}
	e.reg.addAdhoc(task)
	return p, nil
}

// AdhocDelete deletes an ad-hoc process and all its descendants, and drops
// its function from the registry. An active process is cancelled first and
// waited for, up to Config.CancelGrace, so no body keeps writing to a deleted
// document.
func (e *Engine) AdhocDelete(ctx context.Context, id string) error {
	if err := validID(id); err != nil {
		return err
	}
	p, err := e.store.Resolve(ctx, id)
	if isNotFound(err) {
		return fmt.Errorf("adhoc delete %q: %w", id, ReasonNotFound)
	}
	if err != nil {
		return err
	}
	return e.cancelAndDelete(ctx, []mirror.Process{*p}, true)
}
