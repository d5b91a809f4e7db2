package workflows

import (
	"fmt"
	"slices"
	"strings"

	enumspb "go.temporal.io/api/enums/v1"
	"go.temporal.io/sdk/temporal"
	"go.temporal.io/sdk/workflow"

	"github.com/optio-temporal/optio/mirror"
)

// The custom search attributes every process workflow carries when they are
// registered on its namespace (ProcessOptions.SearchAttributes), so that an
// operator can find processes in the Temporal Web UI by optio's terms, for
// example `OptioState = "running"` or `OptioRootProcessId = "demo-parallel"`.
const (
	// SearchAttrProcessID (Keyword) is the process's processId.
	SearchAttrProcessID = "OptioProcessId"
	// SearchAttrRootProcessID (Keyword) is the processId of the root of the
	// process's tree; a root process carries its own.
	SearchAttrRootProcessID = "OptioRootProcessId"
	// SearchAttrParentProcessID (Keyword) is the parent's processId; a root
	// process does not have it.
	SearchAttrParentProcessID = "OptioParentProcessId"
	// SearchAttrState (Keyword) is the document's status.state as the
	// workflow last wrote or saw it.
	SearchAttrState = "OptioState"
	// SearchAttrMetadata (KeywordList) holds the process's metadata as
	// "key=value" items, sorted by key, for example `OptioMetadata = "group=demo"`.
	SearchAttrMetadata = "OptioMetadata"
)

// searchAttributesChange is the workflow.GetVersion change ID under which the
// process workflow records whether it keeps search attributes; runs recorded
// before it replay without them.
const searchAttributesChange = "optio.search-attributes"

// maxMetadataItem bounds one "key=value" item: a Keyword value is limited
// (the server's default is 2 KB per value).
const maxMetadataItem = 256

// SearchAttributeTypes returns the custom search attributes of process
// workflows with their types, as a namespace must register them.
func SearchAttributeTypes() map[string]enumspb.IndexedValueType {
	return map[string]enumspb.IndexedValueType{
		SearchAttrProcessID:       enumspb.INDEXED_VALUE_TYPE_KEYWORD,
		SearchAttrRootProcessID:   enumspb.INDEXED_VALUE_TYPE_KEYWORD,
		SearchAttrParentProcessID: enumspb.INDEXED_VALUE_TYPE_KEYWORD,
		SearchAttrState:           enumspb.INDEXED_VALUE_TYPE_KEYWORD,
		SearchAttrMetadata:        enumspb.INDEXED_VALUE_TYPE_KEYWORD_LIST,
	}
}

// MissingSearchAttributes returns, sorted, the names of SearchAttributeTypes
// that registered (a namespace's custom search attributes) lacks or has with
// another type.
func MissingSearchAttributes(registered map[string]enumspb.IndexedValueType) []string {
	var missing []string
	for name, typ := range SearchAttributeTypes() {
		if got, ok := registered[name]; !ok || got != typ {
			missing = append(missing, name)
		}
	}
	slices.Sort(missing)
	return missing
}

// SearchAttributesCommand returns the temporal CLI command that registers the
// named search attributes (of SearchAttributeTypes) on a namespace.
func SearchAttributesCommand(namespace string, names []string) string {
	var b strings.Builder
	fmt.Fprintf(&b, "temporal operator search-attribute create --namespace %s", namespace)
	types := SearchAttributeTypes()
	for _, n := range names {
		typ := "Keyword"
		if types[n] == enumspb.INDEXED_VALUE_TYPE_KEYWORD_LIST {
			typ = "KeywordList"
		}
		fmt.Fprintf(&b, " --name %s --type %s", n, typ)
	}
	return b.String()
}

// MetadataKeywords turns metadata into the items of SearchAttrMetadata:
// "key=value", sorted, a string value as it is and any other as fmt's %v,
// each cut to 256 bytes.
func MetadataKeywords(md map[string]any) []string {
	out := make([]string, 0, len(md))
	// The items are sorted below, so the map's order does not show.
	//workflowcheck:ignore
	for k, v := range md {
		var item string
		if s, ok := v.(string); ok {
			item = k + "=" + s
		} else {
			item = fmt.Sprintf("%s=%v", k, v)
		}
		if len(item) > maxMetadataItem {
			item = strings.ToValidUTF8(item[:maxMetadataItem], "")
		}
		out = append(out, item)
	}
	slices.Sort(out)
	return out
}

var (
	saProcessID = temporal.NewSearchAttributeKeyKeyword(SearchAttrProcessID)
	saRootID    = temporal.NewSearchAttributeKeyKeyword(SearchAttrRootProcessID)
	saParentID  = temporal.NewSearchAttributeKeyKeyword(SearchAttrParentProcessID)
	saState     = temporal.NewSearchAttributeKeyKeyword(SearchAttrState)
	saMetadata  = temporal.NewSearchAttributeKeyKeywordList(SearchAttrMetadata)
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
		parent := strings.TrimSuffix(strings.TrimPrefix(pe.ID, prefix), ChildrenIDSuffix)
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
		updates = append(updates, saMetadata.ValueSet(MetadataKeywords(md)))
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
