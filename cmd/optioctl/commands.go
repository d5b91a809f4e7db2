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

// report prints a call's result: with --json as the contract's result
// object, else as line.
func (a *app) report(result any, line string) error {
	if a.g.JSON {
		return a.printResult(result)
	}
	fmt.Fprintln(a.stdout, line)
	return nil
}

// processCall calls a method that answers with a process document and
// reports it as "<verb> <processId> (<_id>): <state>".
func (a *app) processCall(method, verb string, inv *invocation, do func(context.Context, *engineapi.Client) (json.RawMessage, error)) error {
	var doc json.RawMessage
	err := a.call(method, inv.cmd.name+" "+inv.opts.ID, func(ctx context.Context, c *engineapi.Client) (err error) {
		doc, err = do(ctx, c)
		return err
	})
	if err != nil {
		return err
	}
	line, err := processLine(verb, doc)
	if err != nil {
		return transportf("%s: unreadable result %s: %v", method, doc, err)
	}
	return a.report(engineapi.ProcessResult{OK: true, Process: doc}, line)
}

// processLine describes the process document a call answered with (null
// when the process is gone).
func processLine(verb string, doc json.RawMessage) (string, error) {
	var p *struct {
		ID        string `json:"_id"`
		ProcessID string `json:"processId"`
		Status    struct {
			State string `json:"state"`
		} `json:"status"`
	}
	if len(doc) > 0 {
		if err := json.Unmarshal(doc, &p); err != nil {
			return "", err
		}
	}
	if p == nil {
		return verb + " (the process document is gone)", nil
	}
	return fmt.Sprintf("%s %s (%s): %s", verb, p.ProcessID, p.ID, p.Status.State), nil
}

func (a *app) launch(inv *invocation) error {
	// What optio-api sends: resume false, sessionId null.
	resume := false
	return a.processCall("launch", "launched", inv, func(ctx context.Context, c *engineapi.Client) (json.RawMessage, error) {
		return c.Launch(ctx, engineapi.LaunchParams{ProcessID: inv.opts.ID, Resume: &resume})
	})
}

func (a *app) cancel(inv *invocation) error {
	return a.processCall("cancel", "cancel requested:", inv, func(ctx context.Context, c *engineapi.Client) (json.RawMessage, error) {
		return c.Cancel(ctx, inv.opts.ID)
	})
}

func (a *app) dismiss(inv *invocation) error {
	return a.processCall("dismiss", "dismissed", inv, func(ctx context.Context, c *engineapi.Client) (json.RawMessage, error) {
		return c.Dismiss(ctx, inv.opts.ID)
	})
}

func filterText(f map[string]any) string {
	b, _ := json.Marshal(f)
	return string(b)
}

func (a *app) resync(inv *invocation) error {
	params := engineapi.ResyncParams{Clean: &inv.opts.Clean}
	if len(inv.opts.Filter) > 0 {
		f := engineapi.Filter(inv.opts.Filter)
		params.MetadataFilter = &f
	}
	c, err := a.engine()
	if err != nil {
		return err
	}
	ctx, cancel := context.WithTimeout(a.ctx, a.g.Timeout)
	defer cancel()
	if err := c.Resync(ctx, params); err != nil {
		return transportf("resync: %v", err)
	}
	if !a.g.JSON {
		fmt.Fprintf(a.stdout, "resync requested (clean=%v, filter=%s); it runs in the background\n", inv.opts.Clean, filterText(inv.opts.Filter))
	}
	return nil
}

func (a *app) groupCancel(inv *invocation) error {
	o := inv.opts
	params := engineapi.GroupCancelParams{
		MetadataFilter:   engineapi.Filter(o.Filter),
		BlockNewLaunches: &o.Block,
		Persist:          &o.Persist,
		PurgeRecords:     &o.Purge,
		Reason:           o.Reason,
	}
	method, send := "groupCancel", (*engineapi.Client).GroupCancel
	if o.Wait {
		method, send = "groupCancelAndWait", (*engineapi.Client).GroupCancelAndWait
	}
	var n int
	err := a.call(method, "group-cancel "+filterText(o.Filter), func(ctx context.Context, c *engineapi.Client) (err error) {
		n, err = send(c, ctx, params)
		return err
	})
	if err != nil {
		return err
	}
	line := fmt.Sprintf("cancel requested for %d process(es)", n)
	if o.Wait {
		line = fmt.Sprintf("cancelled %d process(es); all have ended", n)
	}
	return a.report(engineapi.CountResult{OK: true, CancelledCount: n}, line)
}

func (a *app) block(inv *invocation) error {
	filter := filterText(inv.opts.Filter)
	err := a.call("blockLaunches", "block "+filter, func(ctx context.Context, c *engineapi.Client) error {
		return c.BlockLaunches(ctx, engineapi.BlockLaunchesParams{LaunchFilter: engineapi.LaunchFilter(inv.opts.Filter), Reason: inv.opts.Reason})
	})
	if err != nil {
		return err
	}
	return a.report(engineapi.OKResult{OK: true}, "launches matching "+filter+" are blocked")
}

func (a *app) unblock(inv *invocation) error {
	var n int
	err := a.call("unblockLaunches", "unblock "+filterText(inv.opts.Filter), func(ctx context.Context, c *engineapi.Client) (err error) {
		n, err = c.UnblockLaunches(ctx, engineapi.UnblockLaunchesParams{LaunchFilter: engineapi.LaunchFilter(inv.opts.Filter)})
		return err
	})
	if err != nil {
		return err
	}
	return a.report(engineapi.RemovedResult{Removed: n}, fmt.Sprintf("removed %d block(s)", n))
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
