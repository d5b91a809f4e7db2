package tests

import (
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"
	enumspb "go.temporal.io/api/enums/v1"
	historypb "go.temporal.io/api/history/v1"
	"go.temporal.io/sdk/worker"
	"google.golang.org/protobuf/encoding/protojson"
)

// historiesDir holds histories that earlier code wrote, one JSON file each,
// named {code}__{what}.json: every one must replay under the current code,
// so that a change to a workflow that would break the runs an older engine
// left open fails here.
const historiesDir = "testdata/histories"

// recordEnv, set to a label for the code that runs (e.g. a commit), makes
// TestWorkflowRevisionsRunAndReplay write the histories it produced to
// historiesDir under that label. Record before changing a workflow.
const recordEnv = "OPTIO_RECORD_HISTORIES"

func TestRecordedHistoriesReplay(t *testing.T) {
	files, err := filepath.Glob(filepath.Join(historiesDir, "*.json"))
	require.NoError(t, err)
	require.NotEmpty(t, files, "no recorded histories in %s", historiesDir)
	replayer := newReplayer()
	for _, f := range files {
		t.Run(strings.TrimSuffix(filepath.Base(f), ".json"), func(t *testing.T) {
			b, err := os.ReadFile(f)
			require.NoError(t, err)
			var h historypb.History
			require.NoError(t, protojson.Unmarshal(b, &h))
			require.NotEmpty(t, h.Events)
			require.NoError(t, replayHistory(replayer, &h))
		})
	}
}

// replayHistory replays h. A run that a reset started is replayed under its
// own run ID, which the reset's failed workflow task names: the workflows
// tell such a run by its run ID, which the replayer otherwise takes from the
// run the first reset replaced.
func replayHistory(replayer worker.WorkflowReplayer, h *historypb.History) error {
	var opts worker.ReplayWorkflowHistoryOptions
	for _, ev := range h.Events {
		if a := ev.GetWorkflowTaskFailedEventAttributes(); a.GetCause() == enumspb.WORKFLOW_TASK_FAILED_CAUSE_RESET_WORKFLOW {
			opts.OriginalExecution.RunID = a.GetNewRunId()
		}
	}
	return replayer.ReplayWorkflowHistoryWithOptions(nil, h, opts)
}

// runHistory reads the history of run runID ("": the current one) of
// process processID's workflow.
func (s *system) runHistory(processID, runID string) *historypb.History {
	s.t.Helper()
	h := &historypb.History{}
	it := s.temporal().GetWorkflowHistory(s.ctx(), s.eng.WorkflowID(processID), runID, false, enumspb.HISTORY_EVENT_FILTER_TYPE_ALL_EVENT)
	for it.HasNext() {
		ev, err := it.Next()
		require.NoError(s.t, err)
		h.Events = append(h.Events, ev)
	}
	return h
}

// recordHistories writes histories to historiesDir when recordEnv is set.
func recordHistories(t *testing.T, histories map[string]*historypb.History) {
	label := os.Getenv(recordEnv)
	if label == "" {
		return
	}
	require.NoError(t, os.MkdirAll(historiesDir, 0o755))
	unsafe := regexp.MustCompile(`[^a-zA-Z0-9.-]+`)
	for name, h := range histories {
		b, err := protojson.MarshalOptions{Indent: " "}.Marshal(h)
		require.NoError(t, err)
		file := filepath.Join(historiesDir, unsafe.ReplaceAllString(label, "-")+"__"+unsafe.ReplaceAllString(name, "-")+".json")
		require.NoError(t, os.WriteFile(file, b, 0o644))
	}
}
