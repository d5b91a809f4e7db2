package activities

// Activity names, registered explicitly so that workflow code refers to them
// by a stable string.
const (
	StartRunName        = "optio.StartRun"
	ClaimBodyName       = "optio.ClaimBody"
	RequestCancelName   = "optio.RequestCancel"
	FinishName          = "optio.Finish"
	AppendLogName       = "optio.AppendLog"
	CreateChildrenName  = "optio.CreateChildren"
	CancelScheduledName = "optio.CancelScheduled"
	BodyName            = "optio.Body"
	BodyInlineName      = "optio.BodyInline"
	CancelBodyName      = "optio.CancelBody"
	ScheduledLaunchName = "optio.ScheduledLaunch"
	CancelChildrenName  = "optio.CancelChildren"
	AwaitChildrenName   = "optio.AwaitChildren"
	WorkflowOpenName    = "optio.WorkflowOpen"
)

// BodyFailedType is the ApplicationError type of a body that returned an error.
const BodyFailedType = "optio.BodyFailed"

// NoExecuteType is the ApplicationError type of a body activity that found no
// execute function for its process on the worker it was routed to.
const NoExecuteType = "optio.NoExecuteFunction"

// BodyGoneType is the ApplicationError type of a body activity sent to take
// over a body that started inline (activitydef.BodyInput.Adopt) on a worker
// where that body does not run.
const BodyGoneType = "optio.BodyGone"
