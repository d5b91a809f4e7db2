package tests

// The end-to-end tests of the engine run against the in-process Temporal
// server and the embedded Mongo-wire server (FerretDB, or a real MongoDB when
// OPTIO_TEST_MONGO_URL is set) that internal/testenv provides; nothing is
// mocked. One file per behaviour; setup_test.go has what they share (an
// engine on a fresh database, task generators, gated bodies, raw reads).
//
// Task sets of worker processes (internal/workerproc) are registered in
// package-level variables, so that the re-executed test binary knows them
// when init hands it over to workerproc.MaybeRun, before TestMain.

import "github.com/optio-temporal/optio/internal/workerproc"

func init() { workerproc.MaybeRun() }
