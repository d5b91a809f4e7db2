package adapter

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"time"

	enumspb "go.temporal.io/api/enums/v1"
	"go.temporal.io/api/serviceerror"
	"go.temporal.io/sdk/client"
	"go.temporal.io/sdk/converter"
	"go.temporal.io/sdk/temporal"

	"github.com/optio-temporal/optio/internal/activitydef"
	"github.com/optio-temporal/optio/internal/docstore"
	"github.com/optio-temporal/optio/internal/headersafe"
	"github.com/optio-temporal/optio/internal/textclip"
	"github.com/optio-temporal/optio/mirror"
	"github.com/optio-temporal/optio/workflows"
)

// cronIDSuffix ends the workflow IDs of a Schedule's runs (the server adds
// the fire time after it).
const cronIDSuffix = ":cron"

// scheduleMemoProcessID is the memo field of a Schedule that holds its
// processId.
const scheduleMemoProcessID = "optioProcessId"

// ScheduleID returns the Temporal Schedule ID of a process with a cron
// schedule. For a processId in printable ASCII it is the same as its
// workflow ID. Otherwise each byte outside printable ASCII, and "%", is
// written as %XX ("import-münchen" gives "{db}/{prefix}:import-m%C3%BCnchen"):
// the server runs a Schedule as a workflow named after its ID on its own
// SDK worker, whose calls cannot carry other characters (escaped only in
// this engine's client, see temporalconn.EscapeResourceIDs).
func (e *Engine) ScheduleID(processID string) string {
	if headersafe.Printable(processID) {
		return e.WorkflowID(processID)
	}
	return e.WorkflowID(headersafe.Escape(processID))
}

// schedulerIDPrefix is what the server puts before a Schedule's ID to name
// the workflow that runs it.
const schedulerIDPrefix = "temporal-sys-scheduler:"

// checkSchedule refuses a cron task whose Schedule's runs (cronRunSuffix
// added to its workflow ID), or whose Schedule's own workflow
// (schedulerIDPrefix and its escaped ID), would have IDs over
// Config.MaxIDLength, and one whose Schedule ID another task in taken
// (ScheduleID to processId) has already: possible only through the
// escape, "münchen" against "m%C3%BCnchen". It adds the task to taken.
func (e *Engine) checkSchedule(processID string, taken map[string]string) error {
	if err := e.checkIDLength(processID, "the IDs of its Schedule's runs", len(cronRunSuffix)); err != nil {
		return err
	}
	id := e.ScheduleID(processID)
	if n := len(schedulerIDPrefix) + len(id); n > e.cfg.MaxIDLength {
		return fmt.Errorf("%w: process id %q is too long: the ID of its Schedule's workflow, escaped, would be %d bytes, over the server's limit of %d (Config.MaxIDLength)",
			ErrInvalidInput, textclip.Clip(processID, 64), n, e.cfg.MaxIDLength)
	}
	if other, ok := taken[id]; ok {
		return fmt.Errorf("%w: process ids %q and %q make the same Schedule ID %q (ScheduleID escapes characters outside printable ASCII): rename one",
			ErrInvalidInput, textclip.Clip(other, 64), textclip.Clip(processID, 64), textclip.Clip(id, 128))
	}
	taken[id] = processID
	return nil
}

func (e *Engine) scheduleSpec(t TaskInstance) client.ScheduleSpec {
	return client.ScheduleSpec{CronExpressions: []string{t.Schedule}, TimeZoneName: e.cfg.ScheduleTimeZone}
}

func (e *Engine) scheduleAction(t TaskInstance) *client.ScheduleWorkflowAction {
	return &client.ScheduleWorkflowAction{
		ID:            e.WorkflowID(t.ProcessID) + cronIDSuffix,
		Workflow:      workflows.ScheduledLaunchName,
		Args:          []any{activitydef.ScheduledLaunchInput{ProcessID: t.ProcessID}},
		TaskQueue:     e.cfg.TaskQueue,
		StaticSummary: "cron launch of " + t.Name,
	}
}

// syncSchedules makes the Temporal Schedules match the tasks: one per task with
// a cron schedule (created or updated), none for tasks in scope without one.
func (e *Engine) syncSchedules(ctx context.Context, tasks []TaskInstance, filter map[string]any) error {
	e.schedulesMu.Lock()
	defer e.schedulesMu.Unlock()
	sc := e.cfg.Temporal.ScheduleClient()

	want := map[string]TaskInstance{}
	for _, t := range tasks {
		if t.Schedule != "" {
			want[e.ScheduleID(t.ProcessID)] = t
		}
	}
	existing, err := e.listSchedules(ctx)
	if err != nil {
		return err
	}
	listed := make(map[string]bool, len(existing))
	for id := range existing {
		listed[id] = true
	}
	for id, t := range e.knownSchedules {
		if _, ok := existing[id]; !ok {
			existing[id] = t.ProcessID
		}
	}
	for id, t := range want {
		if known, ok := e.knownSchedules[id]; ok && listed[id] && sameSchedule(known, t) {
			// This engine wrote it as it stands, and the server still
			// lists it: three calls saved per cron task and resync.
			continue
		}
		if err := e.upsertSchedule(ctx, sc, id, t); err != nil {
			return err
		}
		e.knownSchedules[id] = t
	}
	for id, processID := range existing {
		if _, ok := want[id]; ok {
			continue
		}
		if len(filter) > 0 && !e.scheduleInScope(ctx, processID, filter) {
			continue
		}
		if err := sc.GetHandle(ctx, id).Delete(ctx); err != nil {
			var nf *serviceerror.NotFound
			if !errors.As(err, &nf) {
				return fmt.Errorf("delete schedule %q: %w", id, err)
			}
		}
		delete(e.knownSchedules, id)
		e.log.Info("removed schedule", "schedule", id)
	}
	return nil
}

// sameSchedule reports whether two definitions of a task make the same
// Schedule (spec and action).
func sameSchedule(a, b TaskInstance) bool {
	return a.Schedule == b.Schedule && a.Name == b.Name && a.ProcessID == b.ProcessID
}

// scheduleInScope decides whether a filtered resync owns a schedule: its
// task's metadata (as last known, or on its document) matches the filter, or
// its process is gone.
func (e *Engine) scheduleInScope(ctx context.Context, processID string, filter map[string]any) bool {
	if t, ok := e.knownSchedules[e.ScheduleID(processID)]; ok {
		return docstore.MatchesFilter(t.Metadata, filter)
	}
	p, err := e.store.ByProcessID(ctx, processID)
	if isNotFound(err) {
		// A Schedule whose memo could not be read (written through a
		// client with a codec) is known by its ID only, which ScheduleID
		// escapes for a processId beyond printable ASCII.
		if raw, ok := headersafe.Unescape(processID); ok && raw != processID {
			p, err = e.store.ByProcessID(ctx, raw)
		}
	}
	if err != nil {
		return isNotFound(err)
	}
	return docstore.MatchesFilter(p.Metadata, filter)
}

func (e *Engine) upsertSchedule(ctx context.Context, sc client.ScheduleClient, id string, t TaskInstance) error {
	_, err := sc.Create(ctx, client.ScheduleOptions{
		ID:      id,
		Spec:    e.scheduleSpec(t),
		Action:  e.scheduleAction(t),
		Overlap: enumspb.SCHEDULE_OVERLAP_POLICY_SKIP,
		// A fire missed while the cluster was down is dropped after a
		// minute rather than replayed for up to a year.
		CatchupWindow: time.Minute,
		Note:          "optio process " + t.ProcessID,
		Memo:          map[string]any{scheduleMemoProcessID: t.ProcessID},
	})
	if err == nil {
		e.log.Info("created schedule", "schedule", id, "cron", t.Schedule)
		return nil
	}
	if !errors.Is(err, temporal.ErrScheduleAlreadyRunning) {
		return fmt.Errorf("create schedule %q: %w", id, err)
	}
	err = sc.GetHandle(ctx, id).Update(ctx, client.ScheduleUpdateOptions{
		DoUpdate: func(in client.ScheduleUpdateInput) (*client.ScheduleUpdate, error) {
			s := in.Description.Schedule
			spec := e.scheduleSpec(t)
			s.Spec = &spec
			s.Action = e.scheduleAction(t)
			if s.Policy == nil {
				s.Policy = &client.SchedulePolicies{}
			}
			s.Policy.Overlap = enumspb.SCHEDULE_OVERLAP_POLICY_SKIP
			s.Policy.CatchupWindow = time.Minute
			return &client.ScheduleUpdate{Schedule: &s}, nil
		},
	})
	if err != nil {
		return fmt.Errorf("update schedule %q: %w", id, err)
	}
	return nil
}

// listSchedules returns this engine's schedules (by ID prefix) mapped to
// their processId.
func (e *Engine) listSchedules(ctx context.Context) (map[string]string, error) {
	prefix := e.WorkflowID("")
	out := map[string]string{}
	it, err := e.cfg.Temporal.ScheduleClient().List(ctx, client.ScheduleListOptions{PageSize: 1000})
	if err != nil {
		return nil, fmt.Errorf("list schedules: %w", err)
	}
	for it.HasNext() {
		entry, err := it.Next()
		if err != nil {
			return nil, fmt.Errorf("list schedules: %w", err)
		}
		if strings.HasPrefix(entry.ID, prefix) {
			out[entry.ID] = scheduleProcessID(entry, prefix)
		}
	}
	return out, nil
}

// scheduleProcessID returns the processId of the Schedule entry: the one
// its memo holds (upsertSchedule's optioProcessId), or else its ID after
// prefix, which is the processId unless ScheduleID escaped it.
func scheduleProcessID(entry *client.ScheduleListEntry, prefix string) string {
	if p := entry.Memo.GetFields()[scheduleMemoProcessID]; p != nil {
		var id string
		if converter.GetDefaultDataConverter().FromPayload(p, &id) == nil {
			return id
		}
	}
	return strings.TrimPrefix(entry.ID, prefix)
}

// Schedule returns a handle on the Temporal Schedule of a process, for
// describing, pausing or triggering it.
func (e *Engine) Schedule(ctx context.Context, processID string) client.ScheduleHandle {
	return e.cfg.Temporal.ScheduleClient().GetHandle(ctx, e.ScheduleID(processID))
}

// scheduledLaunch is the activity behind a cron fire: an ordinary launch. A
// refused launch, or a fire that reached a worker more than
// Config.CronMisfireGrace late, is skipped, logged, and noted in the
// process's log.
func (e *Engine) scheduledLaunch(ctx context.Context, in activitydef.ScheduledLaunchInput) (string, error) {
	grace := e.cfg.CronMisfireGrace
	if late := e.store.Now().Sub(in.FiredAt); !in.FiredAt.IsZero() && grace > 0 && late > grace {
		msg := fmt.Sprintf("Scheduled launch of %s skipped: it fired at %s and no engine ran it until %s later",
			in.ProcessID, in.FiredAt.UTC().Format(time.RFC3339), late.Round(time.Second))
		return "skipped: late", e.noteSkipped(ctx, in.ProcessID, msg)
	}
	out, err := e.Launch(ctx, in.ProcessID)
	if err != nil {
		return "", err
	}
	if out.OK {
		return "launched", nil
	}
	msg := fmt.Sprintf("Scheduled launch of %s skipped: %s", in.ProcessID, out.Reason)
	return "skipped: " + string(out.Reason), e.noteSkipped(ctx, in.ProcessID, msg)
}

// noteSkipped logs a skipped cron fire and notes it in the process's log.
func (e *Engine) noteSkipped(ctx context.Context, processID, msg string) error {
	e.log.Warn(msg)
	if p, err := e.store.ByProcessID(ctx, processID); err == nil {
		return e.store.AppendLog(ctx, p.ID, mirror.NewLogEntry(e.store.Now(), mirror.LevelWarning, msg))
	}
	return nil
}
