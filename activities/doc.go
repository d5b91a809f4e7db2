// Package activities holds the Temporal activities of the process workflow:
// the mirror writes (run as local activities on the workflow's worker, so a
// state change costs a Mongo round trip and no extra server round trip), the
// body activity that runs a task's function with heartbeats, and the small
// activity that delivers a cancel straight to the worker running a body.
//
// Activities never decide anything the workflow needs to replay: they read and
// write Mongo and run user code, and report what happened.
package activities
