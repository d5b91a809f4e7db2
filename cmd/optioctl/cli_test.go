package main

import (
	"bytes"
	"context"
	"io"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/optio-temporal/optio/internal/testenv"
	"github.com/optio-temporal/optio/mirror"
)

func noEnv(string) string { return "" }

func ptr[T any](v T) *T { return &v }

func TestParseArgs(t *testing.T) {
	defaults := globals{RedisURL: defaultRedisURL, MongoURL: defaultMongoURL, DB: defaultDB, Prefix: defaultPrefix, Timeout: defaultTimeout}
	for _, tt := range []struct {
		name string
		args []string
		env  map[string]string
		cmd  string
		g    func(g *globals)
		opts cmdOptions
	}{
		{name: "launch", args: []string{"launch", "demo-quick"}, cmd: "launch", opts: cmdOptions{ID: "demo-quick"}},
		{name: "globals before and after the command", args: []string{"--db", "d1", "cancel", "p1", "--prefix", "px", "--json", "--timeout", "5s"}, cmd: "cancel",
			g: func(g *globals) {
				g.DB, g.Prefix, g.JSON, g.Timeout, g.timeoutSet = "d1", "px", true, 5*time.Second, true
			}, opts: cmdOptions{ID: "p1"}},
		{name: "environment", args: []string{"dismiss", "p1"}, cmd: "dismiss",
			env: map[string]string{"REDIS_URL": "redis://r:1/2", "MONGO_URL": "mongodb://m:2", "OPTIO_DB": "envdb", "OPTIO_PREFIX": "envp"},
			g: func(g *globals) {
				g.RedisURL, g.MongoURL, g.DB, g.Prefix = "redis://r:1/2", "mongodb://m:2", "envdb", "envp"
			}, opts: cmdOptions{ID: "p1"}},
		{name: "flags win over the environment", args: []string{"--db", "flagdb", "get", "p1"}, cmd: "get", env: map[string]string{"OPTIO_DB": "envdb"},
			g: func(g *globals) { g.DB = "flagdb" }, opts: cmdOptions{ID: "p1"}},
		{name: "resync", args: []string{"resync", "--clean", "--filter", "group=demo"}, cmd: "resync",
			opts: cmdOptions{Clean: true, Filter: map[string]any{"group": "demo"}}},
		{name: "resync without filter", args: []string{"resync"}, cmd: "resync", opts: cmdOptions{Filter: map[string]any{}}},
		{name: "group-cancel", args: []string{"group-cancel", "--filter", "group=demo", "--filter", "n=5", "--filter", `s="5"`, "--filter", "x=1.5",
			"--filter", "b=true", "--filter", "z=null", "--block", "--persist", "--reason", "drain", "--purge"}, cmd: "group-cancel",
			opts: cmdOptions{Filter: map[string]any{"group": "demo", "n": int64(5), "s": "5", "x": 1.5, "b": true, "z": nil}, Block: true, Persist: true, Purge: true, Reason: ptr("drain")}},
		{name: "group-cancel --wait has a longer timeout", args: []string{"group-cancel", "--filter", "a=b", "--wait"}, cmd: "group-cancel",
			g: func(g *globals) { g.Timeout = waitTimeout }, opts: cmdOptions{Filter: map[string]any{"a": "b"}, Wait: true}},
		{name: "an explicit timeout wins", args: []string{"--timeout", "3s", "group-cancel", "--filter", "a=b", "--wait"}, cmd: "group-cancel",
			g: func(g *globals) { g.Timeout, g.timeoutSet = 3*time.Second, true }, opts: cmdOptions{Filter: map[string]any{"a": "b"}, Wait: true}},
		{name: "block with an empty reason", args: []string{"block", "--filter", "kind=x", "--reason", ""}, cmd: "block",
			opts: cmdOptions{Filter: map[string]any{"kind": "x"}, Reason: ptr("")}},
		{name: "unblock", args: []string{"unblock", "--filter", "kind=a=b"}, cmd: "unblock", opts: cmdOptions{Filter: map[string]any{"kind": "a=b"}}},
		{name: "list", args: []string{"list", "--state", "running", "--root", "tree", "--filter", "group=demo"}, cmd: "list",
			opts: cmdOptions{State: mirror.Running, Root: "tree", Filter: map[string]any{"group": "demo"}}},
		{name: "watch", args: []string{"watch", "p1", "--interval", "100ms"}, cmd: "watch", opts: cmdOptions{ID: "p1", Interval: 100 * time.Millisecond}},
	} {
		t.Run(tt.name, func(t *testing.T) {
			getenv := func(k string) string { return tt.env[k] }
			inv, err := parseArgs(tt.args, getenv, io.Discard)
			require.NoError(t, err)
			require.Equal(t, tt.cmd, inv.cmd.name)
			want := defaults
			if tt.g != nil {
				tt.g(&want)
			}
			assert.Equal(t, want, inv.globals)
			if tt.opts.Interval == 0 {
				tt.opts.Interval = 500 * time.Millisecond
			}
			assert.Equal(t, tt.opts, inv.opts)
		})
	}
}

// Usage errors exit 2 without touching any server; unreachable servers exit
// 3; help exits 0.
func TestExitCodes(t *testing.T) {
	redisURL := testenv.RedisURL(t) // a live Redis where no engine serves
	for _, tt := range []struct {
		name   string
		args   []string
		code   int
		stderr string
	}{
		{"no command", nil, exitUsage, "no command given"},
		{"unknown command", []string{"start", "x"}, exitUsage, `unknown command "start"`},
		{"help", []string{"-h"}, exitOK, "usage: optioctl"},
		{"help command", []string{"help"}, exitOK, "exit codes"},
		{"command help", []string{"launch", "-h"}, exitOK, "usage: optioctl launch ID"},
		{"missing ID", []string{"launch"}, exitUsage, "want exactly one ID"},
		{"two IDs", []string{"cancel", "a", "b"}, exitUsage, "want exactly one ID"},
		{"empty ID", []string{"get", ""}, exitUsage, "must not be empty"},
		{"argument to list", []string{"list", "x"}, exitUsage, `unexpected argument "x"`},
		{"unknown flag", []string{"launch", "--force", "x"}, exitUsage, "flag provided but not defined: -force"},
		{"flag of another command", []string{"launch", "x", "--clean"}, exitUsage, "-clean"},
		{"group-cancel without filter", []string{"group-cancel", "--block"}, exitUsage, "--filter key=value is required"},
		{"block without filter", []string{"block"}, exitUsage, "--filter key=value is required"},
		{"filter without =", []string{"unblock", "--filter", "kind"}, exitUsage, "want key=value"},
		{"filter key twice", []string{"unblock", "--filter", "k=1", "--filter", "k=2"}, exitUsage, "given twice"},
		{"bad state", []string{"list", "--state", "paused"}, exitUsage, `unknown state "paused"`},
		{"bad timeout", []string{"--timeout", "soon", "list"}, exitUsage, "invalid value"},
		{"zero timeout", []string{"--timeout", "0s", "list"}, exitUsage, "--timeout must be positive"},
		{"bad redis url", []string{"--redis-url", "http://x", "launch", "x"}, exitUsage, "--redis-url"},
		{"redis down", []string{"--redis-url", "redis://127.0.0.1:1/0", "--timeout", "2s", "launch", "x"}, exitTransport, "Redis at 127.0.0.1:1: the Redis server did not answer"},
		{"no engine serving", []string{"--redis-url", redisURL, "--db", "nobody-here", "cancel", "x"}, exitTransport, "no optio engine is serving"},
		{"mongo down", []string{"--mongo-url", "mongodb://127.0.0.1:1", "--timeout", "500ms", "get", "x"}, exitTransport, "cannot reach MongoDB"},
	} {
		t.Run(tt.name, func(t *testing.T) {
			var stdout, stderr bytes.Buffer
			code := run(context.Background(), tt.args, noEnv, &stdout, &stderr, false)
			assert.Equal(t, tt.code, code, "stderr: %s", stderr.String())
			assert.Contains(t, stderr.String(), tt.stderr)
		})
	}
}

func TestRenderTree(t *testing.T) {
	pct := func(f float64) *float64 { return &f }
	node := func(id string, level int, state mirror.State, percent *float64, msg string) treeNode {
		p := &mirror.Process{ProcessID: id, Status: mirror.Status{State: state}, Progress: mirror.Progress{Percent: percent}}
		if msg != "" {
			p.Progress.Message = &msg
		}
		return treeNode{p, level}
	}
	failed := node("nightly/b", 1, mirror.Failed, pct(10), "")
	failed.p.Status.Error = ptr("disk full")
	got := renderTree([]treeNode{
		node("nightly", 0, mirror.Running, pct(55), "2 of 3 parts"),
		node("nightly/a", 1, mirror.Done, pct(100), "ok"),
		failed,
		node("nightly/c", 1, mirror.Running, nil, ""),
		node("nightly/c/x", 2, mirror.Scheduled, pct(0), ""),
	})
	want := "" +
		"nightly          [#################-------------]  55.0%  running          2 of 3 parts\n" +
		"  nightly/a      [##############################] 100.0%  done             ok\n" +
		"  nightly/b      [###---------------------------]  10.0%  failed           disk full\n" +
		"  nightly/c      [??????????????????????????????]      -  running\n" +
		"    nightly/c/x  [------------------------------]   0.0%  scheduled\n"
	assert.Equal(t, want, got)
}
