// Package devstack runs, inside one Go process, everything optio needs: a
// Temporal server with its Web UI, a MongoDB-wire server and Redis. Tests
// use it through package testenv, and cmd/worker's dev mode through
// [Start].
//
// # Parts
//
//   - [StartTemporal]: go.temporal.io/server (frontend, history, matching
//     and worker services, one history shard) on SQLite in WAL mode, in
//     DataDir/temporal.db or, without a DataDir, in a scratch file removed
//     at Stop. Namespace "default" is always registered, plus
//     any others asked for. The dynamic config turns on what optio relies
//     on (workflow Updates, Schedules and the scheduler worker) whatever the
//     server version's defaults, uses one task-queue partition, and lets
//     timers fire within milliseconds of their deadline instead of up to a
//     second late (a 10 ms workflow.Sleep takes about 30 ms end to end).
//   - [StartUI]: the real Temporal Web UI (github.com/temporalio/ui-server/v2
//     with its assets embedded in the binary) pointed at a Temporal server.
//   - [StartMongo]: FerretDB v1 on its SQLite backend, one file per database
//     under a directory. It speaks the MongoDB wire protocol well enough for
//     the official driver and optio's collections; production uses MongoDB.
//   - [StartRedis]: a real redis-server child process when one is on PATH
//     (package redisserver), otherwise miniredis in-process, which keeps
//     nothing on disk.
//
// Each part binds 127.0.0.1 unless told otherwise, takes a given port or a
// free one, reports its address, returns a *[PortInUseError] naming itself
// and the port when the port is taken, and has an idempotent Stop.
//
// # Stack
//
// [Start] starts the parts a [Config] asks for (a nil part config leaves
// the part out), Temporal, Mongo and Redis side by side and then the UI,
// logs how long that took, and stops whatever did start if one part fails.
// With Config.DataDir set, Temporal history, schedules, Mongo data and Redis
// streams survive a restart on the same directory.
//
//	s, err := devstack.Start(ctx, devstack.Config{
//		DataDir:  ".optio-dev",
//		Temporal: &devstack.TemporalConfig{Port: 7233},
//		UI:       &devstack.UIConfig{Port: 8233},
//		Mongo:    &devstack.MongoConfig{Port: 27017},
//		Redis:    &devstack.RedisConfig{Port: 6379},
//	})
//	if err != nil { ... }
//	defer s.Stop()
//	c, err := client.Dial(client.Options{HostPort: s.Temporal().HostPort()})
//
// # What Stop leaves behind
//
// Stop releases every port, child process, goroutine and temporary
// directory of the UI, Mongo and Redis. The Temporal server v1.32.1 does
// not stop everything it starts: its parent-close-policy system worker and
// that worker's SDK client keep polling after Server.Stop, and its SQLite
// plugin keeps each database open for the life of the process (both are
// TODOs in the server's code). The scanners, which would add more such
// workers and which a dev server does not need, are switched off. Every
// goroutine the server starts carries the pprof label [GoroutineLabel], so
// package leakcheck can tell those leftovers from real leaks.
package devstack
