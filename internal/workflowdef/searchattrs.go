package workflowdef

import (
	"slices"
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

// searchAttrsAtStartRevision is the first revision of the process workflow
// whose launcher sets its search attributes at start
// (ProcessInput.SearchAttributes): the run records no decision and makes no
// first upsert.
const searchAttrsAtStartRevision = 3

// StartSearchAttributes returns the search attributes a process workflow of
// revision 3 or later starts with when its launcher keeps them
// (ProcessInput.SearchAttributes): the process's identity, state scheduled,
// and its metadata (workflows.MetadataKeywords). parentID is empty for a
// root process; rootID is its own processId then.
func StartSearchAttributes(processID, rootID, parentID string, metadata []string) temporal.SearchAttributes {
	updates := []temporal.SearchAttributeUpdate{
		saProcessID.ValueSet(processID),
		saRootID.ValueSet(rootID),
		saState.ValueSet(string(mirror.Scheduled)),
	}
	if parentID != "" {
		updates = append(updates, saParentID.ValueSet(parentID))
	}
	if len(metadata) > 0 {
		updates = append(updates, saMetadata.ValueSet(metadata))
	}
	return temporal.NewSearchAttributes(updates...)
}

// ChildSearchAttributes is what a children workflow needs to start its
// children with their search attributes (revision 3 and later), besides
// what each child request says.
type ChildSearchAttributes struct {
	// RootProcessID is the processId of the root of the process's tree.
	RootProcessID string
	// Metadata is the process's metadata, as workflows.MetadataKeywords
	// gives it: children inherit it.
	Metadata []string `json:",omitempty"`
}

// searchAttrs keeps a run's search attributes current. Its zero value (off)
// does nothing: the namespace lacks the attributes, or the run was recorded
// before they existed.
type searchAttrs struct {
	on    bool
	state mirror.State
	// root and metadata are the run's OptioRootProcessId and OptioMetadata,
	// as far as the run knows them (revision 3 and later).
	root     string
	metadata []string
}

// forChildren returns what the children workflow needs to start this run's
// children with their search attributes; nil when they are not kept here
// or are set by the children themselves (revisions before 3).
func (s *searchAttrs) forChildren(in ProcessInput) *ChildSearchAttributes {
	if !s.on || in.Revision < searchAttrsAtStartRevision {
		return nil
	}
	return &ChildSearchAttributes{RootProcessID: s.root, Metadata: s.metadata}
}

// startSearchAttrs decides whether the run keeps search attributes. From
// revision 3 its input says, and its launcher set them at start. Earlier
// revisions decide once per run, recorded in the history (wanted: this
// worker's setting), and if so set the process's identity and state
// scheduled.
func startSearchAttrs(ctx workflow.Context, in ProcessInput, wanted bool) *searchAttrs {
	if in.Revision >= searchAttrsAtStartRevision {
		s := &searchAttrs{on: in.SearchAttributes}
		if s.on {
			// As the launcher set them: the started event holds them, so a
			// replay reads the same.
			sa := workflow.GetTypedSearchAttributes(ctx)
			s.state = mirror.Scheduled
			if root, ok := sa.GetKeyword(saRootID); ok {
				s.root = root
			} else {
				s.root = in.ProcessID
			}
			s.metadata, _ = sa.GetKeywordList(saMetadata)
		}
		return s
	}
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

// started records the state and metadata StartRun found; metadata only
// when it differs from what the run has (revision 3 and later start with
// it).
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
		if kw := workflows.MetadataKeywords(md); !slices.Equal(kw, s.metadata) {
			s.metadata = kw
			updates = append(updates, saMetadata.ValueSet(kw))
		}
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
