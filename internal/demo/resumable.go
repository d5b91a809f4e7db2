package demo

import (
	"fmt"
	"time"

	"github.com/optio-temporal/optio/adapter"
)

// ResumableID is the process ID of demo-resumable.
const ResumableID = "demo-resumable"

// demo-resumable's length: 40 steps of 250 ms.
const (
	resumableSteps      = 40
	resumableStepMillis = 250
)

// resumableTask declares demo-resumable: it saves a checkpoint after every
// step, supports resume, and resumes by itself after an engine restart.
func resumableTask() adapter.TaskInstance {
	return adapter.TaskInstance{
		Execute:   runResumable,
		ProcessID: ResumableID,
		Name:      "Demo: resumable",
		Description: "40 steps of 250 ms with a checkpoint after each. Kill the worker, or cancel it and resume it, " +
			"and it continues from its last checkpoint.",
		Params:         map[string]any{ParamSteps: resumableSteps, ParamStepMillis: resumableStepMillis},
		Metadata:       map[string]any{"group": "demo", "kind": "resumable"},
		SupportsResume: true,
		AutoResume:     true,
	}
}

// resumablePoint is demo-resumable's checkpoint: the number of steps done.
type resumablePoint struct {
	Done int `json:"done"`
}

// runResumable runs its steps from the last checkpoint on: a re-run after a
// lost worker or a resume starts with a log entry saying from which step it
// continues. Once every step is done it clears its saved state, so that a
// later resume starts over.
func runResumable(pc *adapter.ProcessContext) error {
	steps := intParam(pc.Params(), ParamSteps, resumableSteps)
	step := time.Duration(intParam(pc.Params(), ParamStepMillis, resumableStepMillis)) * time.Millisecond

	var at resumablePoint
	found, err := pc.LoadCheckpoint(&at)
	if err != nil {
		return err
	}
	if kind := pc.RunKind(); kind != adapter.FreshRun {
		if !found {
			at = resumablePoint{}
		}
		pc.ReportProgress(percentOf(at.Done, steps), fmt.Sprintf("Resumed (%s): continuing from step %d/%d", kind, at.Done+1, steps))
	}
	for i := at.Done + 1; i <= steps; i++ {
		if !pc.ShouldContinue() || !sleep(pc.Context(), step) {
			return nil
		}
		pc.ReportProgress(percentOf(i, steps), fmt.Sprintf("Step %d/%d", i, steps))
		if err := pc.SaveCheckpoint(resumablePoint{Done: i}); err != nil {
			return err
		}
	}
	return pc.ClearHasSavedState()
}

func percentOf(i, n int) float64 { return float64(i*100) / float64(n) }
