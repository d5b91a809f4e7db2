// Package activities names the Temporal activities of the process workflow, as
// an operator sees them in the Temporal UI and in workflow histories: the
// mirror writes (optio.StartRun, optio.Finish, ...; run as local activities on
// the workflow's worker), the body activity (optio.Body) that runs a task's
// function with heartbeats, the activity that delivers a cancel straight to
// the worker running a body (optio.CancelBody), and the ones of the children
// workflow. It also holds the failure types a body's error carries and the
// causes a body's context is cancelled with.
//
// The implementations and their inputs live in the engine's internal
// packages: activities never decide anything the workflow needs to replay;
// they read and write Mongo and run user code, and report what happened.
package activities
