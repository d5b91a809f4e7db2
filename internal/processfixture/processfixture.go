// Package processfixture holds process documents that tests of the
// optio-engine wire form share: the example document of clamator-wire.md
// §8.4 and the changes to it that optio-core's Process model rejects. Both
// the encoder (rpc/engineapi.ProcessJSON) and the service that sends its
// output (rpc/engineservice) are tested against the same table, so that a
// rejection added to one is tested in both.
package processfixture

import (
	"time"

	"go.mongodb.org/mongo-driver/v2/bson"

	"github.com/optio-temporal/optio/mirror"
)

// ExampleID is the _id (and rootId) of [Example]'s document.
const ExampleID = "6650f1c2a1b2c3d4e5f60718"

// Example returns a fresh copy of the document of the example reply in
// clamator-wire.md §8.4, as the Go mirror holds it: a scheduled root with
// one log entry.
func Example() *mirror.Process {
	id, err := bson.ObjectIDFromHex(ExampleID)
	if err != nil {
		panic(err) // a constant that parses
	}
	percent := 0.0
	return &mirror.Process{
		ID: id, ProcessID: "opencode-demo", Name: "OpenCode demo",
		Params: map[string]any{}, Metadata: map[string]any{"tag": "demo"},
		RootID: id, Cancellable: true,
		Status:   mirror.Status{State: mirror.Scheduled},
		Progress: mirror.Progress{Percent: &percent},
		Log: []mirror.LogEntry{{
			Timestamp: "2026-05-08T10:00:00.123000+00:00", Level: mirror.LevelEvent, Message: "State changed to scheduled",
		}},
		CreatedAt: time.Date(2026, 5, 8, 9, 59, 59, 0, time.UTC),
	}
}

// Rejection is a change to [Example] that makes a document optio-core's
// Process model rejects, and a part of the error it must give.
type Rejection struct {
	Name   string
	Mutate func(p *mirror.Process)
	Want   string
}

// Rejected returns the documents the wire form must refuse to encode.
func Rejected() []Rejection {
	pct := func(v float64) *float64 { return &v }
	return []Rejection{
		{"percent above 100", func(p *mirror.Process) { p.Progress.Percent = pct(100.5) }, "outside 0..100"},
		{"negative percent", func(p *mirror.Process) { p.Progress.Percent = pct(-1) }, "outside 0..100"},
		{"negative order", func(p *mirror.Process) { p.Order = -1 }, "must be >= 0"},
		{"unknown state", func(p *mirror.Process) { p.Status.State = "paused" }, "unknown state"},
		{"unknown log level", func(p *mirror.Process) { p.Log[0].Level = "trace" }, "unknown level"},
		{"bad log timestamp", func(p *mirror.Process) { p.Log[0].Timestamp = "yesterday" }, "not an ISO-8601"},
		{"channel in params", func(p *mirror.Process) { p.Params["c"] = make(chan int) }, "cannot encode"},
	}
}
