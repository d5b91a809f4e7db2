package tests

import (
	"errors"
	"fmt"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/optio-temporal/optio/adapter"
)

// TestLargeChildSpecs: a child's spec travels to its parent's children
// workflow in a workflow update, whose payload the server caps at 2 MB. A
// spec past adapter.MaxChildSpecSize is refused at once with
// ErrInvalidInput and writes nothing; specs under it run, several of them
// in one update as long as they fit in 512 KB (the adapter's TestBatchLen
// checks the cut). Before the bound, twelve children of 240 KB of params
// each (2.9 MB) went in one update the server refused, and their parent's
// body waited for them for a minute; a run of that size weighs too much on
// the shared test server to be a test of its own.
func TestLargeChildSpecs(t *testing.T) {
	const children = 3
	tooBig := map[string]any{"blob": strings.Repeat("b", adapter.MaxChildSpecSize)}
	params := map[string]any{"blob": strings.Repeat("p", 240<<10)}
	errs := make(chan error, 2)
	s := launchParent(t, func(pc *adapter.ProcessContext) error {
		_, err := pc.RunChild(adapter.ChildSpec{ProcessID: "parent/too-big", Name: "Too big", Params: tooBig, Execute: quick})
		errs <- err
		g := pc.ParallelGroup(adapter.GroupOptions{})
		errs <- g.Spawn(adapter.ChildSpec{ProcessID: "parent/too-big", Name: "Too big", Params: tooBig, Execute: quick})
		for i := range children {
			if err := g.Spawn(adapter.ChildSpec{ProcessID: fmt.Sprintf("parent/c%d", i), Name: "C", Params: params, Execute: func(pc *adapter.ProcessContext) error {
				if len(pc.Params()["blob"].(string)) != 240<<10 {
					return errors.New("params cut")
				}
				return nil
			}}); err != nil {
				return err
			}
		}
		_, err = g.Wait()
		return err
	})
	for range 2 {
		err := receiveWithin(t, errs, "a too large child was not refused")
		require.True(t, errors.Is(err, adapter.ErrInvalidInput), "want ErrInvalidInput, got %v", err)
		require.ErrorContains(t, err, "more than MaxChildSpecSize")
	}
	p := s.requireEnd("parent", adapter.StateDone)
	for i := range children {
		require.Equal(t, adapter.StateDone, s.get(fmt.Sprintf("parent/c%d", i)).Status.State, "parent's log:\n%s", formatLog(p))
	}
	require.True(t, s.gone("parent/too-big"), "a document was written for the refused child")
}
