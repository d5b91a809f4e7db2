package mirror

// Reason is why the engine refused an action on a process: a failure reason
// of the optio-engine contract, sent over RPC as {"ok": false, "reason":
// ...} with these exact strings. A Reason is also an error, so a refusal can
// be checked with errors.Is(err, mirror.ReasonNotFound).
//
// This is the one list of the contract's reasons: package adapter returns
// them from its Engine's calls (adapter.Reason is this type) and package
// rpc/engineapi sends and decodes them.
type Reason string

// The failure reasons of the optio-engine contract.
const (
	// ReasonNotFound: no process has that processId or _id.
	ReasonNotFound Reason = "not-found"
	// ReasonNotLaunchable: the process is not idle, done, failed or
	// cancelled (of concurrent launches, the losers get it).
	ReasonNotLaunchable Reason = "not-launchable"
	// ReasonNotCancellable: the process is not scheduled or running, or
	// its task is declared not cancellable.
	ReasonNotCancellable Reason = "not-cancellable"
	// ReasonNotDismissable: the process has not ended
	// ([State.Dismissable]).
	ReasonNotDismissable Reason = "not-dismissable"
	// ReasonLaunchBlocked: a launch block matches the process's metadata.
	ReasonLaunchBlocked Reason = "launch-blocked"
	// ReasonNoResumeSupport: a resume was asked of a process whose task
	// does not support resuming.
	ReasonNoResumeSupport Reason = "no-resume-support"
	// ReasonInvalidPersistWithoutBlock: a group cancel asked to persist a
	// block it was not asked to create.
	ReasonInvalidPersistWithoutBlock Reason = "invalid-persist-without-block"
)

// Error makes a Reason usable as an error value.
func (r Reason) Error() string { return string(r) }
