// Package workflows holds the deterministic workflow code of optio-temporal:
// the process workflow (one run per launch of a process), the children
// workflow (one per launch that has children: it starts each child
// process's workflow as its own child workflow and continues as new before
// its history grows large), and the schedule launcher that a Temporal
// Schedule starts at each cron fire.
//
// No workflow's history grows with a process's duration or its number of
// children: progress is never a history event, the process workflow starts
// one children workflow per launch whatever the number of children, and
// the children workflow keeps its record of the children in their Mongo
// documents, so it can continue as new at any point.
//
// Workflow code here never touches Mongo, Redis or the clock: every document
// write is a local activity of package activities, and the body is a regular
// activity routed to the worker that holds the task's function.
package workflows
