// Package workflows names what an operator sees of optio-temporal's
// workflows in the Temporal Web UI, the temporal CLI and workflow histories,
// and what a program that talks to them directly (rather than through
// adapter.Engine) needs: the workflow types, the IDs, the query, the updates
// and signals, the failure type, and the custom search attributes.
//
// # Workflow types
//
//   - [ProcessName] ("optio.Process"): one run per launch of a process, with
//     workflow ID "{db}/{prefix}:{processId}" (adapter.Engine.WorkflowID); a
//     relaunch is a new run of the same workflow ID. It moves the process's
//     document to running, runs the body as the activity "optio.Body" (see
//     package activities), turns a cancel (from the API, the RPC face or the
//     Web UI's Cancel button) into optio's cooperative cancel, and writes the
//     terminal state. A process that ends failed fails its run with an
//     ApplicationError of type [ProcessFailedType] whose message is the
//     process's status.error; a cancelled one ends its run cancelled.
//   - [ChildrenName] ("optio.Children"): the children of one launch, with
//     workflow ID "{process's workflow ID}" + [ChildrenIDSuffix], a child
//     workflow of the process's run. Its own child workflows are the child
//     processes' runs, so the Web UI's Relationships tab shows a process tree
//     as parent, "#children", children. It continues as new before its
//     history grows large: several runs of one children workflow are normal.
//   - [ScheduledLaunchName] ("optio.ScheduledLaunch"): the action of a
//     process's Temporal Schedule (one per process with a cron, ID
//     "{process's workflow ID}:cron", in the Web UI's Schedules page). Each
//     fire launches the process as a launch through the API would, so a fire
//     while the process is active is skipped and logged rather than queued.
//
// # Query, updates and signals
//
// [QueryState] ("optio.state", the Queries tab of a process's run) returns a
// [StateView]: the run's state, the queue its body runs on, how often the
// body ran and whether a cancel was requested. The body sends
// [UpdateOpenChildren] to its process workflow and [UpdateRunChildren] to the
// children workflow to start child processes; [SignalCloseChildren] tells a
// children workflow that its process's body has returned, and
// [SignalBodyQueue] tells a child whose worker was lost where its function
// lives now. They show in a history as the engine sends them; nobody else
// needs to send them.
//
// # Search attributes
//
// When the namespace has them registered, every process workflow carries
// the custom search attributes [SearchAttrProcessID], [SearchAttrRootProcessID],
// [SearchAttrParentProcessID], [SearchAttrState] and [SearchAttrMetadata],
// so that the Web UI's filter finds processes by optio's terms, for example
// `OptioState = "running"`. [SearchAttributeTypes] lists them with their
// types, [MissingSearchAttributes] compares them with a namespace's, and
// [SearchAttributesCommand] prints the temporal CLI command that registers
// them.
//
// The workflows themselves are the engine's: adapter.New registers them on
// its worker under these names, and their code and inputs are internal.
package workflows
