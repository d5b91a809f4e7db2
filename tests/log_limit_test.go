package tests

import (
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/optio-temporal/optio/adapter"
)

// A log keeps at most Config.LogLimit entries, the newest: a body that
// reports many progress messages, and a parent of many children (one
// "Spawned child" entry each), keep their documents bounded, ending with the
// latest entries and the final state change.
func TestLogKeepsTheNewestEntriesWithinItsLimit(t *testing.T) {
	const limit = 40
	s := newSystem(t, adapter.Config{LogLimit: limit, TaskDefinitions: staticTasks(
		adapter.TaskInstance{ProcessID: "chatty", Name: "Chatty", Execute: func(pc *adapter.ProcessContext) error {
			for i := range 150 {
				pc.ReportProgress(float64(i), fmt.Sprintf("message %03d", i))
				// Slow enough (at most 10 a 100 ms) that every message is
				// logged, not summarised as an avalanche.
				time.Sleep(15 * time.Millisecond)
			}
			return nil
		}},
		adapter.TaskInstance{ProcessID: "parent", Name: "Parent", Execute: func(pc *adapter.ProcessContext) error {
			g := pc.ParallelGroup(adapter.GroupOptions{MaxConcurrency: 20})
			for i := range 100 {
				if err := g.Spawn(adapter.ChildSpec{
					ProcessID: fmt.Sprintf("parent/%03d", i), Name: fmt.Sprintf("child %03d", i),
					Execute: func(*adapter.ProcessContext) error { return nil },
				}); err != nil {
					return err
				}
			}
			_, err := g.Wait()
			return err
		}},
	)})

	chatty := s.run("chatty")
	require.Equal(t, adapter.StateDone, chatty.Status.State)
	require.LessOrEqual(t, len(chatty.Log), limit)
	require.Greater(t, len(chatty.Log), limit/2, "the oldest entries are dropped, not all")
	require.NotEqual(t, "State changed to scheduled", chatty.Log[0].Message, "the oldest entries are dropped")
	last := chatty.Log[len(chatty.Log)-1]
	require.Equal(t, "State changed to done", last.Message)
	require.Equal(t, "message 149", chatty.Log[len(chatty.Log)-2].Message, "the newest message is kept")

	parent := s.run("parent")
	require.Equal(t, adapter.StateDone, parent.Status.State)
	require.LessOrEqual(t, len(parent.Log), limit)
	spawned := 0
	for _, e := range parent.Log {
		if strings.HasPrefix(e.Message, "Spawned child: ") {
			spawned++
		}
	}
	require.Greater(t, spawned, limit/2)
	require.NotEqual(t, "State changed to scheduled", parent.Log[0].Message, "the oldest entries are dropped")
	require.Equal(t, "State changed to done", parent.Log[len(parent.Log)-1].Message)
	require.Equal(t, adapter.StateDone, s.get("parent/099").Status.State, "every child ran")
}

// A negative LogLimit keeps every entry, as optio-core does.
func TestLogLimitNegativeKeepsEverything(t *testing.T) {
	s := newSystem(t, adapter.Config{LogLimit: -1, TaskDefinitions: staticTasks(
		adapter.TaskInstance{ProcessID: "parent", Name: "Parent", Execute: func(pc *adapter.ProcessContext) error {
			for i := range 30 {
				if _, err := pc.RunChild(adapter.ChildSpec{
					ProcessID: fmt.Sprintf("parent/%02d", i), Name: fmt.Sprintf("child %02d", i),
					Execute: func(*adapter.ProcessContext) error { return nil },
				}); err != nil {
					return err
				}
			}
			return nil
		}},
	)})
	parent := s.run("parent")
	require.Equal(t, adapter.StateDone, parent.Status.State)
	require.Len(t, parent.Log, 2+30+1, "scheduled, running, 30 spawned, done")
}

// A log keeps at most Config.LogBytes bytes, the newest entries: long
// progress messages, and the "Spawned child" entries of children with long
// names, are dropped from the oldest on, and the log ends with the newest
// entries and the final state change.
func TestLogKeepsTheNewestEntriesWithinItsSize(t *testing.T) {
	const size = 64 << 10
	long := strings.Repeat("x", 4000)
	s := newSystem(t, adapter.Config{LogBytes: size, TaskDefinitions: staticTasks(
		adapter.TaskInstance{ProcessID: "verbose", Name: "Verbose", Execute: func(pc *adapter.ProcessContext) error {
			for i := range 60 {
				pc.ReportProgress(float64(i), fmt.Sprintf("message %03d %s", i, long))
				time.Sleep(20 * time.Millisecond)
			}
			return nil
		}},
		adapter.TaskInstance{ProcessID: "parent", Name: "Parent", Execute: func(pc *adapter.ProcessContext) error {
			for i := range 30 {
				if _, err := pc.RunChild(adapter.ChildSpec{
					ProcessID: fmt.Sprintf("parent/%02d", i), Name: fmt.Sprintf("child %02d %s", i, long),
					Execute: func(*adapter.ProcessContext) error { return nil },
				}); err != nil {
					return err
				}
			}
			return nil
		}},
	)})

	logBytes := func(p *adapter.Process) int {
		n := 0
		for _, e := range p.Log {
			n += len(e.Message)
		}
		return n
	}
	verbose := s.run("verbose")
	require.Equal(t, adapter.StateDone, verbose.Status.State)
	require.LessOrEqual(t, logBytes(verbose), size)
	require.Greater(t, logBytes(verbose), size/2, "the oldest entries are dropped, not all")
	require.NotEqual(t, "State changed to scheduled", verbose.Log[0].Message, "the oldest entries are dropped")
	require.Equal(t, "State changed to done", verbose.Log[len(verbose.Log)-1].Message)
	require.True(t, strings.HasPrefix(verbose.Log[len(verbose.Log)-2].Message, "message 059 "), "the newest message is kept")

	parent := s.run("parent")
	require.Equal(t, adapter.StateDone, parent.Status.State)
	require.LessOrEqual(t, logBytes(parent), size)
	require.NotEqual(t, "State changed to scheduled", parent.Log[0].Message, "the oldest entries are dropped")
	require.True(t, strings.HasPrefix(parent.Log[len(parent.Log)-2].Message, "Spawned child: child 29 "), "the newest child's entry is kept")
	require.Equal(t, "State changed to done", parent.Log[len(parent.Log)-1].Message)
}
