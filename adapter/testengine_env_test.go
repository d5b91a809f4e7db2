package adapter_test

// The plumbing of the package's engine tests: an engine on the servers the
// examples share, shut down with the test.

import (
	"testing"

	"go.mongodb.org/mongo-driver/v2/mongo"

	"github.com/optio-temporal/optio/adapter"
)

// newTestEngine starts an engine as startExampleEngine does, for a test: a
// failure to start fails the test, and a cleanup shuts the engine down and
// drops its database. It returns the database too, for tests that read or
// write the documents behind the engine's back.
func newTestEngine(t *testing.T, cfg adapter.Config) (*adapter.Engine, *mongo.Database) {
	t.Helper()
	eng, db, stop, err := startExampleEngine(cfg)
	if err != nil {
		t.Fatalf("start the engine: %v", err)
	}
	t.Cleanup(stop)
	return eng, db
}

// processIDs lists the processIds of every document, roots and children
// alike, in ListProcesses order.
func processIDs(t *testing.T, eng *adapter.Engine) []string {
	t.Helper()
	all, err := eng.ListProcesses(t.Context(), adapter.ListOptions{})
	if err != nil {
		t.Fatalf("list processes: %v", err)
	}
	ids := make([]string, len(all))
	for i, p := range all {
		ids[i] = p.ProcessID
	}
	return ids
}
