package suite

import (
	"context"
	"fmt"
	"sort"
	"strings"
	"time"

	enumspb "go.temporal.io/api/enums/v1"
	"go.temporal.io/api/workflowservice/v1"
)

// runRecord is one workflow run as the visibility store lists it.
type runRecord struct {
	id, runID string
	kind      string
	status    enumspb.WorkflowExecutionStatus
	events    int64
}

// runSummary is what the visibility store shows of the runs of the
// workflows whose IDs share a prefix.
type runSummary struct {
	runs []runRecord
	open int
	// complete is false when the wait for the expected runs timed out.
	complete bool
	waited   time.Duration
	longest  runRecord
}

// runsByPrefix lists every run of the workflows whose ID starts with prefix,
// waiting up to a minute for the visibility store (written after the fact)
// to show at least want runs and no open one; kind names what a workflow ID
// is. A run's history length is the one the visibility store recorded at
// its close, or else the one DescribeWorkflowExecution gives.
func (env *Env) runsByPrefix(ctx context.Context, prefix string, want int, kind func(id string) string) (runSummary, error) {
	query := fmt.Sprintf("WorkflowId STARTS_WITH '%s'", strings.ReplaceAll(prefix, "'", `\'`))
	start := time.Now()
	var s runSummary
	for {
		runs, open, err := env.listRuns(ctx, query)
		if err != nil {
			return runSummary{}, fmt.Errorf("list runs of %s*: %w", prefix, err)
		}
		s = runSummary{runs: runs, open: open, complete: open == 0 && len(runs) >= want}
		if s.complete || time.Since(start) > time.Minute {
			break
		}
		select {
		case <-ctx.Done():
			return runSummary{}, ctx.Err()
		case <-time.After(time.Second):
		}
	}
	s.waited = time.Since(start)
	for i := range s.runs {
		r := &s.runs[i]
		r.kind = kind(r.id)
		if r.events == 0 {
			if desc, err := env.Temporal.DescribeWorkflowExecution(ctx, r.id, r.runID); err == nil {
				r.events = desc.GetWorkflowExecutionInfo().GetHistoryLength()
			}
		}
		if r.events > s.longest.events {
			s.longest = *r
		}
	}
	return s, nil
}

// listRuns returns every run the query matches and how many are open.
func (env *Env) listRuns(ctx context.Context, query string) (runs []runRecord, open int, err error) {
	var token []byte
	for {
		resp, err := env.Temporal.ListWorkflow(ctx, &workflowservice.ListWorkflowExecutionsRequest{
			Namespace: env.Opts.Namespace, PageSize: 1000, Query: query, NextPageToken: token,
		})
		if err != nil {
			return nil, 0, err
		}
		for _, ex := range resp.GetExecutions() {
			r := runRecord{
				id: ex.GetExecution().GetWorkflowId(), runID: ex.GetExecution().GetRunId(),
				status: ex.GetStatus(), events: ex.GetHistoryLength(),
			}
			if r.status == enumspb.WORKFLOW_EXECUTION_STATUS_RUNNING {
				open++
			}
			runs = append(runs, r)
		}
		if token = resp.GetNextPageToken(); len(token) == 0 {
			return runs, open, nil
		}
	}
}

// rollovers counts the runs of workflow id that continued as new.
func (s runSummary) rollovers(id string) int {
	n := 0
	for _, r := range s.runs {
		if r.id == id && r.status == enumspb.WORKFLOW_EXECUTION_STATUS_CONTINUED_AS_NEW {
			n++
		}
	}
	return n
}

func statusName(st enumspb.WorkflowExecutionStatus) string {
	return strings.ToLower(strings.TrimPrefix(st.String(), "WORKFLOW_EXECUTION_STATUS_"))
}

// format lists the runs per kind: how many, how they ended, their longest
// and mean history.
func (s runSummary) format(label string, err error) string {
	if err != nil {
		return fmt.Sprintf("    %s runs: %v\n", label, err)
	}
	type agg struct {
		n        int
		max, sum int64
		statuses map[string]int
	}
	kinds := map[string]*agg{}
	for _, r := range s.runs {
		a := kinds[r.kind]
		if a == nil {
			a = &agg{statuses: map[string]int{}}
			kinds[r.kind] = a
		}
		a.n++
		a.sum += r.events
		a.max = max(a.max, r.events)
		a.statuses[statusName(r.status)]++
	}
	var b strings.Builder
	state := fmt.Sprintf("all closed, listed after %.1f s", s.waited.Seconds())
	if !s.complete {
		state = fmt.Sprintf("INCOMPLETE after waiting %.0f s: %d still open", s.waited.Seconds(), s.open)
	}
	fmt.Fprintf(&b, "    %s runs (visibility store): %d, %s", label, len(s.runs), state)
	if r := s.longest; r.id != "" {
		fmt.Fprintf(&b, "; longest: %s %s run %s, %d events (%s)", r.kind, r.id, r.runID, r.events, statusName(r.status))
	}
	b.WriteString("\n")
	names := make([]string, 0, len(kinds))
	for k := range kinds {
		names = append(names, k)
	}
	sort.Strings(names)
	for _, k := range names {
		a := kinds[k]
		var st []string
		for name, c := range a.statuses {
			st = append(st, fmt.Sprintf("%d %s", c, name))
		}
		sort.Strings(st)
		fmt.Fprintf(&b, "      %-24s %6d runs (%s), events max %d, mean %.1f\n", k, a.n, strings.Join(st, ", "), a.max, float64(a.sum)/float64(a.n))
	}
	return b.String()
}

// taskFailures names the causes of a run's failed workflow tasks, with
// their counts ("" when none failed).
func (env *Env) taskFailures(ctx context.Context, id, runID string) string {
	hist, err := env.history(ctx, id, runID)
	if err != nil {
		return err.Error()
	}
	counts := map[string]int{}
	for _, ev := range hist {
		if a := ev.GetWorkflowTaskFailedEventAttributes(); a != nil {
			cause := strings.ToLower(strings.TrimPrefix(a.GetCause().String(), "WORKFLOW_TASK_FAILED_CAUSE_"))
			if msg := a.GetFailure().GetMessage(); msg != "" {
				cause += ": " + msg
			}
			counts[cause]++
		}
	}
	var out []string
	for cause, n := range counts {
		out = append(out, fmt.Sprintf("%d x %s", n, cause))
	}
	sort.Strings(out)
	return strings.Join(out, "; ")
}

// describeWorkflow says what a workflow's current run is doing: its status,
// history length, pending activities, children and workflow task, and its
// last events, for the details of a side that failed or stalled.
func (env *Env) describeWorkflow(ctx context.Context, id string) string {
	d, err := env.Temporal.DescribeWorkflowExecution(ctx, id, "")
	if err != nil {
		return fmt.Sprintf("      %s: %v\n", id, err)
	}
	info := d.GetWorkflowExecutionInfo()
	var b strings.Builder
	fmt.Fprintf(&b, "      %s: %s, run %s, %d events, %d pending activities, %d pending children",
		id, statusName(info.GetStatus()), info.GetExecution().GetRunId(), info.GetHistoryLength(), len(d.GetPendingActivities()), len(d.GetPendingChildren()))
	if wt := d.GetPendingWorkflowTask(); wt != nil {
		fmt.Fprintf(&b, ", workflow task %s (attempt %d)", strings.ToLower(strings.TrimPrefix(wt.GetState().String(), "PENDING_WORKFLOW_TASK_STATE_")), wt.GetAttempt())
	}
	b.WriteString("\n")
	for _, a := range d.GetPendingActivities() {
		fmt.Fprintf(&b, "        activity %s %s, attempt %d", a.GetActivityType().GetName(),
			strings.ToLower(strings.TrimPrefix(a.GetState().String(), "PENDING_ACTIVITY_STATE_")), a.GetAttempt())
		if msg := a.GetLastFailure().GetMessage(); msg != "" {
			fmt.Fprintf(&b, ", last failure: %s", msg)
		}
		b.WriteString("\n")
	}
	hist, err := env.history(ctx, id, info.GetExecution().GetRunId())
	if err != nil {
		fmt.Fprintf(&b, "        history: %v\n", err)
		return b.String()
	}
	fmt.Fprintf(&b, "        its last events:\n")
	for _, ev := range hist[max(0, len(hist)-12):] {
		fmt.Fprintf(&b, "          %5d %s %s\n", ev.GetEventId(), ev.GetEventTime().AsTime().Format("15:04:05.000"), describeEvent(ev))
	}
	return b.String()
}
