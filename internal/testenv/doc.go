// Package testenv gives a test the real servers optio runs on: a Temporal
// server with a client, a fresh Mongo database and a Redis URL, each cleaned
// up with t.Cleanup.
//
// # Setup
//
// Servers are started on first use and shared by every test of the test
// binary, because starting Temporal costs about half a second and each test
// gets its own Mongo database, task queue and workflow IDs anyway. A package
// that uses testenv stops them at exit from TestMain:
//
//	func TestMain(m *testing.M) { testenv.Main(m) }
//
// Without that the servers live until the test binary exits (a redis-server
// child is killed with it on Linux), which is harmless but untidy.
//
// # One call
//
//	func TestLaunch(t *testing.T) {
//		env := testenv.New(t)
//		queue := testenv.TaskQueue(t)
//		w := worker.New(env.Temporal.Client, queue, worker.Options{})
//		...
//		coll := env.Mongo.DB.Collection("optio_processes")
//		rdb := redis.NewClient(mustParse(env.RedisURL))
//	}
//
// [New] returns an [Env] with all three; [NewTemporal], [NewMongo] and
// [RedisURL] give one each, for tests that need less. What a test receives:
//
//   - Temporal: an in-process server (package devstack, in-memory SQLite,
//     namespace "default") and a client for it, closed on cleanup. HostPort
//     and Namespace are there too, so a test can start a second worker
//     process against the same server. Use [TaskQueue] for a queue no other
//     test polls. [NewTemporalWith] gives a server of the test's own
//     instead; see below.
//   - Mongo: a database no other test uses, named after the test, dropped
//     on cleanup, with a client disconnected on cleanup. The server is
//     embedded FerretDB (SQLite) unless OPTIO_TEST_MONGO_URL names a real
//     MongoDB, e.g. OPTIO_TEST_MONGO_URL=mongodb://localhost:27017.
//   - Redis: the URL of a real redis-server on a free port (Debian package
//     redis-server). When none is installed the tests fall back to the
//     embedded miniredis and log a notice, unless
//     OPTIO_TEST_REQUIRE_REAL_REDIS=1, which makes them fail instead (CI
//     sets it). Tests share the server; optio's keys are prefixed with the
//     database name, which is unique per test. [NewRedis] starts a server
//     of the test's own, for tests that kill or restart Redis.
//
// # A Temporal server of the test's own
//
// A test that needs the server configured differently from the shared one
// (a history or payload size limit it can reach in a few events, say) starts
// one of its own with dynamic config overrides, keyed as in Temporal's
// dynamicconfig package and applied over the dev server's own settings:
//
//	tmp := testenv.NewTemporalWith(t, map[string]any{"limit.historyCount.error": 20})
//
// It is in memory, has namespace "default" and is stopped on cleanup; it
// costs about half a second to start, so tests that can share one should.
//
// # Logs
//
// [Logger] returns an slog.Logger that writes to the test's output and stops
// writing once the test is over. Its level is warn unless
// OPTIO_TEST_LOG_LEVEL says debug, info or error. The clients testenv
// creates log through it, and so do the servers of [NewTemporalWith].
package testenv
