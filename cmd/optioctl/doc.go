// Command optioctl drives optio engines from a shell: it calls the
// optio-engine service over clamator RPC on Redis, as optio-api does, and
// reads process documents straight from the Mongo mirror.
//
// Usage:
//
//	optioctl [global flags] <command> [flags] [args]
//
// Commands that call an engine (they need a running engine on the same Redis,
// database and prefix, which optioctl checks through its heartbeat key):
//
//	launch ID                  start a process (ID is a processId or a document _id)
//	cancel ID                  cancel a scheduled or running process
//	dismiss ID                 reset an ended process to idle
//	resync [--clean] [--filter k=v]...
//	                           re-run the task generator (a notification: no answer)
//	group-cancel --filter k=v... [--block] [--persist] [--reason R] [--purge] [--wait]
//	                           cancel every active process whose metadata matches
//	block --filter k=v... [--reason R]
//	                           refuse launches of matching processes until unblocked
//	unblock --filter k=v...    lift the blocks with exactly this filter
//
// Commands that read the Mongo mirror:
//
//	list [--state S] [--root ID] [--filter k=v]...
//	get ID
//	watch ID [--interval D]    live progress bars of a process tree until it ends
//
// Global flags, which may also follow the command, with the environment
// variables that set their defaults:
//
//	--redis-url   REDIS_URL     default redis://127.0.0.1:6379/0
//	--redis-tls-ca OPTIO_REDIS_TLS_CA
//	                            PEM CA of a rediss:// Redis, default the system's roots
//	--mongo-url   MONGO_URL     default mongodb://127.0.0.1:27017
//	--db          OPTIO_DB      default optio_demo
//	--prefix      OPTIO_PREFIX  default optio
//	--timeout                   per call and connection, default 30s (2m for group-cancel --wait)
//	--json                      print results as JSON (the wire result, or the
//	                            process documents as the optio-engine service
//	                            serializes them; resync prints nothing)
//
// A filter value is read as JSON when it is a number, true, false, null or a
// quoted string, and as a plain string otherwise: --filter n=5 matches the
// number 5, --filter 'n="5"' the string "5". Repeat --filter to require
// several keys.
//
// # Exit codes
//
//	0  success (for watch: the process ended done)
//	1  the engine refused: a contract failure reason such as not-found or
//	   launch-blocked, or an RPC error reply (both printed); for watch, the
//	   process ended failed or cancelled
//	2  usage error
//	3  transport or connection error: Redis or Mongo unreachable, no engine
//	   serving, no answer in time
//	130  interrupted (Ctrl-C during watch)
package main
