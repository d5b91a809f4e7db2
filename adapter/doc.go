// Package adapter runs optio processes on Temporal. It is the Go port of
// optio-core, the Python library that defines, launches, cancels and monitors
// long-running background tasks: progress reporting, cooperative
// cancellation, sequential and parallel child processes, cron schedules and
// ad-hoc processes work as they do there, and every process is mirrored into
// MongoDB in optio-core's document schema, so optio's readers (optio-api,
// dashboards) work unchanged. Temporal does the executing: a launch is a
// workflow run, a child process is a child workflow, the task's function runs
// in an activity (a short one inside the run's first workflow task), a cron
// task is a Temporal Schedule, and operators see and cancel all of it in the
// Temporal Web UI.
//
// # An Optio-style task
//
// A task's body is a [TaskFunc]: an ordinary Go function that receives a
// [*ProcessContext] and may do any I/O.
//
//	func importFiles(pc *adapter.ProcessContext) error {
//		store := pc.Services()["store"].(*FileStore)
//		files, err := store.List(pc.Context(), pc.Params()["source"].(string))
//		if err != nil {
//			return err // the process ends failed, with err's text in status.error
//		}
//		for i, f := range files {
//			if !pc.ShouldContinue() {
//				return nil // a cancel was requested: the process ends cancelled
//			}
//			if err := store.Import(pc.Context(), f); err != nil {
//				return err
//			}
//			pc.ReportProgress(float64(i+1)*100/float64(len(files)), "Imported "+f)
//		}
//		return nil
//	}
//
// A [TaskInstance] declares a process that runs it:
//
//	adapter.TaskInstance{
//		Execute:   importFiles,
//		ProcessID: "import-eu",      // unique among all processes
//		Name:      "Import EU files", // for humans
//		Params:    map[string]any{"source": "s3://files-eu"},
//		Metadata:  map[string]any{"region": "eu"},
//	}
//
// Params reach the body as [ProcessContext.Params], so one function can serve
// many tasks. Metadata tags the process: [Engine.ListProcesses], launch blocks,
// group cancels and partial resyncs select processes by it, and the body reads
// it as [ProcessContext.Metadata]. [ProcessContext.Services] is
// [Config.Services], the same map for every process, for dependency injection.
// Description, Special and Warning are stored on the document for optio's UI;
// Schedule makes a cron task (see Cron below); NotCancellable makes
// [Engine.Cancel] refuse.
//
// What the body can do through its context:
//
//   - [ProcessContext.ReportProgress] sets progress.percent (0 to 100, or
//     [Indeterminate] for null) and progress.message, and appends a non-empty
//     message to the process log. It never blocks on Mongo: reports are
//     buffered and written at most once per [Config.ProgressFlushInterval],
//     with a last write when the body returns.
//   - [ProcessContext.ShouldContinue] turns false once the process is
//     cancelled or the engine shuts down; poll it in loops.
//   - [ProcessContext.Context] is done at the same moment; pass it to every
//     blocking call. Its context.Cause is activities.ErrShutdown when the
//     engine is shutting down.
//   - [ProcessContext.MarkEphemeral] has the process deleted once it ends.
//   - [ProcessContext.RunChild] and [ProcessContext.ParallelGroup] run child
//     processes (see Children below).
//
// Returning nil ends the process done, or cancelled if it was cancelled
// meanwhile. Returning an error ends it failed, with the error's text in
// status.error and in the log; but after a cancel, an error made of that
// cancel alone ends it cancelled: anything wrapping context.Canceled
// (pc.Context().Err()), the [ErrParentCancelled] of a spawn refused after
// the cancel, the [*ChildError] of a cancelled child, or a [*GroupError]
// whose children were cancelled (failed children the group survives aside).
// So a body may simply return what RunChild, Spawn or Wait returned. A real
// failure still fails it, cancel or not: a child that failed on its own, a
// panic, or any other error, alone or joined with a cancellation. A panic
// fails the process, with the panic value and stack as its error, instead of
// crashing the worker.
//
// # An engine
//
// An [Engine] manages the tasks of one application. [New] takes a [Config]:
//
//	eng, err := adapter.New(ctx, adapter.Config{
//		Temporal: temporalClient,                // required: from temporalconn.Dial or client.Dial
//		Mongo:    mongoClient.Database("myapp"), // required
//		TaskDefinitions: func(ctx context.Context, services, metadataFilter map[string]any) ([]adapter.TaskInstance, error) {
//			return []adapter.TaskInstance{{Execute: importFiles, ProcessID: "import-eu", Name: "Import EU files"}}, nil
//		},
//		Services: map[string]any{"store": store},
//	})
//	if err != nil {
//		return err
//	}
//	return eng.Run(ctx) // until ctx ends, SIGINT or SIGTERM, then a graceful shutdown
//
// The [TaskGenerator] in TaskDefinitions declares the tasks; New and every
// [Engine.Resync] call it. Without one, only ad-hoc processes exist. Prefix
// (default "optio") names the collections, the workflow and Schedule IDs and
// the Redis keys, so applications can share a database. RPC plugs in the
// remote face ([RPCFace]). The rest are tuning knobs, each documented with its default on
// [Config]: ProgressFlushInterval, CancelGrace (how long a shutdown or a
// cleaning call waits for cancelled bodies), BodyHeartbeatTimeout (how soon a
// lost worker is noticed), ReconcileInterval, ScheduleTimeZone and TaskQueue.
// DisableWorker makes an engine that only launches, cancels and queries.
//
// A processId may be any UTF-8 text when the client was dialled with
// temporalconn.EscapeResourceIDs (temporalconn.Dial adds it): the SDK puts
// workflow IDs in a gRPC header, which takes printable ASCII only unless
// escaped. With a client dialled without it, processIds outside printable
// ASCII are refused ([Engine.CheckProcessID]).
//
// New validates the Config (errors wrap [ErrInvalidConfig]), creates the
// indexes, calls the generator and syncs its tasks into Mongo and into
// Temporal Schedules, attaches the RPC face when Config.RPC is set, and starts
// the Temporal workers (unless DisableWorker) and the reconciler, so
// [Engine.Launch] works as soon as it returns.
// [Engine.Run] adds signal handling and starts serving the RPC face; it returns
// after a graceful shutdown. [Engine.Shutdown] is that shutdown: the RPC face
// stops taking calls, launches are refused with [ReasonShuttingDown], the bodies running in this engine are
// cancelled (ShouldContinue turns false) and get up to Config.CancelGrace to
// return and have their end state written, then the workers stop.
//
// Engines that share a Temporal namespace, a database and a prefix form a
// pool: any of them runs the workflows, and a body runs on an engine that
// holds its function.
//
// # Launching
//
// [Engine.Launch] starts a process without waiting: its document moves to
// scheduled and a run of its workflow starts, which moves it to running,
// runs the body and writes the end state. [Engine.LaunchAndWait] also waits
// for that run to end and returns the final document (nil if the process was
// ephemeral and is gone). Either takes a processId or a document _id in hex.
//
//	out, err := eng.Launch(ctx, "import-eu")
//	if err != nil {
//		return err // bad input (ErrInvalidInput), or Mongo or Temporal failing
//	}
//	if !out.OK {
//		log.Printf("not launched: %s", out.Reason) // e.g. not-launchable
//	}
//
// Launch, [Engine.Cancel] and [Engine.Dismiss] return an [Outcome]: OK with
// the document, or a contract failure [Reason] with a nil error:
// [ReasonNotFound]; [ReasonNotLaunchable] when the process is not idle, done,
// failed or cancelled (of concurrent launches exactly one wins, the others get
// this); [ReasonLaunchBlocked]; [ReasonShuttingDown]. LaunchAndWait returns a
// refusal as an error that wraps the Reason, for errors.Is. A relaunch starts
// afresh: status, progress and log are reset and the previous run's children
// deleted. [Engine.Dismiss] resets an ended process to idle the same way.
//
// A process is in one of eight states: idle; the active states scheduled,
// running, cancel_requested and cancelling; the end states done, failed and
// cancelled. They are the [State] constants, [StateIdle] to [StateCancelled].
//
// # Cancelling
//
// Cancellation is cooperative. [Engine.Cancel] moves a scheduled process
// straight to cancelled. A running one moves to cancel_requested and its
// workflow is cancelled; the workflow moves it to cancelling and delivers the
// cancel to the body, straight to the worker that runs it: ShouldContinue
// turns false and the body's Context is done. When the body returns, the
// process ends cancelled. A body that never looks stays cancelling until it
// returns on its own. Cancelling a process cancels its active children.
// A process that is not scheduled or running, or was declared NotCancellable,
// gives [ReasonNotCancellable]; of concurrent cancels exactly one is OK.
//
// A cancel requested from the Temporal Web UI (or any Temporal client) is the
// same workflow cancellation and takes the same path, through
// cancel_requested and cancelling to cancelled.
//
// # Children
//
// A body runs child processes one at a time with [ProcessContext.RunChild],
// which returns once the child has ended:
//
//	state, err := pc.RunChild(adapter.ChildSpec{
//		Execute:         phaseOne,
//		ProcessID:       pc.ProcessID() + "/phase-1",
//		Name:            "Phase 1",
//		Params:          map[string]any{"key": "value"},
//		OnChildProgress: adapter.SequentialProgress(pc, 2), // the first of 2 phases
//	})
//
// A child is a process of its own: a document in its parent's tree (parentId,
// rootId, depth, order; the parent's metadata) and a child workflow of its
// parent's children workflow (see "How processes map onto Temporal"). Its Execute may be any Go func value, a closure
// included: the child's body runs on the engine that runs the parent's. A
// child that ends failed or cancelled is returned as a [*ChildError] unless
// ChildSpec.SurviveFailure or SurviveCancel says otherwise; a child refused
// because its parent was already cancelled gives [ErrParentCancelled] and
// leaves a "Refused to spawn child" entry in the parent's log.
//
// [ProcessContext.ParallelGroup] runs children concurrently, at most
// [GroupOptions.MaxConcurrency] at a time (default 10; Spawn blocks while that
// many run):
//
//	group := pc.ParallelGroup(adapter.GroupOptions{MaxConcurrency: 5, SurviveFailure: true})
//	var spawnErr error
//	for i, item := range items {
//		// After a cancel, Spawn refuses with ErrParentCancelled: stop spawning.
//		if spawnErr = group.Spawn(adapter.ChildSpec{Execute: processItem, ProcessID: fmt.Sprintf("%s/item-%d", pc.ProcessID(), i), Name: item}); spawnErr != nil {
//			break
//		}
//	}
//	results, err := group.Wait() // []ChildResult in spawn order
//	if err := errors.Join(spawnErr, err); err != nil {
//		return err // after a cancel: only cancellations, so the process ends cancelled
//	}
//
// Without SurviveFailure, a failed child makes the group cancel its siblings
// still running, and Wait returns a [*GroupError] that lists every child that
// did not end done; SurviveCancel is the same for cancelled children.
//
// A process ends after the children it started. A body that returns nil
// without calling Wait, or while goroutines of its own are still in RunChild,
// waits for those children before its process ends (the engine logs a
// warning), and a group they break fails the process as Wait's error would.
// A body that returns an error ends at once, and its children are cancelled.
// A child asked for after that is refused with [ErrBodyReturned].
//
// A parent learns its children's progress through an on-child-progress
// callback (ChildSpec.OnChildProgress, GroupOptions.OnChildProgress), which
// receives a [ChildProgressInfo] for each child of the parent, at most every
// 100 ms and at once when a child ends. The progress helpers make such
// callbacks that set the parent's progress: [SequentialProgress] gives each of
// n sequential children an equal slot, [AverageProgress] reports the children's
// average, and [MappedProgress] maps the latest child into a range of the
// parent's. Children that have ended count as 100%. No argument makes them
// panic: SequentialProgress with no children, or any helper given a nil
// ProcessContext, makes a callback that reports nothing, and MappedProgress
// clamps its bounds to [0, 1].
//
// Children are durable: when a body is re-run after its worker was lost (see
// below), RunChild for a child that already ended in this launch returns its
// recorded state without running it again. Within one run of a body, a
// child that has ended is not asked for again: RunChild or Spawn of its
// processId gets ErrInvalidInput, as optio-core's second insert fails on
// the unique processId.
//
// # Checkpoints and resume
//
// A long body saves where it is with [ProcessContext.SaveCheckpoint], any
// small value that encodes as JSON (the index of the last item done, a
// cursor), and reads the last one back with [ProcessContext.LoadCheckpoint]:
//
//	var next int
//	if _, err := pc.LoadCheckpoint(&next); err != nil {
//		return err
//	}
//	for ; next < len(items); next++ {
//		if !pc.ShouldContinue() {
//			return nil
//		}
//		handle(items[next])
//		if err := pc.SaveCheckpoint(next + 1); err != nil {
//			return err
//		}
//	}
//
// Saving is cheap enough for every item: the value rides on the body
// activity's heartbeats (Temporal keeps the last ones of a lost activity)
// and is written to Mongo, in a side collection {prefix}_checkpoints, at
// most once per [Config.ProgressFlushInterval]; it never becomes a history
// event. [ProcessContext.FlushCheckpoint] waits for the write when a step
// must not start before its checkpoint is durable.
//
// The checkpoint is what the body reads when it runs again:
//
//   - after a lost worker (killed, or the whole stack restarted): the same
//     launch re-runs the body on a live worker, which continues from the
//     later of the Mongo copy and the last heartbeat the server received;
//   - on a resume: a task with [TaskInstance.SupportsResume] launched with
//     [WithResume] (or over RPC with launch {resume: true}, as optio's
//     dashboard does) continues a cancelled or failed run. A task without
//     it is refused with [ReasonNoResumeSupport];
//   - after an engine restart, for a task with [TaskInstance.AutoResume]:
//     an engine that shuts down while it runs marks it autoResumeScheduled,
//     and the next engine to start resumes it, noting so in its log.
//
// [ProcessContext.RunKind] tells the three apart from a fresh run. A fresh
// launch starts with no checkpoint: it deletes the previous one. The
// document carries optio-core 0.4's supportsResume, hasSavedState (set by
// the first checkpoint saved; [ProcessContext.MarkHasSavedState] and
// [ProcessContext.ClearHasSavedState] set and clear it by hand) and
// autoResumeScheduled. The checkpoint outlives its run and is deleted with
// the process.
//
// # Testing a task
//
// Package [github.com/optio-temporal/optio/adapter/optiotest] unit-tests a
// body in a plain go test, with no Temporal, MongoDB or Redis: optiotest.Run
// runs a [TaskFunc] with params, metadata and services, runs the children it
// spawns in process (each with its own outcome, delivered to the parent as
// the engine delivers it), cancels it at a chosen progress report, starts it
// as a resumed run from a checkpoint, and returns its end state (decided by
// the engine's own rules), its error, its progress reports, its log entries
// and its children:
//
//	res, err := optiotest.Run(ctx, importFiles, optiotest.Options{
//		Params:     map[string]any{"source": "testdata"},
//		Services:   map[string]any{"store": fakeStore},
//		CancelWhen: func(processID string, r optiotest.Report) bool { return r.Percent >= 50 },
//	})
//	// err is for bad Options only; res.State is StateCancelled, res.Progress
//	// stops at the report that cancelled it, res.Children holds the children.
//
// Its package example is a complete test. [RunHosted] is the kit's entry
// point into this package; tests do not call it themselves.
//
// # Cron
//
// A task whose Schedule is a cron expression (5 fields: minute, hour,
// day of month, month, day of week) gets a Temporal Schedule with ID
// "{db}/{prefix}:{processId}" ([Engine.ScheduleID]) and overlap policy Skip,
// in [Config.ScheduleTimeZone] (UTC by default). New and Resync create, update
// and delete the Schedules to match the tasks. Each fire launches the process
// through the ordinary launch path, so a fire that finds the process still
// active (or blocked) is skipped and leaves a warning in its log. So does a
// fire made while no engine was running, once it reaches one more than
// [Config.CronMisfireGrace] (a minute) late: a Schedule fires on the Temporal
// server whether or not a worker is up, and its launch waits for one.
// [Engine.Schedule] returns a handle on the Schedule, to describe, pause or
// trigger it; operators do the same in the Web UI.
//
// # Ad-hoc and ephemeral processes
//
// [Engine.AdhocDefine] creates a process at runtime, outside the generator, in
// state idle; [Engine.AdhocDelete] cancels it if needed and deletes it with
// its descendants. An ad-hoc process's function lives in the engine that
// defined it, and [AdhocOptions.Parent] makes it a child of an existing
// process. An ephemeral process, whether defined with [AdhocOptions.Ephemeral]
// or marked by its body with [ProcessContext.MarkEphemeral], is deleted with
// its descendants as soon as a run of its body ends, whether done, failed or
// cancelled, or when [Engine.Cancel] ends it itself: cancelled before its
// body started, or running with no workflow run left to end it;
// [Engine.LaunchAndWait] then returns a nil document. One the engine fails
// for a run it lost (see How processes map onto Temporal) is kept, as in
// optio-core.
//
// # Resync
//
// [Engine.Resync] calls the generator again and syncs its answer: new tasks
// get documents, existing ones get their definition fields updated without
// their runtime state (status, progress, log) being touched, and tasks the
// generator no longer returns are deleted with their descendants, unless they
// are active, which leaves them until a later resync. Ad-hoc processes are
// never taken for removed tasks. With clean, every process in scope is first
// cancelled (waiting up to CancelGrace) and deleted, ad-hoc ones included,
// also on an engine without a generator, which then has nothing more to do.
// A metadata filter limits all of it to the tasks and processes whose
// metadata matches.
//
// # Querying
//
// [Engine.GetProcess] returns one document by processId or _id; a missing one
// is an error wrapping [ReasonNotFound]. [Engine.ListProcesses] filters by
// state, by tree (RootID) and by metadata (metadata.<key> equal to each
// value), sorted by depth, order, then _id. A [Process] is the document
// itself; engineapi.ProcessJSON (package rpc/engineapi) encodes it as the
// RPC face sends it.
//
// # Launch blocks and group cancel
//
// [Engine.BlockLaunches] stores a launch block: launches (and ad-hoc
// definitions) of processes whose metadata matches its filter are refused
// with [ReasonLaunchBlocked] until [Engine.UnblockLaunches] lifts it, and so
// are children spawned by a body whose process's metadata matches. Blocks
// are kept in Mongo, so they outlive restarts and every engine on the
// database honours them (another engine sees a change within a second);
// running processes are not touched.
//
// [Engine.GroupCancel] cancels every active process whose metadata matches a
// filter, at any depth, and [Engine.GroupCancelAndWait] also waits for them
// to end. Both return how many cancels they issued. [GroupCancelOptions] can
// block matching launches in this engine while the call runs
// (BlockNewLaunches), keep that block afterwards as a stored launch block
// (Persist, with a Reason) and delete the matching documents (PurgeRecords).
//
// # How processes map onto Temporal
//
//   - Each launch is one run of the workflow "optio.Process" with workflow ID
//     "{db}/{prefix}:{processId}" ([Engine.WorkflowID]) on [Config.TaskQueue]
//     ("{db}/{prefix}" by default); a relaunch is a new run of the same
//     workflow ID. The
//     workflow writes the document's transitions with local activities,
//     retried, so a Mongo hiccup loses none.
//   - A child process is a workflow run of its own, with a workflow ID of
//     the same form, nested in the Web UI under its parent's children
//     workflow: "optio.Children", ID "{parent's workflow ID}#children", a
//     child workflow of the parent's run that starts and tracks the
//     children of one launch. The body asks for children with workflow
//     Updates (batched: a parallel group's spawns go together). No history
//     grows without bound: the process workflow's history is the same size
//     whatever the body's duration and number of children (progress is never
//     a history event), and the children workflow continues as new when the
//     server suggests it or at 2,000 events, keeping no record of its
//     children but their documents, so that 100,000 children, in sequence or
//     in one group, run as 10 do. Children outlive a roll-over (parent close
//     policy Abandon); a cancel of the parent reaches them from the
//     documents, whichever run started them. They outlive the children
//     workflow's termination (or deletion) from the Web UI too, and the
//     body may still wait for them; a child it asks for after that is
//     refused with [ErrChildrenWorkflowClosed], and the process's run, as
//     it ends, cancels them (if it failed or was cancelled) and waits for
//     them, as the children workflow would have.
//   - When the engine whose worker handles the run's first workflow task
//     holds the function, the body starts there inline, in the local
//     activity "optio.BodyInline" of that task, for up to
//     [Config.InlineBody] (50 ms): a body that returns within it ends its
//     run in that one workflow task, with no activity, so a short process
//     costs Temporal about half of what a workflow with one activity does.
//     A body that runs longer, or asks for children (which its workflow
//     must start), goes on running in the same goroutine and is taken over
//     by the activity "optio.Body", as below.
//   - The body runs as the activity "optio.Body" in the one process that
//     holds its function; it heartbeats with its latest progress as details.
//     When the engine whose worker handles the workflow task holds the
//     function (a launch from an engine with a worker, a child whose parent
//     body runs there), the body is scheduled on the workflow's own task
//     queue and Temporal hands it straight back to that worker with the
//     workflow task's completion (eager activity dispatch: no trip through
//     matching). Otherwise it goes to the task queue of the engine that holds
//     the function (the shared queue plus "@" and that engine's host, process
//     ID and a random suffix). A body that lands on an engine without its
//     function there is re-run on that queue. The workflow's query
//     "optio.state" reports the process's state; [Engine.RunState] adds the
//     latest progress, from the body's last heartbeat (which the Web UI shows
//     too, as the pending activity's details) or the document.
//   - A worker that dies mid-body is noticed after BodyHeartbeatTimeout (or
//     when no worker picks the body up in time). The workflow then re-runs the
//     body on a live engine that holds the function, with a warning in the
//     process log; where the function lived only in the lost engine (an
//     ad-hoc process, for instance), the process fails with an error saying
//     so. A body cut short because its worker lost contact with the Temporal
//     server is re-run the same way. Bodies should therefore be safe to run
//     again.
//   - A run the server ends (Terminate in the Web UI, a history limit, a
//     timeout) cannot write its end. Every [Config.ClosedRunWatchInterval]
//     (500 ms) the engine asks Temporal's visibility store for such runs and
//     fails their documents with the server's reason and a "State
//     reconciled" log entry; the process's children workflow is cancelled by
//     the server (parent close policy) and cancels the children.
//     [Engine.LaunchAndWait] writes the failure itself when its run ends that
//     way, so it never returns an active state. A reconciler, every
//     [Config.ReconcileInterval], still fails any document left active with
//     its workflow closed or never started (closed while no engine watched,
//     a claim whose engine died before the start). It describes a
//     document's workflow only once the document has kept its state for 6
//     intervals (30 s), then every 360 (30 min), at most 10 a pass, so its
//     Temporal calls do not grow with the number of running processes.
//   - A reset (Reset in the Web UI, `temporal workflow reset`) ends the run
//     as terminated and starts a new run in its place, replayed from the
//     chosen workflow task: the launch goes on in the new run, which writes
//     its end. [Engine.LaunchAndWait], and a parent waiting for a reset
//     child, wait for that run; the closed-run watch and the reconciler
//     leave the document to it. A reset while the body runs re-runs the
//     body from its start, with the warning "Process workflow was reset;
//     re-running the body on a live worker" where the new run sees the
//     old body go (the replaced run's body is told to stop when its next
//     heartbeat fails, as Temporal cuts off a replaced run's activities).
//     Children the replaced run started keep running (the server keeps
//     them across a reset): the new run's body finds them when it asks for
//     them again, as after a lost worker, and the new run waits for them,
//     and cancels them with the process, as its own.
//
// # The Mongo mirror
//
// The collection {prefix}_processes holds one document per process with
// exactly the fields of optio-core's schema (processId, name, params,
// metadata, parentId, rootId, depth, order, status.{state, error,
// runningSince, doneAt, duration, failedAt, stoppedAt}, progress.{percent,
// message}, log, createdAt, ...), a unique index on processId and indexes on
// parentId, rootId and status.state. On the embedded FerretDB of dev mode,
// whose updates are not atomic and which uses an index only for a filter on
// _id alone, the engine serialises writes per document inside its process,
// does each compare-and-set as a read and a write by _id, and keeps a side
// collection {prefix}_parents of the processes that have had children, so
// that a launch looks for a previous run's children only where there may be
// some. A launch's or a dismissal's compare-and-set also takes a lock shared
// with other processes on the server, a document under the process's _id in
// {prefix}_claims, so that two engines in two processes never both claim one
// process. MongoDB needs none of this. The log's entries carry ISO-8601
// timestamp strings and optio-core's wording ("State changed to running",
// "Spawned child: Phase 1"); progress messages are info entries. Launch
// blocks live in {prefix}_launch_blocks. The engine owns these documents:
// other code should only read them.
//
// # The RPC face
//
// The engine's remote face lives beside it, in package rpc/engineservice, on
// its public API; the contract clients speak is package rpc/engineapi, which
// links neither the engine nor Temporal. Optio-core's init(redis_url=...)
// reads:
//
//	face := engineservice.Redis("redis://localhost:6379/0")
//	eng, err := adapter.New(ctx, adapter.Config{Temporal: tc, Mongo: db, RPC: face})
//
// and [Engine.Run] then serves the clamator RPC service "optio-engine" over
// Redis Streams under the key prefix "{db}/{prefix}" ([Engine.RPCKeyPrefix]):
// launch, cancel, dismiss, resync, groupCancel, groupCancelAndWait,
// blockLaunches, unblockLaunches and materializeUpload, with optio-core's
// results and failure reasons, plus the heartbeat key optio-api looks for
// ("{db}/{prefix}:heartbeat"). A launch's sessionId becomes the run's
// originatingSessionId ([WithSessionID]). materializeUpload checks the GridFS
// blob and the process as optio-core does, but tasks here cannot register an
// upload writer, so it always answers {ok: false, reason}. face.Ready() is
// closed once it serves; face.Server() is that server: an application
// registers its own services on it before calling Run. [Engine.Shutdown]
// stops the face before it cancels the bodies. Any [RPCFace] will do.
//
// # Metrics and tracing
//
// [Config.Metrics] receives the engine's own measurements (runs started and
// ended, bodies running, mirror write latency, progress flushes, launch
// refusals by reason, RPC calls); cmd/worker turns them into Prometheus
// metrics.
//
// Tracing is the Temporal SDK's OpenTelemetry interceptor
// (go.temporal.io/sdk/contrib/opentelemetry) on the client the engine is
// given: the engine's workers are created from that client, so they trace
// too, and nothing else needs setting.
//
//	tracing, err := temporalotel.NewTracingInterceptor(temporalotel.TracerOptions{
//		Tracer: tracerProvider.Tracer("my-service"),
//	})
//	c, err := client.Dial(client.Options{
//		HostPort:     "temporal:7233",
//		Interceptors: []interceptor.ClientInterceptor{tracing},
//	})
//	eng, err := adapter.New(ctx, adapter.Config{Temporal: c, ...})
//
// A launch then starts its workflow within the span of Launch's context,
// and the process workflow, its body activity and its children's workflows
// and bodies join that trace (a launch over RPC starts a trace of its own).
// A body's [ProcessContext.Context] carries the span of the local activity
// that started it, so task code makes child spans from it:
//
//	span := trace.SpanFromContext(pc.Context())
//	ctx, child := span.TracerProvider().Tracer("my-task").Start(pc.Context(), "fetch")
//	defer child.End()
//
// # Differences from optio-core
//
//   - Every state write is a compare-and-set on the current state, so only
//     the state machine's edges are ever written: of two concurrent launches
//     exactly one wins, and a cancel while scheduled is never lost.
//   - status.runningSince is kept from the start of a run through its end
//     state, and identifies the run: progress of an earlier run never lands
//     on a later one.
//   - Resync deletes a removed task only when it is not active, and always
//     with its descendants.
//   - Ad-hoc processes survive resyncs.
//   - A cleaning Resync cancels the active processes in scope, waiting up to
//     CancelGrace, before it deletes them with their descendants; optio-core
//     deletes the documents under running tasks, and with a filter leaves
//     the children of the deleted roots behind.
//   - The progress helpers take any argument: SequentialProgress with no
//     children makes a callback that reports nothing, where optio-core's
//     raises ZeroDivisionError, and MappedProgress clamps its bounds to
//     [0, 1].
//   - RunChild returns a *ChildError for a cancelled child unless
//     SurviveCancel is set.
//   - A body that returns the errors its cancel caused (a refused spawn, the
//     *ChildError or *GroupError of children cancelled with it) ends
//     cancelled; optio-core fails a parent whose group raises after a cancel.
//   - ParallelGroup results are in spawn order.
//   - Shutdown cancels the bodies running in the engine, as optio-core does;
//     a worker that is killed instead has its bodies re-run on a live one.
//   - Saved state is the engine's (checkpoints) rather than the task's own,
//     and a fresh launch deletes it; an auto-resume happens as soon as an
//     engine starts, not after optio-core's auto_resume_delay_seconds.
package adapter
