package tests

import (
	"bufio"
	"context"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/optio-temporal/optio/adapter"
	"github.com/optio-temporal/optio/internal/testenv"
	"github.com/optio-temporal/optio/internal/workerproc"
	"github.com/optio-temporal/optio/rpc"
	"github.com/optio-temporal/optio/rpc/engineapi"
)

// claimRaceIDs are the processes the launchers of TestHardeningClaimAcrossWorkers
// contend for.
var claimRaceIDs = []string{"race-a", "race-b", "race-c"}

// claimRaceTasks are claimRaceIDs, whose bodies write a line naming their
// process to dir/runs, then take a moment, so that launches meet runs that
// are scheduled, running and closing.
func claimRaceTasks(dir string) []adapter.TaskInstance {
	var out []adapter.TaskInstance
	for _, id := range claimRaceIDs {
		out = append(out, adapter.TaskInstance{ProcessID: id, Name: "Race " + id, Execute: func(pc *adapter.ProcessContext) error {
			f, err := os.OpenFile(filepath.Join(dir, "runs"), os.O_APPEND|os.O_CREATE|os.O_WRONLY, 0o600)
			if err != nil {
				return err
			}
			_, err = fmt.Fprintf(f, "%s %d\n", pc.ProcessID(), os.Getpid())
			if cerr := f.Close(); err == nil {
				err = cerr
			}
			time.Sleep(30 * time.Millisecond)
			return err
		}})
	}
	return out
}

// claimRaceWorker is the second worker: the RPC tests' tasks and the race's,
// exactly as the test's own engine has them (the same definitions, so that
// neither engine's sync changes the other's).
var claimRaceWorker = workerproc.Register("claim-race", func(params map[string]string) workerproc.Tasks {
	tasks, _ := (&rpcTasks{}).generate(context.Background(), nil, nil)
	return workerproc.Tasks{Definitions: append(tasks, claimRaceTasks(params["dir"])...)}
})

// Hardening, point 2: two engines in two processes (the test's, and a second
// worker pointed at the same servers) serve the optio-engine service on one
// embedded Mongo-wire server, and six RPC launchers hammer launches of three
// processes for some seconds. Every acknowledged launch runs its body
// (exactly once), a refused one says not-launchable, and no call fails.
func TestHardeningClaimAcrossWorkers(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	env := testenv.New(t)
	tasks := &rpcTasks{}
	race := claimRaceTasks(dir)
	tasks.extra.Store(&race)
	h := newRPCHarness(t, rpcHarnessOptions{env: env, tasks: tasks})
	w := workerproc.Start(t, workerproc.Config{
		HostPort: env.Temporal.HostPort, Namespace: env.Temporal.Namespace,
		MongoURI: env.Mongo.URI, Database: env.Mongo.Name,
		RedisURL: env.RedisURL,
		TaskSet:  claimRaceWorker,
		Params:   map[string]string{"dir": dir},
	})
	const launchers = 6
	const hammer = 10 * time.Second
	var (
		mu       sync.Mutex
		acked    = map[string]int{}
		refused  = map[string]int{}
		failures []string
	)
	stop := time.Now().Add(hammer)
	var wg sync.WaitGroup
	for i := range launchers {
		client := h.newClient()
		wg.Go(func() {
			for n := i; time.Now().Before(stop); n++ {
				id := claimRaceIDs[n%len(claimRaceIDs)]
				var out map[string]any
				err := client.Call(h.ctx, engineapi.Service, "launch", launchArgs(id), &out)
				mu.Lock()
				switch {
				case err != nil:
					failures = append(failures, fmt.Sprintf("launch %s: %v", id, err))
				case out["ok"] == true:
					acked[id]++
				default:
					refused[fmt.Sprint(out["reason"])]++
				}
				mu.Unlock()
			}
		})
	}
	wg.Wait()
	// Both engines took calls: each has read commands from the stream.
	consumers, err := h.rdb.XInfoConsumers(h.ctx, rpc.CommandStream(h.prefix, engineapi.Service), engineapi.Service).Result()
	require.NoError(t, err)
	require.Len(t, consumers, 2, "the two engines' RPC consumers")
	for _, id := range claimRaceIDs {
		h.waitState(id, adapter.StateDone, adapter.StateFailed, adapter.StateCancelled)
	}
	runs, inWorker := countClaimRaceRuns(t, dir, w.Pid())

	acks, ran := 0, 0
	for _, id := range claimRaceIDs {
		acks += acked[id]
		ran += runs[id]
	}
	t.Logf("%d launch calls in %s by %d launchers: %d acknowledged, %d refused %v, %d failed; %d body runs (%d in the worker process); ends: %s",
		acks+countAll(refused)+len(failures), hammer, launchers, acks, countAll(refused), refused, len(failures), ran, inWorker, claimRaceEnds(h))
	for _, f := range failures {
		t.Logf("failed: %s", f)
	}
	assert.Empty(t, failures, "launch calls that failed")
	for reason := range refused {
		require.Equal(t, string(adapter.ReasonNotLaunchable), reason, "a refused launch says why")
	}
	require.Positive(t, acks)
	require.Positive(t, inWorker, "some bodies ran in the worker process")
	for _, id := range claimRaceIDs {
		assert.Equal(t, acked[id], runs[id], "%s: body runs for its acknowledged launches", id)
		assert.Equal(t, adapter.StateDone, h.get(id).Status.State, "%s: the last run ended done", id)
	}
}

// countClaimRaceRuns reads the bodies' lines: runs by process, and how many
// ran in the worker process pid.
func countClaimRaceRuns(t *testing.T, dir string, pid int) (map[string]int, int) {
	t.Helper()
	f, err := os.Open(filepath.Join(dir, "runs"))
	require.NoError(t, err)
	defer f.Close()
	runs := map[string]int{}
	inWorker := 0
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		id, p, ok := strings.Cut(sc.Text(), " ")
		require.True(t, ok, "line %q", sc.Text())
		runs[id]++
		if p == fmt.Sprint(pid) {
			inWorker++
		}
	}
	require.NoError(t, sc.Err())
	return runs, inWorker
}

// claimRaceEnds says how each race process ended, with the error of a failed
// one.
func claimRaceEnds(h *rpcHarness) string {
	var parts []string
	for _, id := range claimRaceIDs {
		p := h.get(id)
		s := fmt.Sprintf("%s %s", id, p.Status.State)
		if p.Status.Error != nil {
			s += fmt.Sprintf(" (%s)", *p.Status.Error)
		}
		parts = append(parts, s)
	}
	return strings.Join(parts, ", ")
}

// countAll adds up a tally.
func countAll(m map[string]int) int {
	n := 0
	for _, v := range m {
		n += v
	}
	return n
}
