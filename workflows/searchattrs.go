package workflows

import (
	"encoding/json"
	"fmt"
	"slices"
	"strings"

	enumspb "go.temporal.io/api/enums/v1"
)

// The custom search attributes every process workflow carries when they are
// registered on its namespace (an engine finds them at start, or registers
// them with adapter.Config.CreateSearchAttributes), so that an operator can
// find processes in the Temporal Web UI by optio's terms, for example
// `OptioState = "running"` or `OptioRootProcessId = "demo-parallel"`.
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

// maxMetadataItem bounds one "key=value" item: a Keyword value is limited
// (the server's default is 2 KB per value).
const maxMetadataItem = 256

// maxMetadataList bounds the whole list, as JSON: the server refuses a
// search attribute value past its limit.searchAttributeSize (2 KB by
// default), and with it the start of the workflow.
const maxMetadataList = 2 << 10

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
// each cut to 256 bytes, and as many of them as fit in 2 KB as JSON (the
// server's default limit on a search attribute's value): the first in sort
// order. The process's document keeps its whole metadata.
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
	size := len("[]")
	for i, item := range out {
		// A string's encoding is the same every time; the encoder's type
		// cache is what the check takes for non-determinism.
		//workflowcheck:ignore
		b, _ := json.Marshal(item) // a string always encodes
		if size += len(b) + min(i, 1); size > maxMetadataList {
			return out[:i]
		}
	}
	return out
}
