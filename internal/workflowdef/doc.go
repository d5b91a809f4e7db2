// Package workflowdef implements the workflows that package workflows names
// and defines their inputs and results: the process workflow (Process,
// NewProcess; one run per launch of a process), the children workflow
// (Children; one per launch that has children: it starts each child
// process's workflow as its own child workflow and continues as new before
// its history grows large), and the schedule launcher (ScheduledLaunch)
// that a Temporal Schedule starts at each cron fire. Only the engine
// (package adapter), its tests and the benchmarks use it.
//
// No workflow's history grows with a process's duration or its number of
// children: progress is never a history event, the process workflow starts
// one children workflow per launch whatever the number of children, and
// the children workflow keeps its record of the children in their Mongo
// documents, so it can continue as new at any point.
//
// Workflow code here never touches Mongo, Redis or the clock: every document
// write is a local activity of package activities (implemented in
// internal/activitydef), and the body is a regular activity routed to the
// worker that holds the task's function, or, from revision 4, starts inline
// in a local activity of the run's first workflow task and, if it runs on,
// is taken over by such an activity. A run keeps the code path of the
// revision it started with (ProcessInput.Revision, CurrentRevision for new
// runs), so recorded histories replay unchanged; inputs and results are
// recorded in histories as JSON, so their fields keep their names.
package workflowdef
