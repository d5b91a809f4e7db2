package adapter

import (
	"context"
	"fmt"

	"go.mongodb.org/mongo-driver/v2/bson"

	"github.com/optio-temporal/optio/mirror"
)

// The engine's log entries of optio's auto-resume.
const (
	// msgAutoResumeScheduled is optio-core's entry when an engine shuts
	// down under a running process with AutoResume.
	msgAutoResumeScheduled = "Scheduled for auto-resume after restart"
	// msgAutoResumed is written when the next engine resumes it.
	msgAutoResumed = "Resumed automatically after an engine restart"
)

// prepareResume readies the saved state of a claimed process for its run,
// before the run starts. doc is the document as the launch's check read it.
// A fresh launch deletes the previous checkpoint and clears hasSavedState,
// so that a later resume never continues from an older run than the last;
// a resume of a process with saved state marks the checkpoint for the body
// (RunKind ResumedRun); one without saved state is a fresh launch, as in
// optio-core. Any launch clears autoResumeScheduled.
func (e *Engine) prepareResume(ctx context.Context, doc *mirror.Process, o launchOptions) error {
	saved := mirror.Flag(doc.HasSavedState)
	switch {
	case o.resume && saved:
		if err := e.store.MarkResume(ctx, doc.ID); err != nil {
			return err
		}
	case saved:
		if err := e.store.ClearSavedState(ctx, doc.ID); err != nil {
			return err
		}
	}
	if o.autoResume || mirror.Flag(doc.AutoResumeScheduled) {
		var entries []mirror.LogEntry
		if o.autoResume {
			entries = append(entries, mirror.NewLogEntry(e.store.Now(), mirror.LevelEvent, msgAutoResumed))
		}
		return e.store.SetAutoResumeScheduled(ctx, doc.ID, false, entries...)
	}
	return nil
}

// stampAutoResume marks, at shutdown, the top-level processes running here
// whose task has AutoResume, so that the next engine to start resumes them
// (autoResumeScheduled, and optio-core's log entry).
func (e *Engine) stampAutoResume(ctx context.Context, docs []string) {
	for _, hex := range docs {
		id, err := bson.ObjectIDFromHex(hex)
		if err != nil {
			continue
		}
		p, err := e.store.Get(ctx, id)
		if err != nil || !p.IsRoot() {
			continue
		}
		if t, ok := e.reg.task(p.ProcessID); !ok || !t.AutoResume {
			continue
		}
		entry := mirror.NewLogEntry(e.store.Now(), mirror.LevelEvent, msgAutoResumeScheduled)
		if err := e.store.SetAutoResumeScheduled(ctx, id, true, entry); err != nil {
			e.log.Warn("could not schedule auto-resume", "process", p.ProcessID, "error", err)
			continue
		}
		e.log.Info(msgAutoResumeScheduled, "process", p.ProcessID)
	}
}

// autoResume resumes, once at start-up, the processes an engine scheduled
// for auto-resume when it shut down: those that ended cancelled or failed
// by the shutdown are launched with resume. A stamp on a process that
// ended done, or whose task no longer has AutoResume, is cleared; one on a
// process still active (its body outlived the shutdown grace and is being
// re-run by Temporal) is left for its next launch to clear.
func (e *Engine) autoResume(ctx context.Context) {
	defer e.bg.Done()
	docs, err := e.store.AutoResumeScheduled(ctx)
	if err != nil {
		if ctx.Err() == nil {
			e.log.Warn("auto-resume: could not list processes", "error", err)
		}
		return
	}
	for _, p := range docs {
		if ctx.Err() != nil {
			return
		}
		t, ok := e.reg.task(p.ProcessID)
		state := p.Status.State
		switch {
		case state.Active():
			continue
		case !ok || !t.AutoResume || state == mirror.Done || state == mirror.Idle:
			if err := e.store.SetAutoResumeScheduled(ctx, p.ID, false); err != nil {
				e.log.Warn("auto-resume: could not clear the mark", "process", p.ProcessID, "error", err)
			}
			continue
		}
		out, err := e.launch(ctx, p.ID.Hex(), false, []LaunchOption{WithResume(), func(o *launchOptions) { o.autoResume = true }})
		switch {
		case err != nil:
			e.log.Warn("auto-resume failed", "process", p.ProcessID, "error", err)
		case !out.OK:
			// Another engine resumed it first, or a launch block holds it.
			e.log.Info("auto-resume refused", "process", p.ProcessID, "reason", out.Reason)
		default:
			e.log.Info(fmt.Sprintf("Auto-resumed %s after an engine restart", p.ProcessID), "process", p.ProcessID)
		}
	}
}
