package mirror

import (
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
)

// The allowed edges are the seed's transition table plus scheduled->cancelled
// and any active state -> failed; nothing else.
func TestCanTransition(t *testing.T) {
	allowed := map[State][]State{
		Idle:            {Scheduled},
		Scheduled:       {Running, CancelRequested, Cancelled, Failed},
		Running:         {Done, Failed, CancelRequested},
		CancelRequested: {Cancelling, Failed},
		Cancelling:      {Cancelled, Failed},
		Done:            {Scheduled, Idle},
		Failed:          {Scheduled, Idle},
		Cancelled:       {Scheduled, Idle},
	}
	for _, from := range AllStates() {
		for _, to := range AllStates() {
			want := false
			for _, s := range allowed[from] {
				want = want || s == to
			}
			assert.Equal(t, want, CanTransition(from, to), "%s -> %s", from, to)
		}
	}
	assert.False(t, CanTransition("bogus", Idle))
}

func TestStateGroups(t *testing.T) {
	for _, tc := range []struct {
		s                                                 State
		active, end, launchable, cancellable, dismissable bool
	}{
		{Idle, false, false, true, false, false},
		{Scheduled, true, false, false, true, false},
		{Running, true, false, false, true, false},
		{CancelRequested, true, false, false, false, false},
		{Cancelling, true, false, false, false, false},
		{Done, false, true, true, false, true},
		{Failed, false, true, true, false, true},
		{Cancelled, false, true, true, false, true},
	} {
		assert.Equal(t, tc.active, tc.s.Active(), "%s active", tc.s)
		assert.Equal(t, tc.end, tc.s.End(), "%s end", tc.s)
		assert.Equal(t, tc.launchable, tc.s.Launchable(), "%s launchable", tc.s)
		assert.Equal(t, tc.cancellable, tc.s.Cancellable(), "%s cancellable", tc.s)
		assert.Equal(t, tc.dismissable, tc.s.Dismissable(), "%s dismissable", tc.s)
		assert.True(t, tc.s.Valid())
	}
}

// Log timestamps are Python isoformat strings of an aware UTC datetime.
func TestISOTimestamp(t *testing.T) {
	assert.Equal(t, "2026-05-18T12:46:35.123456+00:00", isoTimestamp(mustTime("2026-05-18T12:46:35.123456789Z")))
	assert.Equal(t, "2026-05-18T12:46:35+00:00", isoTimestamp(mustTime("2026-05-18T12:46:35Z")))
}

func mustTime(s string) time.Time {
	t, err := time.Parse(time.RFC3339Nano, s)
	if err != nil {
		panic(err)
	}
	return t
}
