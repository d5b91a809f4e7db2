package suite

import (
	"context"
	"fmt"
	"log/slog"
	"regexp"
	"sort"
	"strings"
	"sync"
)

// logCounter is the slog handler of the servers, the SDK and the engine: it
// counts warnings and errors by what they say (so a measurement can report
// them) and forwards them to next when next is set.
type logCounter struct {
	mu     *sync.Mutex
	counts map[string]int
	min    slog.Level
	attrs  []slog.Attr
	next   slog.Handler
}

func newLogCounter(next slog.Handler, min slog.Level) *logCounter {
	return &logCounter{mu: &sync.Mutex{}, counts: map[string]int{}, next: next, min: min}
}

func (h *logCounter) Enabled(_ context.Context, l slog.Level) bool {
	return l >= h.min && (l >= slog.LevelWarn || h.next != nil)
}

func (h *logCounter) Handle(ctx context.Context, r slog.Record) error {
	if r.Level < slog.LevelWarn {
		if h.next != nil && h.next.Enabled(ctx, r.Level) {
			return h.next.Handle(ctx, r)
		}
		return nil
	}
	key := map[string]string{}
	collect := func(a slog.Attr) bool {
		switch a.Key {
		case "part", "component", "operation", "error", "Error", "ActivityType", "WorkflowType":
			v := a.Value.String()
			v = runIDs.ReplaceAllString(v, "<run>")
			if len(v) > 90 {
				v = v[:90] + "..."
			}
			key[a.Key] = v
		}
		return true
	}
	for _, a := range h.attrs {
		collect(a)
	}
	r.Attrs(collect)
	var b strings.Builder
	fmt.Fprintf(&b, "%s %q", r.Level, runIDs.ReplaceAllString(r.Message, "<run>"))
	names := make([]string, 0, len(key))
	for k := range key {
		names = append(names, k)
	}
	sort.Strings(names)
	for _, k := range names {
		fmt.Fprintf(&b, " %s=%q", k, key[k])
	}
	h.mu.Lock()
	h.counts[b.String()]++
	h.mu.Unlock()
	if h.next != nil && h.next.Enabled(ctx, r.Level) {
		return h.next.Handle(ctx, r)
	}
	return nil
}

func (h *logCounter) WithAttrs(as []slog.Attr) slog.Handler {
	c := *h
	c.attrs = append(append([]slog.Attr(nil), h.attrs...), as...)
	if h.next != nil {
		c.next = h.next.WithAttrs(as)
	}
	return &c
}

func (h *logCounter) WithGroup(name string) slog.Handler {
	c := *h
	if h.next != nil {
		c.next = h.next.WithGroup(name)
	}
	return &c
}

func (h *logCounter) snapshot() map[string]int {
	h.mu.Lock()
	defer h.mu.Unlock()
	out := make(map[string]int, len(h.counts))
	for k, v := range h.counts {
		out[k] = v
	}
	return out
}

// runIDs matches run IDs (and the event IDs the SDK appends to them), so
// that messages differing only by run count as one.
var runIDs = regexp.MustCompile(`[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}(:\d+:\d+)?`)

// maxLogLines bounds how many kinds of log line a measurement lists.
const maxLogLines = 12

// logsSince formats the warnings and errors logged since before.
func logsSince(now, before map[string]int) string {
	type kv struct {
		k string
		n int
	}
	var diff []kv
	for k, v := range now {
		if d := v - before[k]; d > 0 {
			diff = append(diff, kv{k, d})
		}
	}
	if len(diff) == 0 {
		return ""
	}
	sort.Slice(diff, func(i, j int) bool { return diff[i].n > diff[j].n })
	var b strings.Builder
	b.WriteString("    warnings and errors logged meanwhile (servers, SDK, engine):\n")
	for i, d := range diff {
		if i == maxLogLines {
			fmt.Fprintf(&b, "      ... and %d more kinds\n", len(diff)-i)
			break
		}
		fmt.Fprintf(&b, "      %6d x %s\n", d.n, d.k)
	}
	return b.String()
}
