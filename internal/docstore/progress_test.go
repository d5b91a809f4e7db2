package docstore

import (
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/optio-temporal/optio/mirror"
)

// progressRun starts a run of a fresh process on a fresh store and returns
// a ProgressBuffer for it, flushing every interval, and a function that
// closes the buffer and returns the info lines of the process's log.
func progressRun(t *testing.T, interval time.Duration) (*ProgressBuffer, func() []string) {
	t.Helper()
	return progressRunLines(t, interval, func(e mirror.LogEntry) (string, bool) {
		return e.Message, e.Level == mirror.LevelInfo
	})
}

// progressRunLines is progressRun whose function returns the log's lines
// that line keeps, as it writes them.
func progressRunLines(t *testing.T, interval time.Duration, line func(mirror.LogEntry) (string, bool)) (*ProgressBuffer, func() []string) {
	t.Helper()
	s := newTestStore(t)
	ctx := t.Context()
	_, err := s.UpsertDefinition(ctx, Definition{ProcessID: "chatty", Name: "Chatty"})
	require.NoError(t, err)
	p, err := s.ResolveAndClaim(ctx, "chatty", nil, func(*mirror.Process) error { return nil })
	require.NoError(t, err)
	started, err := s.StartClaimed(ctx, p.ID, ClaimStamp(p))
	require.NoError(t, err)
	b := NewProgressBuffer(s, p.ID, *started.Status.RunningSince, interval, nil)
	t.Cleanup(func() { _ = b.Close(ctx) })
	return b, func() []string {
		t.Helper()
		require.NoError(t, b.Close(ctx))
		got, err := s.Get(ctx, p.ID)
		require.NoError(t, err)
		var lines []string
		for _, e := range got.Log {
			if l, ok := line(e); ok {
				lines = append(lines, l)
			}
		}
		return lines
	}
}

// report reports messages "from".."to" (with percent equal to the number)
// in a tight loop.
func report(b *ProgressBuffer, from, to int) {
	for i := from; i <= to; i++ {
		pct, msg := float64(i), strconv.Itoa(i)
		b.Report(&pct, &msg)
	}
}

// numbers returns "from".."to".
func numbers(from, to int) []string {
	var s []string
	for i := from; i <= to; i++ {
		s = append(s, strconv.Itoa(i))
	}
	return s
}

// waitFirstWrite waits until the buffer's first write (made as soon as the
// first report wakes it) has taken what was pending, so that a burst
// reported next spans two flushes, as a long burst does.
func waitFirstWrite(t *testing.T, b *ProgressBuffer) {
	t.Helper()
	require.Eventually(t, func() bool { return b.Writes() >= 1 }, time.Second, 100*time.Microsecond)
}

// TestProgressBurstLogsTenThenSummaryThenLast: a burst of 30 reports, the
// first of them written by a flush of its own, logs the first 10 messages,
// "(19 messages dropped)" and the last, as optio-core does (calls 1-10 are
// quiet, 11 is held, 12-30 each replace the one held): which messages are
// logged is decided as each is reported, not by how many one flush finds.
func TestProgressBurstLogsTenThenSummaryThenLast(t *testing.T) {
	b, lines := progressRun(t, time.Hour)
	report(b, 1, 1)
	waitFirstWrite(t, b)
	report(b, 2, 30)
	want := append(numbers(1, 10), "(19 messages dropped)", "30")
	require.Equal(t, want, lines())
	require.Equal(t, "30", *b.Latest().Message)
}

// TestProgressTenFastReportsAreAllLogged: 10 reports within 100 ms are all
// logged, with no summary (avalanche mode starts with the 11th); so are two
// such rounds 150 ms apart, as the window counts reports of the last 100 ms,
// however many one flush finds (here the final flush finds 19).
func TestProgressTenFastReportsAreAllLogged(t *testing.T) {
	t.Run("once", func(t *testing.T) {
		b, lines := progressRun(t, 0)
		report(b, 1, 10)
		require.Equal(t, numbers(1, 10), lines())
	})
	t.Run("twice, 150 ms apart", func(t *testing.T) {
		b, lines := progressRun(t, time.Hour)
		report(b, 1, 1)
		waitFirstWrite(t, b)
		report(b, 2, 10)
		time.Sleep(150 * time.Millisecond)
		report(b, 11, 20)
		require.Equal(t, numbers(1, 20), lines())
	})
}

// TestProgressQuietReportAfterBurst: a report more than 100 ms after a burst
// is quiet: the log has the burst's first 10 messages, its summary, its last
// message, then the quiet one.
func TestProgressQuietReportAfterBurst(t *testing.T) {
	b, lines := progressRun(t, 0)
	report(b, 1, 1)
	waitFirstWrite(t, b)
	report(b, 2, 30)
	time.Sleep(150 * time.Millisecond)
	report(b, 31, 31)
	want := append(numbers(1, 10), "(19 messages dropped)", "30", "31")
	require.Equal(t, want, lines())
}

// TestProgressSlowReportsAreAllLogged: reports 15 ms apart (never more than
// 10 within 100 ms) are all logged, in order, however many one flush finds
// (here, with an interval of a second, the final flush finds 14).
func TestProgressSlowReportsAreAllLogged(t *testing.T) {
	b, lines := progressRun(t, time.Second)
	for i := 1; i <= 15; i++ {
		report(b, i, i)
		time.Sleep(15 * time.Millisecond)
	}
	require.Equal(t, numbers(1, 15), lines())
}

// A percent-only report adds no log line and does not count towards the
// window: 10 messages with percent-only reports between them are all
// logged.
func TestProgressPercentOnlyReportsDoNotCount(t *testing.T) {
	b, lines := progressRun(t, time.Hour)
	for i := 1; i <= 10; i++ {
		report(b, i, i)
		pct := float64(i)
		b.Report(&pct, nil)
	}
	require.Equal(t, numbers(1, 10), lines())
	require.Nil(t, b.Latest().Message)
}

// TestProgressLogEntriesKeepTheirPlace: entries queued with Log (a refused
// child's event) are written in their place among the messages, and do not
// count towards avalanche detection: 30 of them between 10 fast messages
// leave every message logged.
func TestProgressLogEntriesKeepTheirPlace(t *testing.T) {
	b, lines := progressRunLines(t, time.Hour, func(e mirror.LogEntry) (string, bool) {
		return string(e.Level) + " " + e.Message, e.Level == mirror.LevelInfo || strings.HasPrefix(e.Message, "refused")
	})
	report(b, 1, 5)
	var want []string
	for _, n := range numbers(1, 5) {
		want = append(want, "info "+n)
	}
	for i := range 30 {
		m := "refused " + strconv.Itoa(i)
		b.Log(mirror.LevelEvent, m)
		want = append(want, "event "+m)
	}
	report(b, 6, 10)
	for _, n := range numbers(6, 10) {
		want = append(want, "info "+n)
	}
	require.Equal(t, want, lines())
	require.Equal(t, "10", *b.Latest().Message, "Log changes no progress")
}
