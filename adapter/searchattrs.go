package adapter

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"time"

	enumspb "go.temporal.io/api/enums/v1"
	"go.temporal.io/api/operatorservice/v1"
	"go.temporal.io/api/serviceerror"
	"go.temporal.io/api/workflowservice/v1"

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
			e.awaitSearchAttributes(ctx, missing)
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

// searchAttributesApplyTimeout bounds how long New waits for search
// attributes it registered to be accepted.
const searchAttributesApplyTimeout = 15 * time.Second

// awaitSearchAttributes waits until the server accepts a visibility query on
// the search attributes names, which it registered a moment ago. A server
// applies new attributes when its namespace caches refresh (every 2 s by
// default), and until then refuses a workflow start that sets them; the
// first launches come right after New. When they stay refused it logs and
// goes on: launches fail with the server's error until they apply.
func (e *Engine) awaitSearchAttributes(ctx context.Context, names []string) {
	terms := make([]string, len(names))
	for i, n := range names {
		terms[i] = n + ` = ""`
	}
	req := &workflowservice.CountWorkflowExecutionsRequest{Namespace: e.cfg.Namespace, Query: strings.Join(terms, " AND ")}
	ctx, cancel := context.WithTimeout(ctx, searchAttributesApplyTimeout)
	defer cancel()
	for {
		_, err := e.cfg.Temporal.WorkflowService().CountWorkflowExecutions(ctx, req)
		var invalid *serviceerror.InvalidArgument
		if !errors.As(err, &invalid) {
			return
		}
		if sleepCtx(ctx, 100*time.Millisecond) != nil {
			e.log.Warn("the server does not apply optio's search attributes yet; launches fail until it does", "namespace", e.cfg.Namespace, "error", err)
			return
		}
	}
}
