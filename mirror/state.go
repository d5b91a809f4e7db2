package mirror

// State is the value of a process document's status.state field.
type State string

// The states of the optio state machine, spelled exactly as optio-core stores them.
const (
	Idle            State = "idle"
	Scheduled       State = "scheduled"
	Running         State = "running"
	CancelRequested State = "cancel_requested"
	Cancelling      State = "cancelling"
	Done            State = "done"
	Failed          State = "failed"
	Cancelled       State = "cancelled"
)

// AllStates lists every state in the order of the seed's table.
func AllStates() []State {
	return []State{Idle, Scheduled, Running, CancelRequested, Cancelling, Done, Failed, Cancelled}
}

// Valid reports whether s is one of the eight known states.
func (s State) Valid() bool {
	switch s {
	case Idle, Scheduled, Running, CancelRequested, Cancelling, Done, Failed, Cancelled:
		return true
	}
	return false
}

// Active reports whether s is in ACTIVE_STATES (scheduled, running, cancel_requested, cancelling).
func (s State) Active() bool {
	return s == Scheduled || s == Running || s == CancelRequested || s == Cancelling
}

// End reports whether s is in END_STATES (done, failed, cancelled).
func (s State) End() bool { return s == Done || s == Failed || s == Cancelled }

// Launchable reports whether s is in LAUNCHABLE_STATES (idle or an end state).
func (s State) Launchable() bool { return s == Idle || s.End() }

// Cancellable reports whether s is in CANCELLABLE_STATES (scheduled, running).
func (s State) Cancellable() bool { return s == Scheduled || s == Running }

// Dismissable reports whether s is in DISMISSABLE_STATES (the end states).
func (s State) Dismissable() bool { return s.End() }

// CanTransition reports whether the state machine allows a write from one state to another.
//
// The allowed edges are the seed's transition table plus three that a correct
// engine needs: scheduled->cancelled (cancel before the body starts),
// cancelling->cancelled (already in the seed) and any active state -> failed
// (an error while unwinding, a lost worker, reconciliation of a closed workflow).
func CanTransition(from, to State) bool {
	switch from {
	case Idle:
		return to == Scheduled
	case Scheduled:
		return to == Running || to == CancelRequested || to == Cancelled || to == Failed
	case Running:
		return to == Done || to == Failed || to == CancelRequested
	case CancelRequested:
		return to == Cancelling || to == Failed
	case Cancelling:
		return to == Cancelled || to == Failed
	case Done, Failed, Cancelled:
		return to == Scheduled || to == Idle
	}
	return false
}
