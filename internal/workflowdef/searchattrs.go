package workflowdef

import (
	"strings"

	"go.temporal.io/sdk/temporal"
	"go.temporal.io/sdk/workflow"

	"github.com/optio-temporal/optio/mirror"
	"github.com/optio-temporal/optio/workflows"
)

// searchAttributesChange is the workflow.GetVersion change ID under which the
// process workflow records whether it keeps search attributes; runs recorded
// before it replay without them.
const searchAttributesChange = "optio.search-attributes"

var (
	saProcessID = temporal.NewSearchAttributeKeyKeyword(workflows.SearchAttrProcessID)
	saRootID    = temporal.NewSearchAttributeKeyKeyword(workflows.SearchAttrRootProcessID)
	saParentID  = temporal.NewSearchAttributeKeyKeyword(workflows.SearchAttrParentProcessID)
	saState     = temporal.NewSearchAttributeKeyKeyword(workflows.SearchAttrState)
	saMetadata  = temporal.NewSearchAttributeKeyKeywordList(workflows.SearchAttrMetadata)
)

// searchAttrs keeps a run's search attributes current. Its zero value (off)
// does nothing: the namespace lacks the attributes, or the run was recorded
// before they existed.
type searchAttrs struct {
	on    bool
	state mirror.State
}

// startSearchAttrs decides, once per run and recorded in its history, whether
// the run keeps search attributes (wanted: this worker's setting), and if so
// sets the process's identity and state scheduled.
func startSearchAttrs(ctx workflow.Context, in ProcessInput, wanted bool) *searchAttrs {
	s := &searchAttrs{}
	if workflow.GetVersion(ctx, searchAttributesChange, workflow.DefaultVersion, 1) < 1 {
		return s
	}
	// A side effect, so that a replay by a worker whose setting differs
	// follows what this run recorded.
	if err := workflow.SideEffect(ctx, func(workflow.Context) any { return wanted }).Get(&s.on); err != nil || !s.on {
		s.on = false
		return s
	}
	info := workflow.GetInfo(ctx)
	prefix := strings.TrimSuffix(info.WorkflowExecution.ID, in.ProcessID)
	root := in.ProcessID
	if r := info.RootWorkflowExecution; r != nil && strings.HasPrefix(r.ID, prefix) {
		root = strings.TrimPrefix(r.ID, prefix)
	}
	updates := []temporal.SearchAttributeUpdate{
		saProcessID.ValueSet(in.ProcessID),
		saRootID.ValueSet(root),
		saState.ValueSet(string(mirror.Scheduled)),
	}
	if pe := info.ParentWorkflowExecution; pe != nil && strings.HasPrefix(pe.ID, prefix) {
		// The parent is the children workflow of the parent process
		// (revision 2) or the parent process itself (earlier revisions).
		parent := strings.TrimSuffix(strings.TrimPrefix(pe.ID, prefix), workflows.ChildrenIDSuffix)
		updates = append(updates, saParentID.ValueSet(parent))
	}
	s.state = mirror.Scheduled
	s.upsert(ctx, updates...)
	return s
}

// setState records a state change (a no-op when off or unchanged).
func (s *searchAttrs) setState(ctx workflow.Context, st mirror.State) {
	if !s.on || st == "" || st == s.state {
		return
	}
	s.state = st
	s.upsert(ctx, saState.ValueSet(string(st)))
}

// started records the state and metadata StartRun found.
func (s *searchAttrs) started(ctx workflow.Context, st mirror.State, md map[string]any) {
	if !s.on {
		return
	}
	updates := []temporal.SearchAttributeUpdate{}
	if st != "" && st != s.state {
		s.state = st
		updates = append(updates, saState.ValueSet(string(st)))
	}
	if len(md) > 0 {
		updates = append(updates, saMetadata.ValueSet(workflows.MetadataKeywords(md)))
	}
	if len(updates) > 0 {
		s.upsert(ctx, updates...)
	}
}

func (s *searchAttrs) upsert(ctx workflow.Context, updates ...temporal.SearchAttributeUpdate) {
	if err := workflow.UpsertTypedSearchAttributes(ctx, updates...); err != nil {
		workflow.GetLogger(ctx).Warn("search attributes not updated", "error", err)
	}
}
