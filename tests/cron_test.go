package tests

import (
	"errors"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
	enumspb "go.temporal.io/api/enums/v1"
	"go.temporal.io/api/serviceerror"
	"go.temporal.io/sdk/client"

	"github.com/optio-temporal/optio/adapter"
	"github.com/optio-temporal/optio/workflows"
)

// describeSchedule describes a process's Temporal Schedule; nil when it has
// none.
func (s *system) describeSchedule(id string) *client.ScheduleDescription {
	s.t.Helper()
	d, err := s.eng.Schedule(s.ctx(), id).Describe(s.ctx())
	var nf *serviceerror.NotFound
	if errors.As(err, &nf) {
		return nil
	}
	require.NoError(s.t, err, "describe schedule of %q", id)
	return d
}

// requireFiresAt checks that a schedule's next fires (UTC) are all at
// hh:mm, which is what a cron expression "mm hh * * *" means whatever shape
// Temporal stores it in.
func requireFiresAt(t *testing.T, d *client.ScheduleDescription, hour, minute int) {
	t.Helper()
	require.NotNil(t, d, "no schedule")
	require.NotEmpty(t, d.Info.NextActionTimes)
	for _, at := range d.Info.NextActionTimes {
		at = at.UTC()
		require.Equal(t, [2]int{hour, minute}, [2]int{at.Hour(), at.Minute()}, "next fire %s", at)
	}
}

// TestCronTaskGetsATemporalSchedule: a task with a cron schedule gets a
// Temporal Schedule, ID {db}/{prefix}:{processId}, firing as the 5-field
// expression says (UTC by default), with overlap Skip, whose action is the
// schedule launcher on the engine's task queue; a task without a schedule
// gets none.
func TestCronTaskGetsATemporalSchedule(t *testing.T) {
	s := newSystem(t, adapter.Config{TaskDefinitions: staticTasks(
		adapter.TaskInstance{ProcessID: "weekday-report", Name: "Weekday report", Execute: quick, Schedule: "30 2 * * 1-5"},
		adapter.TaskInstance{ProcessID: "on-demand", Name: "On demand", Execute: quick},
	)})
	require.Equal(t, s.env.Mongo.Name+"/optio:weekday-report", s.eng.ScheduleID("weekday-report"))

	d := s.describeSchedule("weekday-report")
	requireFiresAt(t, d, 2, 30)
	for _, at := range d.Info.NextActionTimes {
		require.NotContains(t, []time.Weekday{time.Saturday, time.Sunday}, at.UTC().Weekday(), "1-5 is Monday to Friday")
	}
	require.Len(t, d.Schedule.Spec.Calendars, 1)
	cal := d.Schedule.Spec.Calendars[0]
	require.Equal(t, []client.ScheduleRange{{Start: 30, End: 30, Step: 1}}, cal.Minute)
	require.Equal(t, []client.ScheduleRange{{Start: 2, End: 2, Step: 1}}, cal.Hour)
	require.Equal(t, []client.ScheduleRange{{Start: 1, End: 5, Step: 1}}, cal.DayOfWeek)
	require.Equal(t, enumspb.SCHEDULE_OVERLAP_POLICY_SKIP, d.Schedule.Policy.Overlap)
	action, ok := d.Schedule.Action.(*client.ScheduleWorkflowAction)
	require.True(t, ok, "action %T", d.Schedule.Action)
	require.Equal(t, workflows.ScheduledLaunchName, action.Workflow)
	require.Equal(t, s.eng.TaskQueue(), action.TaskQueue)
	require.False(t, d.Schedule.State.Paused)

	require.Nil(t, s.describeSchedule("on-demand"))
}

// TestCronTriggerLaunchesAndSkipsWhileActive: triggering the schedule
// launches the process through the ordinary launch path (it runs and ends
// done); a trigger while the process is still active is skipped, not queued,
// and the running process's log gets the warning "Scheduled launch of {id}
// skipped: not-launchable".
func TestCronTriggerLaunchesAndSkipsWhileActive(t *testing.T) {
	g := newGate(t)
	s := newSystem(t, adapter.Config{TaskDefinitions: staticTasks(
		adapter.TaskInstance{ProcessID: "nightly", Name: "Nightly", Execute: g.stubborn, Schedule: "0 3 * * *"},
	)})
	h := s.eng.Schedule(s.ctx(), "nightly")
	launcherIdle := func() bool { d := s.describeSchedule("nightly"); return len(d.Info.RunningWorkflows) == 0 }

	require.NoError(t, h.Trigger(s.ctx(), client.ScheduleTriggerOptions{}))
	g.waitStarted(t)
	s.waitState("nightly", adapter.StateRunning)
	// The launcher of the first trigger has finished: the next trigger is not
	// dropped by the schedule's overlap policy but reaches the launch path.
	eventually(t, "the schedule's launcher workflow to finish", launcherIdle)

	require.NoError(t, h.Trigger(s.ctx(), client.ScheduleTriggerOptions{}))
	p := s.waitLog("nightly", "warning", "Scheduled launch of nightly skipped: not-launchable")
	require.Equal(t, adapter.StateRunning, p.Status.State)
	require.EqualValues(t, 1, g.runs.Load(), "the skipped trigger ran nothing")

	g.open()
	p = s.waitState("nightly", adapter.StateDone)
	require.GreaterOrEqual(t, findLog(p, "warning", "Scheduled launch of nightly skipped: not-launchable"), 0)
	require.Equal(t, "event: State changed to done", logLines(p)[len(p.Log)-1])

	// Once ended, a trigger launches it again, with a fresh log.
	eventually(t, "the schedule's launcher workflow to finish", launcherIdle)
	require.NoError(t, h.Trigger(s.ctx(), client.ScheduleTriggerOptions{}))
	eventually(t, "a second run", func() bool { return g.runs.Load() == 2 })
	p = s.waitState("nightly", adapter.StateDone)
	require.Equal(t, []string{"event: State changed to scheduled", "event: State changed to running", "event: State changed to done"}, logLines(p))
	d := s.describeSchedule("nightly")
	require.EqualValues(t, 3, d.Info.NumActions)
}

// TestResyncAddsUpdatesAndRemovesSchedules: resync makes the Temporal
// Schedules follow the task definitions: a new cron task or a task that
// gains a schedule gets one, a changed expression updates it, and a task
// that loses its schedule or disappears loses it. A filtered resync leaves
// the schedules of tasks outside its filter alone.
func TestResyncAddsUpdatesAndRemovesSchedules(t *testing.T) {
	task := func(id, cron, group string) adapter.TaskInstance {
		return adapter.TaskInstance{ProcessID: id, Name: id, Execute: quick, Schedule: cron, Metadata: map[string]any{"group": group}}
	}
	gen := newGenerator(
		task("changes", "0 1 * * *", "x"),
		task("gains", "", "x"),
		task("loses", "0 3 * * *", "x"),
		task("vanishes", "0 4 * * *", "x"),
		task("other-group", "0 7 * * *", "y"),
	)
	s := newSystem(t, adapter.Config{TaskDefinitions: gen.generate})
	requireFiresAt(t, s.describeSchedule("changes"), 1, 0)
	require.Nil(t, s.describeSchedule("gains"))
	requireFiresAt(t, s.describeSchedule("loses"), 3, 0)
	requireFiresAt(t, s.describeSchedule("vanishes"), 4, 0)

	gen.set(
		task("changes", "15 4 * * *", "x"),
		task("gains", "0 5 * * *", "x"),
		task("loses", "", "x"),
		task("new", "0 6 * * *", "x"),
		// other-group has gone from the generator, but is out of scope.
	)
	_, err := s.eng.Resync(s.ctx(), false, map[string]any{"group": "x"})
	require.NoError(t, err)
	requireFiresAt(t, s.describeSchedule("changes"), 4, 15)
	requireFiresAt(t, s.describeSchedule("gains"), 5, 0)
	require.Nil(t, s.describeSchedule("loses"))
	require.Nil(t, s.describeSchedule("vanishes"))
	require.True(t, s.gone("vanishes"))
	requireFiresAt(t, s.describeSchedule("new"), 6, 0)
	requireFiresAt(t, s.describeSchedule("other-group"), 7, 0)
	require.False(t, s.gone("other-group"))

	_, err = s.eng.Resync(s.ctx(), false, nil)
	require.NoError(t, err)
	require.Nil(t, s.describeSchedule("other-group"), "a full resync removes it")
	require.True(t, s.gone("other-group"))
	requireFiresAt(t, s.describeSchedule("changes"), 4, 15)
}

// TestCronFireWhileNoEngineRunsIsSkipped: a fire made while no engine is up
// waits for a worker; one that reaches an engine later than
// Config.CronMisfireGrace is skipped, with a warning in the process's log,
// as optio-core's in-process scheduler misses the fires of its downtime. A
// fire made while an engine runs launches as before.
func TestCronFireWhileNoEngineRunsIsSkipped(t *testing.T) {
	const grace = 500 * time.Millisecond
	cfg := adapter.Config{CronMisfireGrace: grace, TaskDefinitions: staticTasks(
		adapter.TaskInstance{ProcessID: "nightly", Name: "Nightly", Execute: quick, Schedule: "0 3 * * *"},
	)}
	s := newSystem(t, cfg)
	require.NoError(t, s.eng.Shutdown(s.ctx()))

	// The fire's launcher workflow waits: no worker polls the task queue.
	require.NoError(t, s.eng.Schedule(s.ctx(), "nightly").Trigger(s.ctx(), client.ScheduleTriggerOptions{}))
	eventually(t, "the fire's launcher workflow to start", func() bool {
		return len(s.describeSchedule("nightly").Info.RunningWorkflows) == 1
	})
	time.Sleep(2 * grace)

	s.eng = s.startEngine(cfg)
	p := s.waitLog("nightly", "warning", "Scheduled launch of nightly skipped: it fired at ")
	require.Equal(t, adapter.StateIdle, p.Status.State, "the late fire launched nothing")
	e := p.Log[findLog(p, "warning", "Scheduled launch of nightly skipped")]
	require.Regexp(t, `^Scheduled launch of nightly skipped: it fired at \S+Z and no engine ran it until \d+(\.\d+)?m?s later$`, e.Message)

	// With the engine up, a fire launches.
	eventually(t, "the late fire's launcher workflow to finish", func() bool {
		return len(s.describeSchedule("nightly").Info.RunningWorkflows) == 0
	})
	require.NoError(t, s.eng.Schedule(s.ctx(), "nightly").Trigger(s.ctx(), client.ScheduleTriggerOptions{}))
	p = s.waitState("nightly", adapter.StateDone)
	require.Equal(t, []string{"event: State changed to scheduled", "event: State changed to running", "event: State changed to done"}, logLines(p))
}
