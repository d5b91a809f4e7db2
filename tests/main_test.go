// Package tests holds optio's end-to-end tests: every test runs the engine
// against the in-process Temporal server and the embedded Mongo-wire server
// (FerretDB, or a real MongoDB when OPTIO_TEST_MONGO_URL is set) that
// internal/testenv provides. Nothing is mocked.
//
// One file per behaviour. setup_test.go has what they share: a started engine
// with its database (newSystem), task generators, gated bodies and readers of
// the raw documents. Task sets for worker processes (internal/workerproc) are
// registered from init functions, so that the re-executed test binary knows
// them before TestMain calls workerproc.MaybeRun.
package tests

import (
	"testing"

	"github.com/optio-temporal/optio/internal/testenv"
	"github.com/optio-temporal/optio/internal/workerproc"
)

func TestMain(m *testing.M) {
	workerproc.MaybeRun()
	testenv.Main(m)
}
