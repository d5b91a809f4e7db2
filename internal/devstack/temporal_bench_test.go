package devstack

import (
	"context"
	"slices"
	"sync"
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

// BenchmarkTemporalSustainedLoad starts bursts of 100 concurrent runs of
// greetWorkflow, one burst per iteration, and reports the process's CPU
// (server, worker and client together) per run in the first and in the
// last quarter of the bursts (cpu-ms/run-early, cpu-ms/run-late) and their
// ratio (late/early). A server whose cost per run grows with the load it
// has had shows a ratio above 1. The sub-benchmark ack=30s runs the server
// with Temporal's own checkpoint interval of its task queues, which the
// dev stack lowers (see dynamicConfig). The difference (in ns/op, a
// burst's wall time, and in late/early) shows once the bursts outlast
// that interval several times over:
// go test ./internal/devstack -run XXX -bench SustainedLoad -benchtime 100x
func BenchmarkTemporalSustainedLoad(b *testing.B) {
	ackDefault := map[string]any{}
	for _, k := range []dynamicconfig.Key{
		dynamicconfig.TransferProcessorUpdateAckInterval.Key(),
		dynamicconfig.TimerProcessorUpdateAckInterval.Key(),
		dynamicconfig.VisibilityProcessorUpdateAckInterval.Key(),
		dynamicconfig.OutboundProcessorUpdateAckInterval.Key(),
	} {
		ackDefault[k.String()] = 30 * time.Second
	}
	for _, bc := range []struct {
		name string
		dc   map[string]any
	}{
		{"devstack", nil},
		{"ack=30s", ackDefault},
	} {
		b.Run(bc.name, func(b *testing.B) {
			c := dialWorker(b, startTemporal(b, TemporalConfig{DynamicConfig: bc.dc}))
			ctx := context.Background()
			const runs = 100
			burst := func() {
				var wg sync.WaitGroup
				errs := make(chan error, runs)
				for range runs {
					wg.Go(func() {
						r, err := c.ExecuteWorkflow(ctx, client.StartWorkflowOptions{TaskQueue: testQueue}, greetWorkflow, "bench")
						if err == nil {
							err = r.Get(ctx, nil)
						}
						errs <- err
					})
				}
				wg.Wait()
				close(errs)
				for err := range errs {
					require.NoError(b, err)
				}
			}
			burst() // warm up the task queue and the worker's caches
			var perRun []time.Duration
			for b.Loop() {
				cpu := processCPU()
				burst()
				perRun = append(perRun, (processCPU()-cpu)/runs)
			}
			quarter := max(len(perRun)/4, 1)
			early := meanMillis(perRun[:quarter])
			late := meanMillis(perRun[len(perRun)-quarter:])
			b.ReportMetric(early, "cpu-ms/run-early")
			b.ReportMetric(late, "cpu-ms/run-late")
			b.ReportMetric(late/early, "late/early")
		})
	}
}

// meanMillis returns the mean of d in milliseconds.
func meanMillis(d []time.Duration) float64 {
	var sum time.Duration
	for _, x := range d {
		sum += x
	}
	return millis(sum) / float64(len(d))
}
