// Package workflows holds the deterministic workflow code of optio-temporal:
// the process workflow (one run per launch of a process, one child workflow
// per child process) and the schedule launcher that a Temporal Schedule starts
// at each cron fire.
//
// Workflow code here never touches Mongo, Redis or the clock: every document
// write is a local activity of package activities, and the body is a regular
// activity routed to the worker that holds the task's function.
package workflows
