package suite

import (
	"context"
	"fmt"
	"sort"
	"strings"
	"sync"
	"time"

	"go.mongodb.org/mongo-driver/v2/bson"
	"go.mongodb.org/mongo-driver/v2/event"
	"google.golang.org/grpc"
)

// Counts is a set of counters by name: how many calls and how long they took
// in all.
type Counts map[string]Count

// Count is one counter of a Counts.
type Count struct {
	N     int64
	Total time.Duration
}

// Sub returns c minus before, dropping counters that did not move.
func (c Counts) Sub(before Counts) Counts {
	out := Counts{}
	for k, v := range c {
		b := before[k]
		if d := (Count{N: v.N - b.N, Total: v.Total - b.Total}); d.N != 0 {
			out[k] = d
		}
	}
	return out
}

// N returns the number of calls whose name has the given prefix.
func (c Counts) N(prefix string) int64 {
	var n int64
	for k, v := range c {
		if strings.HasPrefix(k, prefix) {
			n += v.N
		}
	}
	return n
}

// Total returns the number of calls in all.
func (c Counts) Total() int64 { return c.N("") }

// Format prints the counters per operation (divided by ops), most frequent
// first, with the mean duration of one call.
func (c Counts) Format(ops int) string {
	if ops <= 0 {
		ops = 1
	}
	keys := make([]string, 0, len(c))
	for k := range c {
		keys = append(keys, k)
	}
	sort.Slice(keys, func(i, j int) bool {
		if c[keys[i]].N != c[keys[j]].N {
			return c[keys[i]].N > c[keys[j]].N
		}
		return keys[i] < keys[j]
	})
	var b strings.Builder
	for _, k := range keys {
		v := c[k]
		fmt.Fprintf(&b, "      %-58s %7.2f/op  mean %7.2f ms\n", k, float64(v.N)/float64(ops), ms(v.Total)/float64(v.N))
	}
	return b.String()
}

// TraceEvent is one Temporal call or Mongo command seen while tracing.
type TraceEvent struct {
	Start time.Time
	Dur   time.Duration
	Kind  string // "grpc" or "mongo"
	Name  string
}

// monitor counts Temporal calls (by gRPC method) and Mongo commands (by
// command and collection), and records them while tracing is on.
type monitor struct {
	mu      sync.Mutex
	grpc    Counts
	mongo   Counts
	pending map[int64]pendingCmd
	tracing bool
	trace   []TraceEvent
}

type pendingCmd struct {
	name  string
	start time.Time
}

func newMonitor() *monitor {
	return &monitor{grpc: Counts{}, mongo: Counts{}, pending: map[int64]pendingCmd{}}
}

func (m *monitor) add(kind string, counts Counts, name string, start time.Time, d time.Duration) {
	m.mu.Lock()
	defer m.mu.Unlock()
	c := counts[name]
	c.N++
	c.Total += d
	counts[name] = c
	if m.tracing {
		m.trace = append(m.trace, TraceEvent{Start: start, Dur: d, Kind: kind, Name: name})
	}
}

// unary is the Temporal client's gRPC interceptor.
func (m *monitor) unary(ctx context.Context, method string, req, reply any, cc *grpc.ClientConn, invoker grpc.UnaryInvoker, opts ...grpc.CallOption) error {
	start := time.Now()
	err := invoker(ctx, method, req, reply, cc, opts...)
	name := method[strings.LastIndexByte(method, '/')+1:]
	m.add("grpc", m.grpc, name, start, time.Since(start))
	return err
}

// commandMonitor is the Mongo client's command monitor.
func (m *monitor) commandMonitor() *event.CommandMonitor {
	finish := func(id int64, d time.Duration) {
		m.mu.Lock()
		p, ok := m.pending[id]
		delete(m.pending, id)
		m.mu.Unlock()
		if ok {
			m.add("mongo", m.mongo, p.name, p.start, d)
		}
	}
	return &event.CommandMonitor{
		Started: func(_ context.Context, e *event.CommandStartedEvent) {
			name := e.CommandName
			// CRUD commands name their collection as the command's value.
			if first, err := e.Command.IndexErr(0); err == nil {
				if coll, ok := first.Value().StringValueOK(); ok && first.Key() == e.CommandName {
					name += " " + coll + filterShape(e.CommandName, e.Command)
				}
			}
			m.mu.Lock()
			m.pending[e.RequestID] = pendingCmd{name: name, start: time.Now()}
			m.mu.Unlock()
		},
		Succeeded: func(_ context.Context, e *event.CommandSucceededEvent) { finish(e.RequestID, e.Duration) },
		Failed:    func(_ context.Context, e *event.CommandFailedEvent) { finish(e.RequestID, e.Duration) },
	}
}

// snapshot returns copies of the counters.
func (m *monitor) snapshot() (grpcCounts, mongoCounts Counts) {
	m.mu.Lock()
	defer m.mu.Unlock()
	grpcCounts, mongoCounts = Counts{}, Counts{}
	for k, v := range m.grpc {
		grpcCounts[k] = v
	}
	for k, v := range m.mongo {
		mongoCounts[k] = v
	}
	return grpcCounts, mongoCounts
}

// startTrace clears the trace and starts recording.
func (m *monitor) startTrace() {
	m.mu.Lock()
	defer m.mu.Unlock()
	m.trace, m.tracing = nil, true
}

// stopTrace stops recording and returns what was recorded, in start order.
func (m *monitor) stopTrace() []TraceEvent {
	m.mu.Lock()
	defer m.mu.Unlock()
	m.tracing = false
	out := m.trace
	m.trace = nil
	sort.Slice(out, func(i, j int) bool { return out[i].Start.Before(out[j].Start) })
	return out
}

// filterShape names the keys of a CRUD command's filter, as " {k1,k2}", or
// "" for commands without one. On FerretDB only {_id} reaches an index.
func filterShape(cmd string, doc bson.Raw) string {
	var v bson.RawValue
	switch cmd {
	case "find", "count":
		v = doc.Lookup("filter")
	case "findAndModify":
		v = doc.Lookup("query")
	case "update":
		v = doc.Lookup("updates", "0", "q")
	case "delete":
		v = doc.Lookup("deletes", "0", "q")
	default:
		return ""
	}
	f, ok := v.DocumentOK()
	if !ok {
		return ""
	}
	elems, err := f.Elements()
	if err != nil {
		return ""
	}
	keys := make([]string, len(elems))
	for i, e := range elems {
		keys[i] = e.Key()
	}
	return " {" + strings.Join(keys, ",") + "}"
}
