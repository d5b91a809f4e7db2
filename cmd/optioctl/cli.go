package main

import (
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"slices"
	"strings"
	"time"

	"github.com/optio-temporal/optio/mirror"
)

// Exit codes.
const (
	exitOK        = 0
	exitRefused   = 1
	exitUsage     = 2
	exitTransport = 3
	// exitInterrupted is the shell's code for a command ended by SIGINT.
	exitInterrupted = 130
)

// Defaults of the global flags.
const (
	defaultRedisURL = "redis://127.0.0.1:6379/0"
	defaultMongoURL = "mongodb://127.0.0.1:27017"
	defaultDB       = "optio_demo"
	defaultPrefix   = "optio"
	defaultTimeout  = 30 * time.Second
	waitTimeout     = 2 * time.Minute
)

// globals are the flags every command takes.
type globals struct {
	RedisURL string
	MongoURL string
	DB       string
	Prefix   string
	Timeout  time.Duration
	JSON     bool
	// timeoutSet is true when --timeout was given.
	timeoutSet bool

	// RedisTLSCA is the PEM CA a rediss:// Redis is verified against.
	RedisTLSCA string
}

// cmdOptions are the flags and argument of one command; each command uses some.
type cmdOptions struct {
	ID       string
	Filter   map[string]any
	Clean    bool
	Block    bool
	Persist  bool
	Purge    bool
	Wait     bool
	Reason   *string
	State    mirror.State
	Root     string
	Interval time.Duration
}

// invocation is a parsed command line.
type invocation struct {
	globals
	cmd  *command
	opts cmdOptions
}

// command describes one subcommand: its usage, its flags and what it runs.
type command struct {
	name    string
	args    string
	summary string
	// takesID says the command needs exactly one ID argument.
	takesID bool
	// flags names the command's own flags.
	flags []string
	// needsFilter says --filter is required.
	needsFilter bool
	run         func(a *app, inv *invocation) error
}

var commands = []*command{
	{name: "launch", args: "ID", summary: "start a process", takesID: true, run: (*app).launch},
	{name: "cancel", args: "ID", summary: "cancel a scheduled or running process", takesID: true, run: (*app).cancel},
	{name: "dismiss", args: "ID", summary: "reset an ended process to idle", takesID: true, run: (*app).dismiss},
	{name: "resync", args: "[--clean] [--filter k=v]...", summary: "re-run the task generator", flags: []string{"clean", "filter"}, run: (*app).resync},
	{name: "group-cancel", args: "--filter k=v... [--block] [--persist] [--reason R] [--purge] [--wait]", summary: "cancel every active process whose metadata matches",
		flags: []string{"filter", "block", "persist", "reason", "purge", "wait"}, needsFilter: true, run: (*app).groupCancel},
	{name: "block", args: "--filter k=v... [--reason R]", summary: "refuse launches of matching processes", flags: []string{"filter", "reason"}, needsFilter: true, run: (*app).block},
	{name: "unblock", args: "--filter k=v...", summary: "lift the blocks with exactly this filter", flags: []string{"filter"}, needsFilter: true, run: (*app).unblock},
	{name: "list", args: "[--state S] [--root ID] [--filter k=v]...", summary: "list processes", flags: []string{"state", "root", "filter"}, run: (*app).list},
	{name: "get", args: "ID", summary: "show one process", takesID: true, run: (*app).get},
	{name: "watch", args: "ID [--interval D]", summary: "live progress bars of a process tree until it ends", takesID: true, flags: []string{"interval"}, run: (*app).watch},
}

// usageError is a bad command line; its text is printed with a hint.
type usageError struct{ msg string }

func (e *usageError) Error() string { return e.msg }

func usagef(format string, args ...any) error { return &usageError{fmt.Sprintf(format, args...)} }

// errHelp is returned when help was asked for and printed.
var errHelp = errors.New("help requested")

// parseArgs parses the command line. Defaults of the global flags come from
// getenv.
func parseArgs(args []string, getenv func(string) string, stderr io.Writer) (*invocation, error) {
	inv := &invocation{globals: globals{
		RedisURL: envOr(getenv, "REDIS_URL", defaultRedisURL),
		MongoURL: envOr(getenv, "MONGO_URL", defaultMongoURL),
		DB:       envOr(getenv, "OPTIO_DB", defaultDB),
		Prefix:   envOr(getenv, "OPTIO_PREFIX", defaultPrefix),
		Timeout:  defaultTimeout,

		// No default: the system's roots verify a rediss:// Redis.
		RedisTLSCA: getenv("OPTIO_REDIS_TLS_CA"),
	}}
	top := flag.NewFlagSet("optioctl", flag.ContinueOnError)
	top.SetOutput(io.Discard)
	inv.globals.register(top)
	if err := top.Parse(args); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			printUsage(stderr)
			return nil, errHelp
		}
		return nil, usagef("%v", err)
	}
	rest := top.Args()
	if len(rest) == 0 {
		return nil, usagef("no command given")
	}
	if rest[0] == "help" {
		printUsage(stderr)
		return nil, errHelp
	}
	i := slices.IndexFunc(commands, func(c *command) bool { return c.name == rest[0] })
	if i < 0 {
		return nil, usagef("unknown command %q", rest[0])
	}
	inv.cmd = commands[i]

	fs := flag.NewFlagSet("optioctl "+inv.cmd.name, flag.ContinueOnError)
	fs.SetOutput(io.Discard)
	inv.globals.register(fs)
	filter := filterFlag{m: map[string]any{}}
	var state, reason string
	o := &inv.opts
	o.Interval = 500 * time.Millisecond
	own := map[string]func(){
		"filter":   func() { fs.Var(&filter, "filter", "metadata key=value (repeatable)") },
		"clean":    func() { fs.BoolVar(&o.Clean, "clean", false, "cancel and delete the processes in scope first") },
		"block":    func() { fs.BoolVar(&o.Block, "block", false, "block matching launches while the cancel runs") },
		"persist":  func() { fs.BoolVar(&o.Persist, "persist", false, "keep the block afterwards (needs --block)") },
		"reason":   func() { fs.StringVar(&reason, "reason", "", "reason recorded with the block") },
		"purge":    func() { fs.BoolVar(&o.Purge, "purge", false, "delete the matching documents afterwards") },
		"wait":     func() { fs.BoolVar(&o.Wait, "wait", false, "wait until every cancelled process has ended") },
		"state":    func() { fs.StringVar(&state, "state", "", "only processes in this state") },
		"root":     func() { fs.StringVar(&o.Root, "root", "", "only the tree of this root (processId or _id)") },
		"interval": func() { fs.DurationVar(&o.Interval, "interval", o.Interval, "refresh interval") },
	}
	for _, name := range inv.cmd.flags {
		own[name]()
	}
	var positional []string
	rest = rest[1:]
	for {
		if err := fs.Parse(rest); err != nil {
			if errors.Is(err, flag.ErrHelp) {
				printCommandUsage(stderr, inv.cmd, fs)
				return nil, errHelp
			}
			return nil, usagef("%s: %v", inv.cmd.name, err)
		}
		rest = fs.Args()
		if len(rest) == 0 {
			break
		}
		positional = append(positional, rest[0])
		rest = rest[1:]
	}
	fs.Visit(func(f *flag.Flag) {
		switch f.Name {
		case "timeout":
			inv.timeoutSet = true
		case "reason":
			o.Reason = &reason
		}
	})
	top.Visit(func(f *flag.Flag) {
		if f.Name == "timeout" {
			inv.timeoutSet = true
		}
	})

	switch {
	case inv.cmd.takesID && len(positional) != 1:
		return nil, usagef("%s: want exactly one ID, got %d arguments", inv.cmd.name, len(positional))
	case !inv.cmd.takesID && len(positional) > 0:
		return nil, usagef("%s: unexpected argument %q", inv.cmd.name, positional[0])
	case inv.cmd.needsFilter && len(filter.m) == 0:
		return nil, usagef("%s: --filter key=value is required", inv.cmd.name)
	case inv.Timeout <= 0:
		return nil, usagef("--timeout must be positive")
	case o.Interval <= 0:
		return nil, usagef("--interval must be positive")
	}
	if inv.cmd.takesID {
		o.ID = positional[0]
		if o.ID == "" {
			return nil, usagef("%s: the ID must not be empty", inv.cmd.name)
		}
	}
	if state != "" {
		o.State = mirror.State(state)
		if !o.State.Valid() {
			return nil, usagef("list: unknown state %q (want one of %v)", state, mirror.AllStates())
		}
	}
	if len(filter.m) > 0 || slices.Contains(inv.cmd.flags, "filter") {
		o.Filter = filter.m
	}
	if inv.cmd.name == "group-cancel" && o.Wait && !inv.timeoutSet {
		inv.Timeout = waitTimeout
	}
	return inv, nil
}

func (g *globals) register(fs *flag.FlagSet) {
	// The current values are the defaults, so that a second flag set keeps
	// what the first one parsed.
	fs.StringVar(&g.RedisURL, "redis-url", g.RedisURL, "Redis URL (env REDIS_URL): redis://[user:password@]host:port/db, rediss:// for TLS")
	fs.StringVar(&g.RedisTLSCA, "redis-tls-ca", g.RedisTLSCA, "PEM CA file that verifies a rediss:// Redis; default the system's roots (env OPTIO_REDIS_TLS_CA)")
	fs.StringVar(&g.MongoURL, "mongo-url", g.MongoURL, "MongoDB URL (env MONGO_URL)")
	fs.StringVar(&g.DB, "db", g.DB, "MongoDB database (env OPTIO_DB)")
	fs.StringVar(&g.Prefix, "prefix", g.Prefix, "optio prefix (env OPTIO_PREFIX)")
	fs.DurationVar(&g.Timeout, "timeout", g.Timeout, "timeout of each call and connection")
	fs.BoolVar(&g.JSON, "json", g.JSON, "print JSON")
}

func envOr(getenv func(string) string, key, def string) string {
	if v := getenv(key); v != "" {
		return v
	}
	return def
}

// filterFlag collects repeated --filter key=value flags.
type filterFlag struct{ m map[string]any }

func (f *filterFlag) String() string {
	if f == nil || len(f.m) == 0 {
		return ""
	}
	b, _ := json.Marshal(f.m)
	return string(b)
}

func (f *filterFlag) Set(s string) error {
	k, v, ok := strings.Cut(s, "=")
	if !ok || k == "" {
		return fmt.Errorf("want key=value, got %q", s)
	}
	if _, dup := f.m[k]; dup {
		return fmt.Errorf("key %q given twice", k)
	}
	f.m[k] = filterValue(v)
	return nil
}

// filterValue reads v as a JSON scalar when it is one, else as a string.
func filterValue(v string) any {
	var x any
	dec := json.NewDecoder(strings.NewReader(v))
	dec.UseNumber()
	if err := dec.Decode(&x); err == nil && !dec.More() {
		switch x := x.(type) {
		case nil, bool, string:
			return x
		case json.Number:
			if n, err := x.Int64(); err == nil {
				return n
			}
			if f, err := x.Float64(); err == nil {
				return f
			}
		}
	}
	return v
}

func printUsage(w io.Writer) {
	fmt.Fprintln(w, "usage: optioctl [global flags] <command> [flags] [args]")
	fmt.Fprintln(w, "\ncommands:")
	for _, c := range commands {
		fmt.Fprintf(w, "  %-13s %s\n  %-13s   %s\n", c.name, c.args, "", c.summary)
	}
	fmt.Fprintln(w, "\nglobal flags (also accepted after the command):")
	fs := flag.NewFlagSet("optioctl", flag.ContinueOnError)
	(&globals{RedisURL: defaultRedisURL, MongoURL: defaultMongoURL, DB: defaultDB, Prefix: defaultPrefix, Timeout: defaultTimeout}).register(fs)
	fs.SetOutput(w)
	fs.PrintDefaults()
	fmt.Fprintln(w, "\nexit codes: 0 ok, 1 refused by the engine (reason printed), 2 usage error, 3 transport or connection error")
}

func printCommandUsage(w io.Writer, c *command, fs *flag.FlagSet) {
	fmt.Fprintf(w, "usage: optioctl %s %s\n\n%s\n\nflags:\n", c.name, c.args, c.summary)
	fs.SetOutput(w)
	fs.PrintDefaults()
}
