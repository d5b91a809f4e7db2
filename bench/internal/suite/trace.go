package suite

import (
	"context"
	"encoding/json"
	"fmt"
	"sort"
	"strings"
	"time"

	enumspb "go.temporal.io/api/enums/v1"
	historypb "go.temporal.io/api/history/v1"
)

// traced runs f once with the monitor recording, then prints a timeline of
// the Temporal calls and Mongo commands it made (the workers' included) and
// of the history events of the given workflow runs, relative to f's start.
func (env *Env) traced(ctx context.Context, title string, f func() error, workflows func() []wfRef) (string, error) {
	env.mon.startTrace()
	t0 := time.Now()
	err := f()
	total := time.Since(t0)
	events := env.mon.stopTrace()
	if err != nil {
		return "", err
	}
	type line struct {
		at   time.Time
		text string
	}
	var lines []line
	for _, e := range events {
		end := e.Start.Add(e.Dur)
		if end.Before(t0) {
			continue
		}
		if isLongPoll(e) {
			lines = append(lines, line{end, fmt.Sprintf("%-6s %s returned (long poll, %.1f ms)", e.Kind, e.Name, ms(e.Dur))})
			continue
		}
		lines = append(lines, line{e.Start, fmt.Sprintf("%-6s %s (%.1f ms)", e.Kind, e.Name, ms(e.Dur))})
	}
	for _, wf := range workflows() {
		hist, err := env.history(ctx, wf.id, wf.runID)
		if err != nil {
			return "", err
		}
		for _, ev := range hist {
			lines = append(lines, line{ev.GetEventTime().AsTime(), "event  " + wf.label + describeEvent(ev)})
		}
	}
	sort.SliceStable(lines, func(i, j int) bool { return lines[i].at.Before(lines[j].at) })
	var b strings.Builder
	fmt.Fprintf(&b, "  timeline of one %s (%.1f ms in all; event = server history event, grpc/mongo = client calls of this process):\n", title, ms(total))
	for _, l := range lines {
		fmt.Fprintf(&b, "    %+8.1f ms  %s\n", ms(l.at.Sub(t0)), l.text)
	}
	return b.String(), nil
}

// wfRef names a workflow run whose history a trace shows.
type wfRef struct {
	label string
	id    string
	runID string
}

func isLongPoll(e TraceEvent) bool {
	return e.Kind == "grpc" && (strings.HasPrefix(e.Name, "Poll") || e.Name == "GetWorkflowExecutionHistory" || e.Name == "PollWorkflowExecutionUpdate")
}

func (env *Env) history(ctx context.Context, id, runID string) ([]*historypb.HistoryEvent, error) {
	it := env.Temporal.GetWorkflowHistory(ctx, id, runID, false, enumspb.HISTORY_EVENT_FILTER_TYPE_ALL_EVENT)
	var out []*historypb.HistoryEvent
	for it.HasNext() {
		ev, err := it.Next()
		if err != nil {
			return nil, fmt.Errorf("history of %s: %w", id, err)
		}
		out = append(out, ev)
	}
	return out, nil
}

// historyStats counts a run's events and workflow tasks.
func (env *Env) historyStats(ctx context.Context, id, runID string) (events, workflowTasks, markers int, err error) {
	hist, err := env.history(ctx, id, runID)
	if err != nil {
		return 0, 0, 0, err
	}
	for _, ev := range hist {
		switch ev.GetEventType() {
		case enumspb.EVENT_TYPE_WORKFLOW_TASK_COMPLETED:
			workflowTasks++
		case enumspb.EVENT_TYPE_MARKER_RECORDED:
			markers++
		}
	}
	return len(hist), workflowTasks, markers, nil
}

func describeEvent(ev *historypb.HistoryEvent) string {
	name := strings.TrimPrefix(ev.GetEventType().String(), "EVENT_TYPE_")
	name = strings.ToLower(name)
	switch ev.GetEventType() {
	case enumspb.EVENT_TYPE_ACTIVITY_TASK_SCHEDULED:
		a := ev.GetActivityTaskScheduledEventAttributes()
		name += " " + a.GetActivityType().GetName() + " on " + a.GetTaskQueue().GetName()
	case enumspb.EVENT_TYPE_MARKER_RECORDED:
		name += " " + localActivityType(ev.GetMarkerRecordedEventAttributes())
	case enumspb.EVENT_TYPE_WORKFLOW_EXECUTION_UPDATE_ACCEPTED:
		name += " " + ev.GetWorkflowExecutionUpdateAcceptedEventAttributes().GetAcceptedRequest().GetInput().GetName()
	}
	return name
}

// localActivityType reads the activity type out of a local-activity marker.
func localActivityType(a *historypb.MarkerRecordedEventAttributes) string {
	p := a.GetDetails()["data"].GetPayloads()
	if len(p) == 0 {
		return a.GetMarkerName()
	}
	var data struct{ ActivityType string }
	if json.Unmarshal(p[0].GetData(), &data) != nil || data.ActivityType == "" {
		return a.GetMarkerName()
	}
	return "local activity " + data.ActivityType
}

// historyTypes formats a run's history as counts per event type.
func (env *Env) historyTypes(ctx context.Context, id, runID string) string {
	hist, err := env.history(ctx, id, runID)
	if err != nil {
		return err.Error()
	}
	counts := map[string]int{}
	for _, ev := range hist {
		counts[eventName(ev)]++
	}
	names := make([]string, 0, len(counts))
	for k := range counts {
		names = append(names, k)
	}
	sort.Slice(names, func(i, j int) bool {
		if counts[names[i]] != counts[names[j]] {
			return counts[names[i]] > counts[names[j]]
		}
		return names[i] < names[j]
	})
	parts := make([]string, len(names))
	for i, k := range names {
		parts[i] = fmt.Sprintf("%s %d", k, counts[k])
	}
	return strings.Join(parts, ", ")
}

// childrenRuns sums the histories of every run of a workflow that continues
// as new (a children workflow), from its first run on: runs, events and
// the counts per event type.
func (env *Env) childrenRuns(ctx context.Context, id string) string {
	last, err := env.history(ctx, id, "")
	if err != nil || len(last) == 0 {
		return fmt.Sprintf("    optio children workflow: %v\n", err)
	}
	runID := last[0].GetWorkflowExecutionStartedEventAttributes().GetFirstExecutionRunId()
	counts := map[string]int{}
	failed := map[string]int{}
	var waits, firsts []string
	runs, events := 0, 0
	for runID != "" {
		hist, err := env.history(ctx, id, runID)
		if err != nil {
			return fmt.Sprintf("    optio children workflow: %v\n", err)
		}
		runs++
		events += len(hist)
		runID = ""
		if w, ok := drainWait(hist); ok {
			waits = append(waits, w.Round(time.Millisecond).String())
		}
		if runs > 1 {
			if w, ok := firstUpdate(hist); ok {
				firsts = append(firsts, w.Round(time.Millisecond).String())
			}
		}
		for i, ev := range hist {
			counts[eventName(ev)]++
			if a := ev.GetWorkflowExecutionContinuedAsNewEventAttributes(); a != nil {
				runID = a.GetNewExecutionRunId()
			}
			if a := ev.GetWorkflowTaskFailedEventAttributes(); a != nil {
				failed[fmt.Sprintf("%s (run %d, ended %s; then %s)", taskFailure(a), runs, runEnd(hist), eventsUntilTask(hist[i+1:]))]++
			}
		}
	}
	names := make([]string, 0, len(counts))
	for k := range counts {
		names = append(names, k)
	}
	sort.Slice(names, func(i, j int) bool { return counts[names[i]] > counts[names[j]] })
	parts := make([]string, len(names))
	for i, k := range names {
		parts[i] = fmt.Sprintf("%s %d", k, counts[k])
	}
	out := fmt.Sprintf("    optio children workflow: %d runs, %d events\n      by type: %s\n", runs, events, strings.Join(parts, ", "))
	whys := make([]string, 0, len(failed))
	for why := range failed {
		whys = append(whys, why)
	}
	sort.Strings(whys)
	for _, why := range whys {
		out += fmt.Sprintf("      workflow task failed %d times: %s\n", failed[why], why)
	}
	if len(waits) > 0 {
		out += fmt.Sprintf("      roll-over waits for open children: %s\n", strings.Join(waits, ", "))
	}
	if len(firsts) > 0 {
		out += fmt.Sprintf("      later runs' first update accepted after: %s\n", strings.Join(firsts, ", "))
	}
	return out
}

// drainWait is how long a run that continued as new waited for its open
// children first: from its drain version marker to its last event.
func drainWait(hist []*historypb.HistoryEvent) (time.Duration, bool) {
	last := hist[len(hist)-1]
	if last.GetWorkflowExecutionContinuedAsNewEventAttributes() == nil {
		return 0, false
	}
	for _, ev := range hist {
		a := ev.GetMarkerRecordedEventAttributes()
		if a == nil || a.GetMarkerName() != "Version" {
			continue
		}
		if p := a.GetDetails()["change-id"].GetPayloads(); len(p) > 0 && strings.Contains(string(p[0].GetData()), "optio.children-drain-before-roll") {
			return last.GetEventTime().AsTime().Sub(ev.GetEventTime().AsTime()), true
		}
	}
	return 0, false
}

// taskFailure says why a workflow task failed: its cause, and the failure's
// message cut to one line.
func taskFailure(a *historypb.WorkflowTaskFailedEventAttributes) string {
	msg, _, _ := strings.Cut(a.GetFailure().GetMessage(), "\n")
	if len(msg) > 160 {
		msg = msg[:160] + "..."
	}
	return strings.TrimPrefix(a.GetCause().String(), "WORKFLOW_TASK_FAILED_CAUSE_") + ": " + msg
}

// runEnd names how a run ended, from its last event.
func runEnd(hist []*historypb.HistoryEvent) string {
	if len(hist) == 0 {
		return "none"
	}
	return eventName(hist[len(hist)-1])
}

// eventName is an event's type in lower case, without its EVENT_TYPE_
// prefix: "workflowtaskfailed".
func eventName(ev *historypb.HistoryEvent) string {
	return strings.ToLower(strings.TrimPrefix(ev.GetEventType().String(), "EVENT_TYPE_"))
}

// firstUpdate is how long after its start a run accepted its first update.
func firstUpdate(hist []*historypb.HistoryEvent) (time.Duration, bool) {
	for _, ev := range hist {
		if ev.GetWorkflowExecutionUpdateAcceptedEventAttributes() != nil {
			return ev.GetEventTime().AsTime().Sub(hist[0].GetEventTime().AsTime()), true
		}
	}
	return 0, false
}

// eventsUntilTask names the events before the next workflow task is
// scheduled: after a failed one, those that came while it ran.
func eventsUntilTask(hist []*historypb.HistoryEvent) string {
	var names []string
	for _, ev := range hist {
		if ev.GetEventType() == enumspb.EVENT_TYPE_WORKFLOW_TASK_SCHEDULED {
			break
		}
		names = append(names, eventName(ev))
	}
	if len(names) == 0 {
		return "nothing"
	}
	return strings.Join(names, ", ")
}
