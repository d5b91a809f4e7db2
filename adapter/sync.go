package adapter

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/robfig/cron/v3"

	"github.com/optio-temporal/optio/internal/docstore"
	"github.com/optio-temporal/optio/mirror"
)

var cronParser = cron.NewParser(cron.Minute | cron.Hour | cron.Dom | cron.Month | cron.Dow | cron.Descriptor)

// validateTask checks one definition; nothing is written for a bad one.
func validateTask(t TaskInstance) error {
	switch {
	case t.ProcessID == "":
		return fmt.Errorf("%w: task %q: ProcessID must not be empty", ErrInvalidInput, t.Name)
	case t.Name == "":
		return fmt.Errorf("%w: task %q: Name must not be empty", ErrInvalidInput, t.ProcessID)
	case t.Execute == nil:
		return fmt.Errorf("%w: task %q: Execute must not be nil", ErrInvalidInput, t.ProcessID)
	case t.AutoResume && !t.SupportsResume:
		return fmt.Errorf("%w: task %q: AutoResume requires SupportsResume", ErrInvalidInput, t.ProcessID)
	}
	if t.Schedule != "" {
		if _, err := cronParser.Parse(t.Schedule); err != nil {
			return fmt.Errorf("%w: task %q: invalid cron schedule %q: %v", ErrInvalidInput, t.ProcessID, t.Schedule, err)
		}
	}
	return nil
}

// validateTasks checks every definition and that no processId repeats.
func validateTasks(tasks []TaskInstance) error {
	seen := make(map[string]bool, len(tasks))
	for _, t := range tasks {
		if err := validateTask(t); err != nil {
			return err
		}
		if seen[t.ProcessID] {
			return fmt.Errorf("%w: duplicate ProcessID %q in task definitions", ErrInvalidInput, t.ProcessID)
		}
		seen[t.ProcessID] = true
	}
	return nil
}

func definition(t TaskInstance) docstore.Definition {
	return docstore.Definition{
		ProcessID:   t.ProcessID,
		Name:        t.Name,
		Description: t.Description,
		Params:      t.Params,
		Metadata:    t.Metadata,
		Cancellable: !t.NotCancellable,
		Special:     t.Special,
		Warning:     t.Warning,

		SupportsResume: t.SupportsResume,
	}
}

// Resync re-runs the task generator and syncs its definitions: new tasks are
// created, existing ones get their definition fields (name, description,
// params, metadata, schedule, special, warning, cancellable) updated without
// their runtime state being touched, and removed ones are deleted with their
// descendants when they are not active (an active one is left alone until a
// later resync). With clean, every process in scope is first cancelled (and
// waited for, up to Config.CancelGrace) and deleted with its descendants,
// ad-hoc processes included. A non-empty metadataFilter restricts all of
// this to processes and tasks whose metadata matches it. It returns the
// processId to document _id (hex) map of the synced tasks. Ad-hoc processes
// are never treated as removed tasks.
//
// An engine without a generator (Config.TaskDefinitions nil) has nothing to
// sync and returns an empty map, but still cleans first when asked, as
// optio-core's resync deletes before its sync finds no generator. With a
// generator, a generator error or a bad definition is returned before
// anything is deleted.
func (e *Engine) Resync(ctx context.Context, clean bool, metadataFilter map[string]any) (map[string]string, error) {
	var (
		tasks []TaskInstance
		read  *docstore.SyncRead
		err   error
	)
	generated := e.cfg.TaskDefinitions != nil
	if generated {
		if tasks, read, err = e.prepare(ctx, metadataFilter); err != nil {
			return nil, err
		}
	}
	if clean {
		if err := e.clean(ctx, metadataFilter); err != nil {
			return nil, err
		}
		if generated {
			// What was read before is gone: read what is left.
			if read, err = e.readForSync(ctx, tasks, metadataFilter); err != nil {
				return nil, err
			}
		}
	}
	if !generated {
		return map[string]string{}, nil
	}
	return e.applyDefinitions(ctx, tasks, metadataFilter, read)
}

// clean is the clean of Resync: it cancels the active processes in scope,
// waits for them up to the cancel grace, and deletes every process in scope
// with its descendants. In scope is every document, or, with a non-empty
// filter, the roots whose metadata matches it.
func (e *Engine) clean(ctx context.Context, filter map[string]any) error {
	q := mirror.Query{}
	if len(filter) > 0 {
		q = mirror.Query{RootsOnly: true, Metadata: filter}
	}
	roots, err := e.store.List(ctx, q)
	if err != nil {
		return err
	}
	if err := e.cancelAndDelete(ctx, roots, false); err != nil {
		return err
	}
	e.log.Info("Nuked process records", "count", len(roots))
	return nil
}

// syncDefinitions is the sync New runs.
func (e *Engine) syncDefinitions(ctx context.Context, filter map[string]any) (map[string]string, error) {
	if e.cfg.TaskDefinitions == nil {
		return map[string]string{}, nil
	}
	tasks, read, err := e.prepare(ctx, filter)
	if err != nil {
		return nil, err
	}
	return e.applyDefinitions(ctx, tasks, filter, read)
}

// prepare calls the generator and reads what applying its tasks needs
// (docstore.Store.ReadForSync), refusing, before anything is written, a
// task whose processId a child process holds.
func (e *Engine) prepare(ctx context.Context, filter map[string]any) ([]TaskInstance, *docstore.SyncRead, error) {
	tasks, err := e.generate(ctx, filter)
	if err != nil {
		return nil, nil, err
	}
	read, err := e.readForSync(ctx, tasks, filter)
	if err != nil {
		return nil, nil, err
	}
	if len(read.Held) > 0 {
		return nil, nil, fmt.Errorf("%w: task %q: processId is already used by a child process", ErrInvalidInput, read.Held[0])
	}
	return tasks, read, nil
}

func (e *Engine) readForSync(ctx context.Context, tasks []TaskInstance, filter map[string]any) (*docstore.SyncRead, error) {
	ids := make([]string, len(tasks))
	for i, t := range tasks {
		ids[i] = t.ProcessID
	}
	return e.store.ReadForSync(ctx, ids, filter)
}

// generate calls the generator, validates its result and keeps the tasks in
// the filter's scope.
func (e *Engine) generate(ctx context.Context, filter map[string]any) ([]TaskInstance, error) {
	tasks, err := e.cfg.TaskDefinitions(ctx, e.cfg.Services, filter)
	if err != nil {
		return nil, fmt.Errorf("task generator: %w", err)
	}
	if err := validateTasks(tasks); err != nil {
		return nil, err
	}
	schedules := map[string]string{}
	for _, t := range tasks {
		err := e.CheckProcessID(t.ProcessID)
		if err == nil && t.Schedule != "" {
			err = e.checkSchedule(t.ProcessID, schedules)
		}
		if err != nil {
			return nil, fmt.Errorf("task %q: %w", t.Name, err)
		}
	}
	if len(filter) == 0 {
		return tasks, nil
	}
	kept := tasks[:0:0]
	for _, t := range tasks {
		if docstore.MatchesFilter(t.Metadata, filter) {
			kept = append(kept, t)
		}
	}
	return kept, nil
}

// applyDefinitions writes tasks' definitions, deletes the task roots in
// read that are no longer defined and have ended, and syncs the cron
// tasks' Schedules. read is what prepare read for these tasks and filter.
func (e *Engine) applyDefinitions(ctx context.Context, tasks []TaskInstance, filter map[string]any, read *docstore.SyncRead) (map[string]string, error) {
	synced := make(map[string]string, len(tasks))
	defs := make([]docstore.Definition, len(tasks))
	for i, t := range tasks {
		defs[i] = definition(t)
	}
	written, err := e.store.UpsertDefinitions(ctx, defs, read.Roots)
	for _, p := range written {
		synced[p.ProcessID] = p.ID.Hex()
	}
	if err != nil {
		return synced, err
	}
	var inScope func(TaskInstance) bool
	if len(filter) > 0 {
		inScope = func(t TaskInstance) bool { return docstore.MatchesFilter(t.Metadata, filter) }
	}
	e.reg.replace(tasks, inScope)

	var stale []mirror.Process
	for _, p := range read.TaskRoots {
		if _, ok := synced[p.ProcessID]; ok || p.Adhoc {
			continue
		}
		if p.Status.State.Active() {
			e.log.Info("removed task is still active; leaving it until it ends", "process", p.ProcessID, "state", p.Status.State)
			continue
		}
		stale = append(stale, p)
	}
	for _, p := range stale {
		if _, err := e.store.DeleteTree(ctx, p.ID); err != nil {
			return synced, err
		}
	}
	if err := e.syncSchedules(ctx, tasks, filter); err != nil {
		return synced, err
	}
	scope := "(all)"
	if len(filter) > 0 {
		scope = fmt.Sprintf("(filter=%v)", filter)
	}
	e.log.Info(fmt.Sprintf("Synced %d task definitions %s", len(tasks), scope), "removed", len(stale))
	return synced, nil
}

// cancelAndDelete cancels the active processes among roots (and, with
// descendants, their trees), waits up to the cancel grace for them to end,
// then deletes every root with its descendants.
func (e *Engine) cancelAndDelete(ctx context.Context, roots []mirror.Process, forget bool) error {
	var pending []mirror.Process
	for _, p := range roots {
		if p.Status.State.Active() {
			if _, err := e.Cancel(ctx, p.ID.Hex()); err != nil {
				return err
			}
			pending = append(pending, p)
		}
	}
	if len(pending) > 0 {
		if err := e.waitInactive(ctx, pending, e.cfg.CancelGrace); err != nil {
			e.log.Warn("cancel grace exceeded; deleting regardless", "error", err)
		}
	}
	for _, p := range roots {
		if _, err := e.store.DeleteTree(ctx, p.ID); err != nil {
			return err
		}
		if forget {
			e.reg.forget(p.ProcessID)
		}
	}
	return nil
}

// ErrStillActive is wrapped by the error of GroupCancelAndWait when a
// cancelled process has not ended within its ceiling.
var ErrStillActive = errors.New("processes still active")

// waitInactive waits until none of docs is active (or gone), or the timeout.
func (e *Engine) waitInactive(ctx context.Context, docs []mirror.Process, timeout time.Duration) error {
	wctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	for _, d := range docs {
		if err := e.awaitInactive(wctx, d.ID); err != nil {
			if ctx.Err() != nil {
				return ctx.Err()
			}
			if wctx.Err() == nil {
				return err // a read failed
			}
			break // out of time: count what is left
		}
	}
	remaining := 0
	for _, d := range docs {
		p, err := e.store.Get(ctx, d.ID)
		if err == nil && p.Status.State.Active() {
			remaining++
		} else if err != nil && !isNotFound(err) {
			return err
		}
	}
	if remaining == 0 {
		return nil
	}
	return fmt.Errorf("%w: %d process(es) did not reach a terminal state within %s", ErrStillActive, remaining, timeout)
}
