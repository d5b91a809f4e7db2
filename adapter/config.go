package adapter

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"strconv"
	"strings"
	"time"

	"go.mongodb.org/mongo-driver/v2/mongo"
	"go.temporal.io/sdk/client"

	"github.com/optio-temporal/optio/internal/headersafe"
)

// TaskGenerator returns the task definitions the engine manages. It is called
// by New and by every Resync; metadataFilter is nil for a full sync, or the
// metadata key/values that restrict which definitions are regenerated.
type TaskGenerator func(ctx context.Context, services map[string]any, metadataFilter map[string]any) ([]TaskInstance, error)

// Config configures an Engine. Only Temporal and Mongo are required.
type Config struct {
	// Temporal is the client of the Temporal namespace the engine runs in.
	// Required. Dial it with temporalconn.Dial, or give it the dial options
	// that Dial adds: temporalconn.EscapeResourceIDs (processIds outside
	// printable ASCII) and temporalconn.RetryClosingUpdates (a group's
	// requests to start children that meet its children workflow rolling
	// over go to the next run within milliseconds rather than after the
	// SDK's 320-480 ms).
	Temporal client.Client
	// Namespace must name the namespace Temporal's client is connected to
	// (client.Options.Namespace, which the client does not expose): the
	// engine's calls by namespace go to it (the visibility queries that find
	// closed runs, the search-attribute checks), and log lines and URLs name
	// it. Default "default".
	Namespace string
	// Mongo is the database holding {Prefix}_processes. Required.
	Mongo *mongo.Database
	// Prefix namespaces the collections ({Prefix}_processes,
	// {Prefix}_launch_blocks), the workflow and Schedule IDs
	// ({db}/{Prefix}:{processId}) and the Redis keys ({db}/{Prefix}). Default "optio".
	// It is printable ASCII without '/' or ':', which end the database name
	// and the prefix in those IDs and keys, or '$'; it must not start with
	// '.' or "system.", which MongoDB keeps from collection names. The
	// database name ({db}, Mongo's) must be a valid MongoDB database name
	// in printable ASCII: at most 63 bytes, none of / \ . space " $. New
	// refuses any other with ErrInvalidConfig.
	Prefix string
	// TaskQueue is the shared task queue of the process workflows. Default
	// "{db}/{Prefix}".
	TaskQueue string
	// RPC is the engine's remote face, served while the engine runs: New
	// attaches it, Run starts it, Shutdown stops it before anything else.
	// engineservice.Redis(url) (package rpc/engineservice) serves the
	// optio-engine service and the liveness heartbeat over Redis, as
	// optio-core does given a Redis URL. Default none.
	RPC RPCFace
	// Services reaches every body as ProcessContext.Services.
	Services map[string]any
	// TaskDefinitions declares the tasks. Optional: without it only ad-hoc
	// processes exist.
	TaskDefinitions TaskGenerator
	// Logger receives the engine's logs. Default slog.Default().
	Logger *slog.Logger

	// ProgressFlushInterval is the most often a body's progress is written to
	// Mongo. Default OPTIO_PROGRESS_FLUSH_INTERVAL_MS from the environment,
	// else 100 ms.
	ProgressFlushInterval time.Duration
	// CancelGrace bounds how long Shutdown, a cleaning Resync, AdhocDelete and
	// GroupCancelAndWait wait for cancelled bodies to return. Default 5 s.
	CancelGrace time.Duration
	// BodyHeartbeatTimeout is how long a body's worker may go silent before
	// the body counts as lost and is re-run on a live worker. Default 10 s.
	BodyHeartbeatTimeout time.Duration
	// InlineBody is how long a body may run inside the workflow task that
	// starts its process's run, on the engine whose worker runs that task
	// when it holds the task's function. A body that returns within it ends
	// its run in that one workflow task, with no activity: about half the
	// Temporal work of a short process. A body that runs longer, or starts
	// children, goes on running and is taken over by a body activity as
	// usual (heartbeats, cancel, re-run after a lost worker). While it runs
	// inline its workflow answers a cancel from the Temporal side (the Web
	// UI) only once it returns or the window ends; Cancel reaches it at once.
	// Default 50 ms; negative runs every body as an activity.
	InlineBody time.Duration
	// ReconcileInterval is how often the engine looks for documents in an
	// active state whose workflow has closed (terminated from the Temporal
	// UI, for instance) and fails them. Default 5 s; negative disables.
	// Where the query for the active documents is slow (FerretDB reads the
	// whole collection for it) a pass follows the last no sooner than ten
	// times that query's time, so that it takes at most a tenth of a core.
	ReconcileInterval time.Duration
	// ClosedRunWatchInterval is how often the engine asks Temporal's
	// visibility store for process workflow runs that the server ended
	// (terminated from the Web UI or for exceeding a history limit, timed
	// out) and fails their documents, with the server's reason. One query
	// per interval, whatever the number of processes. Default 500 ms;
	// negative disables (ReconcileInterval still catches them, later).
	ClosedRunWatchInterval time.Duration
	// ChildPollDelay is how long a child runs before the body waiting for it
	// (RunChild, a ParallelGroup) also polls its workflow on Temporal. A
	// child's end is normally written on its parent's engine, which tells
	// the waiting body at once, with no Temporal call; the poll catches an
	// end written by another engine, or by none (a run terminated from the
	// Web UI), which a longer delay learns of later. Default 1 s; negative
	// polls from the start. LaunchAndWait polls the same way for a run that
	// has not begun on its engine by then, and 10 times as late for one that
	// has (the closed-run watch tells it sooner of a run the server ended).
	// Those polls are shared: every ChildPollDelay one visibility query per
	// 500 runs waited for asks which have closed, and only a closed run's
	// result is then fetched, so a wait holds no long poll open on the
	// server however long its run takes. A run waited for 30 intervals is
	// also described, then after twice as long each time (up to 600
	// intervals; 10 runs a pass at most), so a wait ends for a run deleted
	// while it ran, which never shows as closed.
	ChildPollDelay time.Duration
	// LogLimit is the number of entries a process's log keeps: past it the
	// oldest entries are dropped, so that a run of days or a parent of many
	// children stays below MongoDB's 16 MB document limit. Default
	// docstore.DefaultLogLimit (10,000); negative keeps every entry, as
	// optio-core does.
	LogLimit int
	// LogBytes is the size, in bytes, a process's log keeps: once the
	// engine sees a log pass it, the oldest entries are dropped down to
	// nine tenths of it. The count alone does not keep a document below
	// MongoDB's limit, since a progress message or an error may hold up to
	// MaxMessageSize bytes. The engine tallies what it appends and reads a
	// log only when the tally passes the bound, so a log may reach twice
	// LogBytes after the engine restarts before it is cut. Default
	// docstore.DefaultLogBytes (4 MiB); negative sets no bound on the size,
	// as optio-core has none (LogLimit still bounds the count).
	LogBytes int
	// ScheduleTimeZone is the IANA time zone of cron schedules. Default UTC.
	ScheduleTimeZone string
	// CronMisfireGrace is how late a cron fire may reach a running engine
	// and still launch its process: a fire made while no engine was up (its
	// launcher workflow waited for a worker) is skipped, with a warning in
	// the process's log, once it is later than this, as optio-core's
	// in-process scheduler misses the fires of its downtime. Default 1
	// minute, the Schedules' catch-up window (a fire missed while Temporal
	// itself was down is dropped after it); negative launches a fire
	// however late. Lateness is the worker's clock against the time the
	// Temporal server started the fire, so clocks apart by more than the
	// grace skip every fire.
	CronMisfireGrace time.Duration
	// MaxIDLength is the longest workflow or Schedule ID the Temporal
	// server accepts, in bytes: its dynamic config limit.maxIDLength.
	// Default 1000, the server's default. A processId whose Temporal IDs
	// would be longer is refused with ErrInvalidInput before anything is
	// written (by New and Resync for a task definition, AdhocDefine,
	// RunChild and Spawn), rather than left to a start the server rejects:
	// see Engine.CheckProcessID.
	MaxIDLength int
	// Metrics, when set, receives the engine's own measurements (runs
	// started and ended, body runs, mirror write latency, RPC calls).
	Metrics Metrics
	// CreateSearchAttributes lets New register the custom search attributes
	// of process workflows (OptioProcessId, OptioRootProcessId,
	// OptioParentProcessId, OptioState, OptioMetadata) on the namespace
	// when they are missing, and then wait (up to 15 s) until the server
	// applies them, so that the first launches are not refused. Off (the
	// default), or when the server refuses, New logs once the `temporal
	// operator search-attribute create` command that registers them, and
	// processes run without them until an engine starts and finds them.
	CreateSearchAttributes bool
	// DisableWorker makes a client-only engine: it can launch, cancel and
	// query processes but runs no workflows or bodies.
	DisableWorker bool
}

// ErrInvalidConfig is wrapped by every configuration error New returns.
var ErrInvalidConfig = errors.New("invalid config")

// maxDBNameBytes is the longest database name MongoDB accepts.
const maxDBNameBytes = 63

// maxNamespaceBytes is the longest "{db}.{collection}" MongoDB accepts.
const maxNamespaceBytes = 255

// longestCollectionSuffix is the longest suffix the store puts after the
// prefix in a collection name ({Prefix}_launch_blocks).
const longestCollectionSuffix = "_launch_blocks"

// checkNames refuses a database name or Prefix that cannot name optio's
// collections (MongoDB's rules), IDs and keys, before anything is written.
// The IDs ({db}/{prefix}:{processId}) and keys ({db}/{prefix}:...) are read
// back by their beginning: a '/' in the database name or a ':' in the
// prefix would let one engine take another's workflows, Schedules and keys
// for its own (prefix "a" those of prefix "a:b"). Both names go into gRPC
// headers unescaped (the task queue), hence printable ASCII.
func checkNames(db, prefix string) error {
	bad := func(field, name, why string) error {
		return fmt.Errorf("%w: %s %q %s", ErrInvalidConfig, field, name, why)
	}
	const dbField = "database name (Config.Mongo)"
	switch {
	case db == "":
		return bad(dbField, db, "is empty")
	case len(db) > maxDBNameBytes:
		return bad(dbField, db, fmt.Sprintf("is %d bytes long, over MongoDB's limit of %d", len(db), maxDBNameBytes))
	case strings.ContainsAny(db, "/\\. \"$\x00"):
		return bad(dbField, db, `has one of / \ . space " $ NUL, which MongoDB refuses in a database name ('/' would also end it in workflow IDs)`)
	case !headersafe.Printable(db):
		return bad(dbField, db, printableOnly)
	case strings.ContainsAny(prefix, "/:"):
		return bad("Prefix", prefix, "has a '/' or ':', which end the database name and the prefix in workflow and Schedule IDs ({db}/{prefix}:{processId}) and Redis keys")
	case strings.ContainsAny(prefix, "$\x00"):
		return bad("Prefix", prefix, "has a '$' or NUL, which MongoDB refuses in a collection name")
	case strings.HasPrefix(prefix, "."), strings.HasPrefix(prefix, "system."):
		return bad("Prefix", prefix, `starts with "." or "system.", which MongoDB keeps from collection names`)
	case !headersafe.Printable(prefix):
		return bad("Prefix", prefix, printableOnly)
	}
	if n := len(db) + 1 + len(prefix) + len(longestCollectionSuffix); n > maxNamespaceBytes {
		return bad("Prefix", prefix, fmt.Sprintf("is too long: the namespace {db}.{Prefix}%s would be %d bytes, over MongoDB's limit of %d",
			longestCollectionSuffix, n, maxNamespaceBytes))
	}
	return nil
}

// printableOnly is why a name outside printable ASCII is refused.
const printableOnly = "has a character outside printable ASCII, which the SDK's gRPC headers take only when escaped: the database name and Prefix make the task queue and workflow IDs; keep them to printable ASCII (processIds may go past it, see Engine.CheckProcessID)"

func (c Config) withDefaults() (Config, error) {
	if c.Temporal == nil {
		return c, fmt.Errorf("%w: Temporal client is required", ErrInvalidConfig)
	}
	if c.Mongo == nil {
		return c, fmt.Errorf("%w: Mongo database is required", ErrInvalidConfig)
	}
	if c.Namespace == "" {
		c.Namespace = "default"
	}
	if c.Prefix == "" {
		c.Prefix = "optio"
	}
	if err := checkNames(c.Mongo.Name(), c.Prefix); err != nil {
		return c, err
	}
	if c.TaskQueue == "" {
		c.TaskQueue = c.Mongo.Name() + "/" + c.Prefix
	}
	if c.Services == nil {
		c.Services = map[string]any{}
	}
	if c.Logger == nil {
		c.Logger = slog.Default()
	}
	if c.ProgressFlushInterval <= 0 {
		c.ProgressFlushInterval = 100 * time.Millisecond
		if v := os.Getenv("OPTIO_PROGRESS_FLUSH_INTERVAL_MS"); v != "" {
			ms, err := strconv.Atoi(v)
			if err != nil || ms <= 0 {
				return c, fmt.Errorf("%w: OPTIO_PROGRESS_FLUSH_INTERVAL_MS=%q is not a positive integer", ErrInvalidConfig, v)
			}
			c.ProgressFlushInterval = time.Duration(ms) * time.Millisecond
		}
	}
	if c.CancelGrace <= 0 {
		c.CancelGrace = 5 * time.Second
	}
	if c.BodyHeartbeatTimeout <= 0 {
		c.BodyHeartbeatTimeout = 10 * time.Second
	}
	if c.InlineBody == 0 {
		c.InlineBody = 50 * time.Millisecond
	}
	if c.ReconcileInterval == 0 {
		c.ReconcileInterval = 5 * time.Second
	}
	if c.ClosedRunWatchInterval == 0 {
		c.ClosedRunWatchInterval = 500 * time.Millisecond
	}
	switch {
	case c.ChildPollDelay == 0:
		c.ChildPollDelay = time.Second
	case c.ChildPollDelay < 0:
		c.ChildPollDelay = 0
	}
	switch {
	case c.MaxIDLength == 0:
		c.MaxIDLength = 1000
	case c.MaxIDLength < 0:
		return c, fmt.Errorf("%w: MaxIDLength %d is negative", ErrInvalidConfig, c.MaxIDLength)
	}
	if c.CronMisfireGrace == 0 {
		c.CronMisfireGrace = time.Minute
	}
	if c.ScheduleTimeZone != "" {
		if _, err := time.LoadLocation(c.ScheduleTimeZone); err != nil {
			return c, fmt.Errorf("%w: ScheduleTimeZone: %v", ErrInvalidConfig, err)
		}
	}
	return c, nil
}
