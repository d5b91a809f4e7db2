package adapter

import (
	"context"
	"errors"
	"fmt"
	"golang.org/x/sync/singleflight"
	"log/slog"
	"os"
	"os/signal"
	"sync"
	"sync/atomic"
	"syscall"
	"time"

	"github.com/google/uuid"
	"go.temporal.io/sdk/activity"
	"go.temporal.io/sdk/interceptor"
	"go.temporal.io/sdk/worker"
	"go.temporal.io/sdk/workflow"

	"github.com/optio-temporal/optio/activities"
	"github.com/optio-temporal/optio/internal/activitydef"
	"github.com/optio-temporal/optio/internal/docstore"
	"github.com/optio-temporal/optio/internal/textclip"
	"github.com/optio-temporal/optio/internal/workflowdef"
	"github.com/optio-temporal/optio/mirror"
	"github.com/optio-temporal/optio/workflows"
)

// Engine runs optio processes on Temporal and mirrors them into MongoDB. Create
// one with New; it is safe for concurrent use.
type Engine struct {
	cfg        Config
	log        *slog.Logger
	store      *docstore.Store
	reg        *registry
	bodies     *activitydef.Bodies
	localQueue string
	workers    []worker.Worker
	// searchAttrs is true when the namespace has optio's search attributes
	// (searchattrs.go): launches set them when they start a process run,
	// which keeps them current.
	searchAttrs bool
	// idChars says whether the client sends workflow IDs outside
	// printable ASCII (idchars.go).
	idChars atomic.Int32

	shuttingDown atomic.Bool
	shutdownOnce sync.Once
	shutdownDone chan struct{}
	shutdownErr  error
	stopBG       context.CancelFunc
	bg           sync.WaitGroup

	blocksMu        sync.Mutex
	transientBlocks map[int]map[string]any
	nextBlock       int
	blocksCopy      []mirror.LaunchBlock
	blocksAt        time.Time
	// blocksGen counts drops of the copy; concurrent refreshes of one
	// generation share one read (blocksRead).
	blocksGen  uint64
	blocksRead singleflight.Group

	schedulesMu    sync.Mutex
	knownSchedules map[string]TaskInstance

	// changed wakes the engine's waits (wait.go); claims lets a group
	// cancel wait for the launches in flight when it blocked launches.
	changed changes
	claims  claimGate
	// ends hands the ends of child runs written here to the bodies
	// waiting for them (ends.go).
	ends runEnds
	// closes tells the waits for runs that fall back on Temporal when their
	// run has closed (closewatch.go).
	closes runCloses
}

// New initializes an engine, as optio-core's init does: it creates the indexes,
// syncs the task definitions into Mongo and into Temporal Schedules, and starts
// the Temporal workers (unless Config.DisableWorker), so Launch works right
// away. Call Run to serve until shutdown, or Shutdown when done.
func New(ctx context.Context, cfg Config) (*Engine, error) {
	cfg, err := cfg.withDefaults()
	if err != nil {
		return nil, err
	}
	host, _ := os.Hostname()
	store := docstore.NewStore(cfg.Mongo, cfg.Prefix)
	store.SetLogLimit(cfg.LogLimit)
	store.SetLogBytes(cfg.LogBytes)
	e := &Engine{
		cfg:             cfg,
		log:             cfg.Logger.With("component", "optio", "db", cfg.Mongo.Name(), "prefix", cfg.Prefix),
		store:           store,
		reg:             newRegistry(),
		localQueue:      fmt.Sprintf("%s@%s-%d-%s", cfg.TaskQueue, host, os.Getpid(), uuid.NewString()[:8]),
		shutdownDone:    make(chan struct{}),
		transientBlocks: map[int]map[string]any{},
		knownSchedules:  map[string]TaskInstance{},
	}
	e.bodies = &activitydef.Bodies{Runner: bodyRunner{e}, HeartbeatInterval: heartbeatInterval(cfg.BodyHeartbeatTimeout)}
	if err := e.store.EnsureIndexes(ctx); err != nil {
		return nil, err
	}
	// Before the task definitions are checked; a failure leaves it to the
	// first processId outside printable ASCII to ask again.
	if _, err := e.probeIDChars(ctx); err != nil {
		e.log.Warn("Will ask again at the first process ID outside printable ASCII", "error", err)
	}
	if _, err := e.syncDefinitions(ctx, nil); err != nil {
		return nil, fmt.Errorf("sync task definitions: %w", err)
	}
	// Before anything may launch: launches set the attributes at start.
	e.searchAttrs = e.searchAttributes(ctx)
	if cfg.RPC != nil {
		if err := cfg.RPC.Attach(ctx, e); err != nil {
			return nil, err
		}
	}
	watchCloses := !cfg.DisableWorker && cfg.ChildPollDelay > 0
	if watchCloses {
		// On before a run can be waited for; the watch's loop starts below.
		e.closes.start(runCloseCheckPasses * cfg.ChildPollDelay)
	}
	if !cfg.DisableWorker {
		if err := e.startWorkers(); err != nil {
			if cfg.RPC != nil {
				cfg.RPC.Close()
			}
			return nil, err
		}
	}
	bgCtx, cancel := context.WithCancel(context.Background())
	e.stopBG = cancel
	e.bg.Add(1)
	go func() {
		defer e.bg.Done()
		e.store.RunLease(bgCtx)
	}()
	if cfg.ReconcileInterval > 0 {
		e.bg.Add(1)
		go e.reconcileLoop(bgCtx)
	}
	if cfg.ClosedRunWatchInterval > 0 {
		e.bg.Add(1)
		go e.watchClosedRuns(bgCtx)
	}
	if watchCloses {
		e.bg.Add(1)
		go e.watchRunCloses(bgCtx, cfg.ChildPollDelay)
	}
	if !cfg.DisableWorker {
		e.bg.Add(1)
		go e.autoResume(bgCtx)
	}
	e.log.Info("Optio initialized", "taskQueue", cfg.TaskQueue, "namespace", cfg.Namespace, "rpc", cfg.RPC != nil)
	return e, nil
}

// heartbeatInterval keeps a body's heartbeats well inside its timeout.
func heartbeatInterval(timeout time.Duration) time.Duration {
	return min(max(timeout/4, 100*time.Millisecond), 5*time.Second)
}

func (e *Engine) startWorkers() error {
	// The SDK sends heartbeats at most every 0.8 x the timeout, which leaves
	// a loaded worker little slack; a third keeps two in flight.
	hbThrottle := max(e.cfg.BodyHeartbeatTimeout/3, 100*time.Millisecond)
	// Bodies run on both queues: on the shared one when Temporal hands them
	// back to the worker whose workflow task scheduled them (eager dispatch,
	// workflowdef.CurrentRevision), on the worker-specific one otherwise.
	var icpt []interceptor.WorkerInterceptor
	if e.cfg.Metrics != nil {
		icpt = append(icpt, &metricsInterceptor{m: e.cfg.Metrics})
	}
	shared := worker.New(e.cfg.Temporal, e.cfg.TaskQueue, worker.Options{
		WorkerStopTimeout:            e.cfg.CancelGrace,
		MaxHeartbeatThrottleInterval: hbThrottle,
		Interceptors:                 icpt,
	})
	shared.RegisterWorkflowWithOptions(workflowdef.NewProcess(workflowdef.ProcessOptions{SearchAttributes: e.searchAttrs}), workflow.RegisterOptions{Name: workflows.ProcessName})
	shared.RegisterWorkflowWithOptions(workflowdef.ScheduledLaunch, workflow.RegisterOptions{Name: workflows.ScheduledLaunchName})
	shared.RegisterWorkflowWithOptions(workflowdef.Children, workflow.RegisterOptions{Name: workflows.ChildrenName})
	m := &activitydef.Mirror{Store: e.store, Locator: locator{e}, Logger: e.log, BodyHere: e.bodies.Has}
	kids := &activitydef.Children{Store: e.store, Temporal: e.cfg.Temporal, Logger: e.log}
	// A process's end written here, and a body's end (Bodies.Ended,
	// whichever activity reports it), wake the waits for them.
	finish := notifying(&e.changed, e.publishingEnds(m.Finish))
	body := e.bodies.Body
	e.bodies.Finish = finish
	e.bodies.EndWritten = m.EndWritten
	e.bodies.Ended = e.changed.notify
	for name, fn := range map[string]any{
		activities.StartRunName:        e.announcingRuns(m.StartRun),
		activities.ClaimBodyName:       m.ClaimBody,
		activities.RequestCancelName:   m.RequestCancel,
		activities.CancelScheduledName: notifying(&e.changed, m.CancelScheduled),
		activities.FinishName:          finish,
		activities.AppendLogName:       m.AppendLog,
		activities.CreateChildrenName:  m.CreateChildren,
		activities.ScheduledLaunchName: e.scheduledLaunch,
		activities.BodyName:            body,
		activities.BodyInlineName:      e.bodies.BodyInline,
		activities.CancelChildrenName:  kids.CancelChildren,
		activities.AwaitChildrenName:   kids.AwaitChildren,
		activities.WorkflowOpenName:    kids.WorkflowOpen,
	} {
		shared.RegisterActivityWithOptions(fn, activity.RegisterOptions{Name: name})
	}
	local := worker.New(e.cfg.Temporal, e.localQueue, worker.Options{
		WorkerStopTimeout:            e.cfg.CancelGrace,
		MaxHeartbeatThrottleInterval: hbThrottle,
		Interceptors:                 icpt,
	})
	local.RegisterActivityWithOptions(body, activity.RegisterOptions{Name: activities.BodyName})
	local.RegisterActivityWithOptions(e.bodies.CancelBody, activity.RegisterOptions{Name: activities.CancelBodyName})
	for _, w := range []worker.Worker{local, shared} {
		if err := w.Start(); err != nil {
			for _, started := range e.workers {
				started.Stop()
			}
			return fmt.Errorf("start Temporal worker: %w", err)
		}
		e.workers = append(e.workers, w)
	}
	return nil
}

// locator exposes the registry to the mirror activities.
type locator struct{ e *Engine }

func (l locator) Holds(processID string) bool {
	return !l.e.shuttingDown.Load() && l.e.reg.holds(processID)
}
func (l locator) LocalQueue() string      { return l.e.localQueue }
func (l locator) Forget(processID string) { l.e.reg.forget(processID) }

// Store returns a read-only view of the engine's Mongo mirror, for readers
// that want the raw documents. Only the engine writes them.
func (e *Engine) Store() mirror.Reader { return readOnly{e.store} }

// readOnly narrows the store to its reads, so that what Store returns cannot
// be asserted back to the writing *docstore.Store.
type readOnly struct{ mirror.Reader }

// WorkflowID returns the Temporal workflow ID (and Schedule ID) of a process:
// "{db}/{prefix}:{processId}".
func (e *Engine) WorkflowID(processID string) string {
	return e.cfg.Mongo.Name() + "/" + e.cfg.Prefix + ":" + processID
}

// CheckProcessID returns an error wrapping ErrInvalidInput when processID
// cannot make a workflow ID (WorkflowID) that Temporal takes: one that is
// not valid UTF-8; one outside printable ASCII when the engine's client
// cannot send it (the SDK copies the ID into a gRPC header, which takes
// printable ASCII only, unless the client was dialled with
// temporalconn.EscapeResourceIDs: New asks the server to learn which, and
// if it could not, the first such ID asks again and returns the failure,
// not ErrInvalidInput); or one longer than Config.MaxIDLength.
// Some processes need room for more, which the engine checks too: a task
// with a Schedule (New, Resync), whose runs' IDs add ":cron" and the fire
// time, and a process that starts children (RunChild, Spawn), whose
// children workflow's ID adds workflows.ChildrenIDSuffix. Launch refuses
// a document whose processId fails the check (one another engine wrote)
// without claiming it.
func (e *Engine) CheckProcessID(processID string) error {
	if err := e.checkIDChars(processID); err != nil {
		return err
	}
	return e.checkIDLength(processID, "", 0)
}

// cronRunSuffix is what a Schedule's runs add to the workflow ID of their
// process: cronIDSuffix (scheduleAction), then the server's "-" and fire
// time (RFC 3339, UTC).
const cronRunSuffix = cronIDSuffix + "-2006-01-02T15:04:05Z"

// checkIDLength refuses processID when its workflow ID with suffix, which
// the IDs of what (a clause, or "" for the workflow itself) add, is longer
// than the server accepts.
func (e *Engine) checkIDLength(processID, what string, suffix int) error {
	n := len(e.WorkflowID(processID)) + suffix
	if n <= e.cfg.MaxIDLength {
		return nil
	}
	if what == "" {
		what = "its workflow ID"
	}
	return fmt.Errorf("%w: process id %q is too long: %s would be %d bytes, over the server's limit of %d (Config.MaxIDLength)",
		ErrInvalidInput, textclip.Clip(processID, 64), what, n, e.cfg.MaxIDLength)
}

// TaskQueue returns the shared task queue of the engine's workflows.
func (e *Engine) TaskQueue() string { return e.cfg.TaskQueue }

// Run serves until ctx is cancelled, SIGINT or SIGTERM arrives, or Shutdown is
// called, then shuts down gracefully and returns. Workers are already running
// since New; Run adds signal handling.
func (e *Engine) Run(ctx context.Context) error {
	sigCtx, stop := signal.NotifyContext(ctx, os.Interrupt, syscall.SIGTERM)
	defer stop()
	if e.cfg.RPC != nil {
		if err := e.cfg.RPC.Start(sigCtx); err != nil {
			return err
		}
	}
	select {
	case <-sigCtx.Done():
		e.log.Info("shutting down", "cause", context.Cause(sigCtx))
		shCtx, cancel := context.WithTimeout(context.Background(), 2*e.cfg.CancelGrace+10*time.Second)
		defer cancel()
		return e.Shutdown(shCtx)
	case <-e.shutdownDone:
		return e.shutdownErr
	}
}

// Shutdown stops the engine gracefully: launches are refused with
// ReasonShuttingDown, every body running in this process has its context
// cancelled (ShouldContinue turns false) and gets up to Config.CancelGrace to
// return and have its terminal state written, then the workers stop. Bodies
// that do not return in time are re-run by another worker (or this one, next
// time it starts), as Temporal does for a lost worker. Shutdown is idempotent.
func (e *Engine) Shutdown(ctx context.Context) error {
	e.shutdownOnce.Do(func() {
		e.shuttingDown.Store(true)
		if e.cfg.RPC != nil {
			e.cfg.RPC.Stop(ctx)
		}
		e.drainBodies(ctx)
		for _, w := range e.workers {
			w.Stop()
		}
		e.stopBG()
		e.bg.Wait()
		if e.cfg.RPC != nil {
			e.cfg.RPC.Close()
		}
		e.log.Info("Shutdown complete")
		close(e.shutdownDone)
	})
	select {
	case <-e.shutdownDone:
		return e.shutdownErr
	case <-ctx.Done():
		return ctx.Err()
	}
}

// drainBodies cancels the bodies running here and waits, up to the cancel
// grace, for them to return and for their documents to leave the active states.
func (e *Engine) drainBodies(ctx context.Context) {
	docs := e.bodies.RunningDocs()
	if len(docs) == 0 {
		return
	}
	e.log.Info("cancelling running bodies", "count", len(docs))
	e.stampAutoResume(ctx, docs)
	e.bodies.CancelAll(activities.ErrShutdown)
	wctx, cancel := context.WithTimeout(ctx, e.cfg.CancelGrace)
	defer cancel()
	if e.awaitBodiesReturned(wctx) == nil && e.awaitDocsInactive(wctx, docs) == nil {
		return
	}
	e.log.Warn("shutdown grace exceeded; remaining bodies will be re-run elsewhere", "running", e.bodies.Running())
}

func (e *Engine) checkOpen() error {
	if e.shuttingDown.Load() {
		return ReasonShuttingDown
	}
	return nil
}

var errEmptyID = fmt.Errorf("%w: process id must not be empty", ErrInvalidInput)

func validID(id string) error {
	if id == "" {
		return errEmptyID
	}
	return nil
}

// isNotFound reports whether err is a mirror not-found error.
func isNotFound(err error) bool { return errors.Is(err, mirror.ErrNotFound) }
