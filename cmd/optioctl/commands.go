package main

import (
	"context"
	"encoding/json"
	"fmt"
	"text/tabwriter"
	"time"

	"github.com/optio-temporal/optio/mirror"
	"github.com/optio-temporal/optio/rpc/engineapi"
)

// result is any optio-engine result; each method fills some fields.
type result struct {
	OK             *bool  `json:"ok"`
	Reason         string `json:"reason"`
	CancelledCount *int   `json:"cancelledCount"`
	Removed        *int   `json:"removed"`
	Process        *struct {
		ID        string `json:"_id"`
		ProcessID string `json:"processId"`
		Status    struct {
			State string `json:"state"`
		} `json:"status"`
	} `json:"process"`
}

// outcome calls a method and prints its answer; a failure reason is a
// refusedError.
func (a *app) outcome(method, what string, params any, describe func(r *result) string) error {
	raw, err := a.call(method, params)
	if err != nil {
		return err
	}
	var r result
	if err := json.Unmarshal(raw, &r); err != nil {
		return transportf("%s: unreadable result %s: %v", method, raw, err)
	}
	if a.g.JSON {
		a.printJSON(raw)
	}
	if r.OK != nil && !*r.OK {
		return &refusedError{what: what, reason: r.Reason}
	}
	if !a.g.JSON {
		fmt.Fprintln(a.stdout, describe(&r))
	}
	return nil
}

func processLine(verb string, r *result) string {
	if r.Process == nil {
		return verb + " (the process document is gone)"
	}
	return fmt.Sprintf("%s %s (%s): %s", verb, r.Process.ProcessID, r.Process.ID, r.Process.Status.State)
}

func (a *app) launch(inv *invocation) error {
	// What optio-api sends.
	params := map[string]any{"processId": inv.opts.ID, "resume": false, "sessionId": nil}
	return a.outcome("launch", "launch "+inv.opts.ID, params, func(r *result) string { return processLine("launched", r) })
}

func (a *app) cancel(inv *invocation) error {
	return a.outcome("cancel", "cancel "+inv.opts.ID, map[string]any{"processId": inv.opts.ID},
		func(r *result) string { return processLine("cancel requested:", r) })
}

func (a *app) dismiss(inv *invocation) error {
	return a.outcome("dismiss", "dismiss "+inv.opts.ID, map[string]any{"processId": inv.opts.ID},
		func(r *result) string { return processLine("dismissed", r) })
}

func filterText(f map[string]any) string {
	b, _ := json.Marshal(f)
	return string(b)
}

func (a *app) resync(inv *invocation) error {
	params := map[string]any{"clean": inv.opts.Clean}
	if len(inv.opts.Filter) > 0 {
		params["metadataFilter"] = inv.opts.Filter
	}
	c, err := a.engine()
	if err != nil {
		return err
	}
	ctx, cancel := context.WithTimeout(a.ctx, a.g.Timeout)
	defer cancel()
	if err := c.Notify(ctx, engineapi.Service, "resync", params); err != nil {
		return transportf("resync: %v", err)
	}
	if !a.g.JSON {
		fmt.Fprintf(a.stdout, "resync requested (clean=%v, filter=%s); it runs in the background\n", inv.opts.Clean, filterText(inv.opts.Filter))
	}
	return nil
}

func (a *app) groupCancel(inv *invocation) error {
	o := inv.opts
	params := map[string]any{
		"metadataFilter":   o.Filter,
		"blockNewLaunches": o.Block,
		"persist":          o.Persist,
		"purgeRecords":     o.Purge,
	}
	if o.Reason != nil {
		params["reason"] = *o.Reason
	}
	method := "groupCancel"
	if o.Wait {
		method = "groupCancelAndWait"
	}
	return a.outcome(method, "group-cancel "+filterText(o.Filter), params, func(r *result) string {
		n := 0
		if r.CancelledCount != nil {
			n = *r.CancelledCount
		}
		if o.Wait {
			return fmt.Sprintf("cancelled %d process(es); all have ended", n)
		}
		return fmt.Sprintf("cancel requested for %d process(es)", n)
	})
}

func (a *app) block(inv *invocation) error {
	params := map[string]any{"launchFilter": inv.opts.Filter}
	if inv.opts.Reason != nil {
		params["reason"] = *inv.opts.Reason
	}
	return a.outcome("blockLaunches", "block "+filterText(inv.opts.Filter), params, func(*result) string {
		return "launches matching " + filterText(inv.opts.Filter) + " are blocked"
	})
}

func (a *app) unblock(inv *invocation) error {
	return a.outcome("unblockLaunches", "unblock "+filterText(inv.opts.Filter), map[string]any{"launchFilter": inv.opts.Filter}, func(r *result) string {
		n := 0
		if r.Removed != nil {
			n = *r.Removed
		}
		return fmt.Sprintf("removed %d block(s)", n)
	})
}

func (a *app) list(inv *invocation) error {
	store, err := a.mirror()
	if err != nil {
		return err
	}
	q := mirror.Query{State: inv.opts.State, Metadata: inv.opts.Filter}
	if inv.opts.Root != "" {
		root, err := a.resolve(inv.opts.Root)
		if err != nil {
			return err
		}
		q.RootID = &root.RootID
	}
	ctx, cancel := context.WithTimeout(a.ctx, a.g.Timeout)
	defer cancel()
	procs, err := store.List(ctx, q)
	if err != nil {
		return transportf("list: %v", err)
	}
	if a.g.JSON {
		ptrs := make([]*mirror.Process, len(procs))
		for i := range procs {
			ptrs[i] = &procs[i]
		}
		return a.printProcessesJSON(ptrs)
	}
	tw := tabwriter.NewWriter(a.stdout, 0, 4, 2, ' ', 0)
	fmt.Fprintln(tw, "PROCESS ID\tSTATE\tPROGRESS\tDEPTH\tNAME\t_ID")
	for _, p := range procs {
		fmt.Fprintf(tw, "%s\t%s\t%s\t%d\t%s\t%s\n", p.ProcessID, p.Status.State, percentText(p.Progress.Percent), p.Depth, p.Name, p.ID.Hex())
	}
	return tw.Flush()
}

func percentText(p *float64) string {
	if p == nil {
		return "-"
	}
	return fmt.Sprintf("%.1f%%", *p)
}

func (a *app) get(inv *invocation) error {
	p, err := a.resolve(inv.opts.ID)
	if err != nil {
		return err
	}
	if a.g.JSON {
		doc, err := engineapi.ProcessJSON(p)
		if err != nil {
			return err
		}
		a.printJSON(doc)
		return nil
	}
	tw := tabwriter.NewWriter(a.stdout, 0, 4, 2, ' ', 0)
	row := func(k, v string) { fmt.Fprintf(tw, "%s:\t%s\n", k, v) }
	row("processId", p.ProcessID)
	row("_id", p.ID.Hex())
	row("name", p.Name)
	if p.Description != nil {
		row("description", *p.Description)
	}
	row("state", string(p.Status.State))
	if p.Status.Error != nil {
		row("error", *p.Status.Error)
	}
	msg := ""
	if p.Progress.Message != nil {
		msg = "  " + *p.Progress.Message
	}
	row("progress", percentText(p.Progress.Percent)+msg)
	if p.ParentID != nil {
		row("parentId", p.ParentID.Hex())
	}
	row("rootId", p.RootID.Hex())
	row("depth", fmt.Sprint(p.Depth))
	row("cancellable", fmt.Sprint(p.Cancellable))
	row("params", jsonText(p.Params))
	row("metadata", jsonText(p.Metadata))
	row("createdAt", p.CreatedAt.UTC().Format(time.RFC3339Nano))
	for _, t := range []struct {
		k string
		v *time.Time
	}{{"runningSince", p.Status.RunningSince}, {"doneAt", p.Status.DoneAt}, {"failedAt", p.Status.FailedAt}, {"stoppedAt", p.Status.StoppedAt}} {
		if t.v != nil {
			row(t.k, t.v.UTC().Format(time.RFC3339Nano))
		}
	}
	if p.Status.Duration != nil {
		row("duration", fmt.Sprintf("%.3fs", *p.Status.Duration))
	}
	if err := tw.Flush(); err != nil {
		return err
	}
	if len(p.Log) > 0 {
		fmt.Fprintln(a.stdout, "log:")
		for _, e := range p.Log {
			fmt.Fprintf(a.stdout, "  %s  %-7s  %s\n", e.Timestamp, e.Level, e.Message)
		}
	}
	return nil
}

// jsonText renders params or metadata on one line.
func jsonText(m map[string]any) string {
	b, err := json.Marshal(m)
	if err != nil {
		return fmt.Sprint(m)
	}
	return string(b)
}
