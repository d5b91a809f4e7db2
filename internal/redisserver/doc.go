// Package redisserver runs a real redis-server binary as a child process, for
// tests and the dev stack.
//
// The child runs in its own process group and, on Linux, is sent SIGKILL when
// the parent dies, so a crashed test run does not leave Redis servers behind.
// Without a Dir the server keeps nothing on disk; with one it writes an
// append-only file there, so data survives Stop, Kill and Restart.
//
//	srv, err := redisserver.Start(ctx, redisserver.Options{})
//	if err != nil { ... }
//	defer srv.Stop()
//	rdb := redis.NewClient(&redis.Options{Addr: srv.Addr()})
package redisserver
