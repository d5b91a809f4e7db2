// Package suite holds the optio-temporal benchmark: the measurements the
// bench command prints and bench_test.go runs under go test -bench. Every
// measurement runs optio and a bare-Temporal equivalent on the same Temporal
// server, in the same worker process, in the same run, and reports both
// figures and their ratio.
//
// The environment ([Env]) starts its own in-process Temporal server (in
// memory) and FerretDB, or uses given addresses. It instruments the
// Temporal client with a gRPC interceptor and the Mongo client with a
// command monitor, so every measurement can say how many Temporal calls and
// Mongo commands one operation took, and it labels goroutines for pprof
// (key [SideLabel]) so a CPU profile of the bench process splits into the
// Temporal server, FerretDB, the optio engine and the bare worker.
package suite
