package adapter

import (
	"context"
	"fmt"

	enumspb "go.temporal.io/api/enums/v1"
	"go.temporal.io/api/operatorservice/v1"

	"github.com/optio-temporal/optio/workflows"
)

// searchAttributes reports whether the namespace has the custom search
// attributes of process workflows (workflows.SearchAttributeTypes), creating
// the missing ones when Config.CreateSearchAttributes allows it. When they
// stay missing it logs, once, the temporal CLI command that registers them,
// and processes run without them.
func (e *Engine) searchAttributes(ctx context.Context) bool {
	ops := e.cfg.Temporal.OperatorService()
	list, err := ops.ListSearchAttributes(ctx, &operatorservice.ListSearchAttributesRequest{Namespace: e.cfg.Namespace})
	if err != nil {
		e.log.Warn("cannot list the namespace's search attributes; processes run without optio's search attributes", "error", err)
		return false
	}
	missing := workflows.MissingSearchAttributes(list.GetCustomAttributes())
	if len(missing) == 0 {
		return true
	}
	if e.cfg.CreateSearchAttributes {
		types := workflows.SearchAttributeTypes()
		add := &operatorservice.AddSearchAttributesRequest{Namespace: e.cfg.Namespace, SearchAttributes: map[string]enumspb.IndexedValueType{}}
		for _, n := range missing {
			add.SearchAttributes[n] = types[n]
		}
		if _, err = ops.AddSearchAttributes(ctx, add); err == nil {
			e.log.Info("registered optio's search attributes", "namespace", e.cfg.Namespace, "names", missing)
			return true
		}
	}
	reason := "Config.CreateSearchAttributes is off"
	if err != nil {
		reason = fmt.Sprintf("creating them failed: %v", err)
	}
	e.log.Warn("the namespace lacks optio's search attributes, so processes run without them ("+reason+"); register them with: "+
		workflows.SearchAttributesCommand(e.cfg.Namespace, missing), "missing", missing)
	return false
}
