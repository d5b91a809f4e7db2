package main

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"math"
	"strings"
	"time"

	"github.com/optio-temporal/optio/mirror"
	"github.com/optio-temporal/optio/rpc/engineapi"
)

const barWidth = 30

// watch redraws the tree of a process from Mongo until the process ends. On
// a terminal the frame is redrawn in place; elsewhere each changed frame is
// printed after the last, so a log file reads as a history.
func (a *app) watch(inv *invocation) error {
	p, err := a.resolve(inv.opts.ID)
	if err != nil {
		return err
	}
	start := time.Now()
	everActive := p.Status.State.Active()
	var last string
	drawn := 0
	for {
		tree, err := a.subtree(p)
		if err != nil {
			return err
		}
		frame := renderTree(tree)
		if frame != last {
			switch {
			case a.g.JSON:
				if err := a.printTreeJSON(tree); err != nil {
					return err
				}
			case a.tty:
				if drawn > 0 {
					fmt.Fprintf(a.stdout, "\x1b[%dA\x1b[J", drawn)
				}
				fmt.Fprint(a.stdout, frame)
				drawn = strings.Count(frame, "\n")
			default:
				fmt.Fprintf(a.stdout, "--- %s +%.1fs\n%s", p.ProcessID, time.Since(start).Seconds(), frame)
			}
			last = frame
		}
		state := p.Status.State
		everActive = everActive || state.Active()
		if state.End() || state == mirror.Idle {
			return a.watchEnded(p, everActive)
		}
		select {
		case <-a.ctx.Done():
			return a.ctx.Err()
		case <-time.After(inv.opts.Interval):
		}
		ctx, cancel := context.WithTimeout(a.ctx, a.g.Timeout)
		p, err = a.store.Get(ctx, p.ID)
		cancel()
		if errors.Is(err, mirror.ErrNotFound) {
			if !a.g.JSON {
				fmt.Fprintf(a.stdout, "%s: the document was deleted\n", inv.opts.ID)
			}
			return nil
		}
		if err != nil {
			return transportf("read %q: %v", inv.opts.ID, err)
		}
	}
}

// watchEnded reports how the watched process ended.
func (a *app) watchEnded(p *mirror.Process, everActive bool) error {
	what := "watch " + p.ProcessID
	switch p.Status.State {
	case mirror.Done:
		if !a.g.JSON {
			fmt.Fprintf(a.stdout, "%s ended done%s\n", p.ProcessID, durationText(p))
		}
		return nil
	case mirror.Failed:
		reason := "failed"
		if p.Status.Error != nil {
			reason += ": " + *p.Status.Error
		}
		return &refusedError{what: what, reason: reason}
	case mirror.Cancelled:
		return &refusedError{what: what, reason: "cancelled"}
	}
	if !a.g.JSON {
		if everActive {
			fmt.Fprintf(a.stdout, "%s was dismissed\n", p.ProcessID)
		} else {
			fmt.Fprintf(a.stdout, "%s is idle: not running (launch it first)\n", p.ProcessID)
		}
	}
	return nil
}

func durationText(p *mirror.Process) string {
	if p.Status.Duration == nil {
		return ""
	}
	return fmt.Sprintf(" in %.1fs", *p.Status.Duration)
}

// subtree returns p (fresh) followed by its descendants, depth first in
// child order, each with its depth below p.
func (a *app) subtree(p *mirror.Process) ([]treeNode, error) {
	ctx, cancel := context.WithTimeout(a.ctx, a.g.Timeout)
	defer cancel()
	all, err := a.store.List(ctx, mirror.Query{RootID: &p.RootID})
	if err != nil {
		return nil, transportf("read the tree of %q: %v", p.ProcessID, err)
	}
	kids := map[string][]*mirror.Process{}
	for i := range all {
		q := &all[i]
		if q.ID == p.ID {
			p = q
		}
		if q.ParentID != nil {
			kids[q.ParentID.Hex()] = append(kids[q.ParentID.Hex()], q)
		}
	}
	var out []treeNode
	var walk func(q *mirror.Process, level int)
	walk = func(q *mirror.Process, level int) {
		out = append(out, treeNode{q, level})
		for _, k := range kids[q.ID.Hex()] {
			walk(k, level+1)
		}
	}
	walk(p, 0)
	return out, nil
}

type treeNode struct {
	p     *mirror.Process
	level int
}

// renderTree draws one line per process: name column, progress bar,
// percent, state and progress message.
func renderTree(tree []treeNode) string {
	width := 0
	labels := make([]string, len(tree))
	for i, n := range tree {
		labels[i] = strings.Repeat("  ", n.level) + n.p.ProcessID
		width = max(width, len(labels[i]))
	}
	var b strings.Builder
	for i, n := range tree {
		msg := ""
		if n.p.Progress.Message != nil {
			msg = *n.p.Progress.Message
		}
		if n.p.Status.Error != nil {
			msg = *n.p.Status.Error
		}
		if len(msg) > 60 {
			msg = msg[:57] + "..."
		}
		line := fmt.Sprintf("%-*s  %s %6s  %-16s %s", width, labels[i], bar(n.p.Progress.Percent), percentText(n.p.Progress.Percent), n.p.Status.State, msg)
		b.WriteString(strings.TrimRight(line, " "))
		b.WriteByte('\n')
	}
	return b.String()
}

func bar(percent *float64) string {
	if percent == nil {
		return "[" + strings.Repeat("?", barWidth) + "]"
	}
	filled := int(math.Round(math.Max(0, math.Min(100, *percent)) / 100 * barWidth))
	return "[" + strings.Repeat("#", filled) + strings.Repeat("-", barWidth-filled) + "]"
}

// printTreeJSON prints a frame as one line: the tree's documents in the
// optio-engine wire form.
func (a *app) printTreeJSON(tree []treeNode) error {
	procs := make([]*mirror.Process, len(tree))
	for i, n := range tree {
		procs[i] = n.p
	}
	return a.printProcessesJSON(procs)
}

// printProcessesJSON prints documents as a JSON array, each in the
// optio-engine wire form.
func (a *app) printProcessesJSON(procs []*mirror.Process) error {
	docs := make([]json.RawMessage, 0, len(procs))
	for _, p := range procs {
		doc, err := engineapi.ProcessJSON(p)
		if err != nil {
			return err
		}
		docs = append(docs, doc)
	}
	b, _ := json.Marshal(docs)
	a.printJSON(b)
	return nil
}
