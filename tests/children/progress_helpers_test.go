package children

import (
	"fmt"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/optio-temporal/optio/adapter"
)

// waitPercent polls the parent's document until its percent is want.
func (h *harness) waitPercent(id string, want float64) {
	h.t.Helper()
	require.Eventually(h.t, func() bool {
		p, err := h.eng.GetProcess(h.ctx, id)
		return err == nil && p.Progress.Percent != nil && *p.Progress.Percent == want
	}, 30e9, 10e6, "%s never reported %.1f%%", id, want)
}

// SequentialProgress over 4 children moves the parent to 25/50/75/100 as each
// finishes; MappedProgress maps a child into a sub-range; AverageProgress
// averages a group. All checked on the parent's document.
func TestProgressHelpersOnParentDocument(t *testing.T) {
	g := newGates()
	gatedChild := func(pc *adapter.ProcessContext) error {
		pc.ReportProgress(50, "")
		g.wait(pc, pc.ProcessID())
		return nil
	}
	seq := adapter.TaskInstance{ProcessID: "seq", Name: "Seq", Execute: func(pc *adapter.ProcessContext) error {
		cb := adapter.SequentialProgress(pc, 4)
		for i := range 4 {
			if _, err := pc.RunChild(adapter.ChildSpec{ProcessID: fmt.Sprintf("seq/%d", i), Name: "Step", Execute: gatedChild, OnChildProgress: cb}); err != nil {
				return err
			}
		}
		return nil
	}}
	mapped := adapter.TaskInstance{ProcessID: "mapped", Name: "Mapped", Execute: func(pc *adapter.ProcessContext) error {
		_, err := pc.RunChild(adapter.ChildSpec{ProcessID: "mapped/0", Name: "Quarter", Execute: gatedChild, OnChildProgress: adapter.MappedProgress(pc, 0.25, 0.5)})
		return err
	}}
	avg := adapter.TaskInstance{ProcessID: "avg", Name: "Avg", Execute: func(pc *adapter.ProcessContext) error {
		grp := pc.ParallelGroup(adapter.GroupOptions{OnChildProgress: adapter.AverageProgress(pc)})
		for i := range 2 {
			if err := grp.Spawn(adapter.ChildSpec{ProcessID: fmt.Sprintf("avg/%d", i), Name: "Half", Execute: gatedChild}); err != nil {
				return err
			}
		}
		_, err := grp.Wait()
		return err
	}}
	h := newHarness(t, seq, mapped, avg)

	h.launch("seq")
	for i := range 4 {
		id := fmt.Sprintf("seq/%d", i)
		h.waitPercent("seq", float64(i)*25+12.5) // the running child at 50% fills half its slot
		g.open(id)
		h.waitPercent("seq", float64(i+1)*25)
	}
	assert.Equal(t, adapter.StateDone, h.waitState("seq", adapter.StateDone).Status.State)

	h.launch("mapped")
	h.waitPercent("mapped", 37.5)
	g.open("mapped/0")
	h.waitPercent("mapped", 50)

	h.launch("avg")
	h.waitPercent("avg", 50)
	g.open("avg/0")
	h.waitPercent("avg", 75)
	g.open("avg/1")
	h.waitPercent("avg", 100)
	h.waitState("avg", adapter.StateDone)
}
