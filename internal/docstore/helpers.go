package docstore

import "github.com/optio-temporal/optio/mirror"

func zeroProgress() mirror.Progress {
	zero := 0.0
	return mirror.Progress{Percent: &zero}
}

// optionalString maps "" to nil, as optio stores absent text fields as null.
func optionalString(s string) *string {
	if s == "" {
		return nil
	}
	return &s
}

// statesFrom returns every state that may move to the given one.
func statesFrom(to mirror.State) []mirror.State {
	var out []mirror.State
	for _, s := range mirror.AllStates() {
		if mirror.CanTransition(s, to) {
			out = append(out, s)
		}
	}
	return out
}

// The store is the one mirror.Reader.
var _ mirror.Reader = (*Store)(nil)
