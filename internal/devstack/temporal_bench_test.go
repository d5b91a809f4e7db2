package devstack

import (
	"context"
	"slices"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
	enumspb "go.temporal.io/api/enums/v1"
	historypb "go.temporal.io/api/history/v1"
	"go.temporal.io/sdk/client"
	"go.temporal.io/server/common/dynamicconfig"
)

// BenchmarkTemporalWorkflowTaskDispatch runs greetWorkflow (one activity)
// one run at a time on an otherwise idle server and reports the median time
// a workflow task waited between its scheduled and started events
// (wft-wait-ms), that is the time the server took to hand a new task to the
// worker polling for it, and the median and longest time from start to
// result (run-p50-ms, run-max-ms). The longest shows a waiter that missed
// its run's close (see dynamicConfig), which also weighs on ns/op. The
// sub-benchmark transfer-rps=20 runs the server with Temporal's own rate
// of transfer task loads, which the dev stack raises.
func BenchmarkTemporalWorkflowTaskDispatch(b *testing.B) {
	for _, bc := range []struct {
		name string
		dc   map[string]any
	}{
		{"devstack", nil},
		{"transfer-rps=20", map[string]any{dynamicconfig.TransferProcessorMaxPollRPS.Key().String(): 20}},
	} {
		b.Run(bc.name, func(b *testing.B) {
			c := dialWorker(b, startTemporal(b, TemporalConfig{DynamicConfig: bc.dc}))
			ctx := context.Background()
			var took []time.Duration
			run := func() client.WorkflowRun {
				start := time.Now()
				r, err := c.ExecuteWorkflow(ctx, client.StartWorkflowOptions{TaskQueue: testQueue}, greetWorkflow, "bench")
				require.NoError(b, err)
				require.NoError(b, r.Get(ctx, nil))
				took = append(took, time.Since(start))
				return r
			}
			for range 3 {
				run() // warm up the task queue and the worker's caches
			}
			took = took[:0]
			var runs []client.WorkflowRun
			for b.Loop() {
				runs = append(runs, run())
			}
			b.ReportMetric(medianMillis(workflowTaskWaits(b, c, runs)), "wft-wait-ms")
			b.ReportMetric(medianMillis(took), "run-p50-ms")
			b.ReportMetric(millis(slices.Max(took)), "run-max-ms")
		})
	}
}

// workflowTaskWaits returns, for every workflow task of the runs, the time
// between its scheduled and started events.
func workflowTaskWaits(b *testing.B, c client.Client, runs []client.WorkflowRun) []time.Duration {
	var waits []time.Duration
	for _, r := range runs {
		var scheduled time.Time
		eachEvent(b, c, r, func(e *historypb.HistoryEvent) {
			switch e.GetEventType() {
			case enumspb.EVENT_TYPE_WORKFLOW_TASK_SCHEDULED:
				scheduled = e.GetEventTime().AsTime()
			case enumspb.EVENT_TYPE_WORKFLOW_TASK_STARTED:
				waits = append(waits, e.GetEventTime().AsTime().Sub(scheduled))
			}
		})
	}
	require.NotEmpty(b, waits)
	return waits
}

// medianMillis sorts d and returns its median in milliseconds.
func medianMillis(d []time.Duration) float64 {
	slices.Sort(d)
	return millis(d[len(d)/2])
}

func millis(d time.Duration) float64 { return float64(d.Microseconds()) / 1000 }
