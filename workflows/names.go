package workflows

import "github.com/optio-temporal/optio/mirror"

// ProcessName is the registered name of the process workflow: one run per
// launch of a process, with the process's processId at the end of its
// workflow ID ("{db}/{prefix}:{processId}"). It is the workflow type an
// operator filters by in the Temporal Web UI.
const ProcessName = "optio.Process"

// ChildrenName is the registered name of the children workflow: the helper
// that starts and tracks the child processes of one launch of a process
// (revision 2 and later), as a child workflow of the process workflow.
const ChildrenName = "optio.Children"

// ScheduledLaunchName is the registered name of the schedule launcher
// workflow, the action of a process's Temporal Schedule: each cron fire runs
// it, and it launches the process as a launch through the API would.
const ScheduledLaunchName = "optio.ScheduledLaunch"

// ChildrenIDSuffix is appended to a process's workflow ID to make the ID of
// its children workflow, so that the helper sorts and filters beside its
// process in the Temporal Web UI. A processId that ends with this suffix
// would collide with a parent's helper; do not use one.
const ChildrenIDSuffix = "#children"

// ProcessFailedType is the ApplicationError type a process workflow fails with
// when its process ends failed; its message is the process's status.error.
const ProcessFailedType = "optio.ProcessFailed"

// QueryState is the name of the process workflow's query (in the Temporal
// Web UI's Queries tab, or `temporal workflow query --type optio.state`); it
// returns a StateView.
const QueryState = "optio.state"

// StateView is what QueryState returns: the run's state as its workflow
// knows it.
type StateView struct {
	ProcessID       string       `json:"processId"`
	State           mirror.State `json:"state"`
	BodyQueue       string       `json:"bodyQueue,omitempty"`
	BodyRuns        int          `json:"bodyRuns"`
	CancelRequested bool         `json:"cancelRequested"`
	Error           string       `json:"error,omitempty"`
	// Progress is the latest progress. The workflow itself never knows it
	// (progress is not a history event): the query leaves it empty, and
	// adapter.Engine.RunState fills it from the body's last heartbeat or the
	// document.
	Progress mirror.Progress `json:"progress"`
}

// UpdateOpenChildren is the workflow Update a body (revision 2 and later)
// sends to its process workflow before its first child: the process workflow
// starts its children workflow, once per launch, and answers its workflow ID.
// The body then sends UpdateRunChildren to that workflow.
const UpdateOpenChildren = "optio.openChildren"

// UpdateRunChildren is the workflow Update a body sends to run child
// processes as child workflows (to its children workflow from revision 2 on,
// to its own process workflow before): a batch of the children a parallel
// group spawned while the previous batch was in flight, answered child by
// child once every child has started. Batching keeps the workflow's update
// traffic, and the contention it causes, well below one update per child.
const UpdateRunChildren = "optio.runChildren"

// SignalCloseChildren tells a children workflow that its process's body has
// returned: it accepts no more children, cancels the running ones when the
// signal says so, waits for every child to end and completes.
const SignalCloseChildren = "optio.closeChildren"

// SignalBodyQueue tells a child workflow whose body worker was lost where its
// execute function lives now (the worker of its parent's re-run body).
const SignalBodyQueue = "optio.bodyQueue"
