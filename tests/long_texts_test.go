package tests

import (
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/optio-temporal/optio/adapter"
)

// TestLongTextsAreClipped: a body that reports a progress message of 3 MB,
// or returns an error of 3 MB, ends as it would with a short one, the text
// kept to its first adapter.MaxMessageSize bytes with a note of its length.
// Kept whole, the message went into the body's heartbeat, past Temporal's 2
// MB payload limit, and failed the process ("[TMPRL1103] Attempted to
// upload payloads with size that exceeded the error limit"); on MongoDB a
// few such texts also pass the 16 MB document limit.
func TestLongTextsAreClipped(t *testing.T) {
	long := strings.Repeat("m", 3<<20)
	s := newSystem(t, adapter.Config{TaskDefinitions: staticTasks(
		adapter.TaskInstance{ProcessID: "talker", Name: "Talker", Execute: func(pc *adapter.ProcessContext) error {
			pc.ReportProgress(50, long)
			time.Sleep(time.Second) // a heartbeat or two carry the message
			return nil
		}},
		adapter.TaskInstance{ProcessID: "failer", Name: "Failer", Execute: func(*adapter.ProcessContext) error {
			return errors.New(long)
		}},
	)})
	clipped := long[:adapter.MaxMessageSize] + "... (3145728 bytes in all, cut to 32768)"

	p := s.run("talker")
	require.Equal(t, clipped, *p.Progress.Message)
	require.Contains(t, logLines(p), "info: "+clipped)

	p, err := s.eng.LaunchAndWait(s.ctx(), "failer")
	require.NoError(t, err)
	require.Equal(t, adapter.StateFailed, p.Status.State)
	require.Equal(t, clipped, *p.Status.Error)
}
