package suite

import (
	"strings"
	"testing"
	"time"
)

// Each -rpc-latency value is one setting; the Mongo and Temporal values
// apply one to every setting or one per setting, and the label names the
// hops delayed.
func TestRPCSettingsPairTheHops(t *testing.T) {
	ms := time.Millisecond
	got, err := RPCOptions{
		Latencies:         []time.Duration{0, ms, 2 * ms, 2 * ms},
		MongoLatencies:    []time.Duration{0, 0, 0, ms},
		TemporalLatencies: []time.Duration{2 * ms},
	}.settings()
	if err != nil {
		t.Fatal(err)
	}
	want := []string{"Temporal RTT 2ms", "Redis RTT 1ms, Temporal 2ms", "Redis+Temporal RTT 2ms", "Redis RTT 2ms, Mongo 1ms, Temporal 2ms"}
	if len(got) != len(want) {
		t.Fatalf("%d settings, want %d", len(got), len(want))
	}
	for i, l := range got {
		if l.label() != want[i] {
			t.Errorf("setting %d: label %q, want %q", i, l.label(), want[i])
		}
	}
	if l := (rpcLatency{}); l.label() != "loopback" || !strings.Contains(l.describe(), "no latency") {
		t.Errorf("no latency: label %q, %q", l.label(), l.describe())
	}
	if d := got[2].describe(); !strings.Contains(d, "Mongo direct") || !strings.Contains(d, "Temporal round trip 2ms") {
		t.Errorf("describe: %q", d)
	}
}

// A hop given neither one value nor one per setting, or a negative one, is
// refused.
func TestRPCSettingsRefuseAMismatch(t *testing.T) {
	ms := time.Millisecond
	for name, o := range map[string]RPCOptions{
		"two Temporal values for three settings": {Latencies: []time.Duration{0, ms, 2 * ms}, TemporalLatencies: []time.Duration{0, ms}},
		"two Mongo values for one setting":       {MongoLatencies: []time.Duration{0, ms}},
		"negative Temporal":                      {TemporalLatencies: []time.Duration{-ms}},
	} {
		if _, err := o.settings(); err == nil {
			t.Errorf("%s: no error", name)
		}
	}
}

// A setting's profiles are named by its label, in characters a file name
// takes anywhere.
func TestRPCSettingSlugIsAFileName(t *testing.T) {
	for l, want := range map[rpcLatency]string{
		{}: "loopback",
		{redis: 2 * time.Millisecond, temporal: 2 * time.Millisecond}: "redis-temporal-rtt-2ms",
		{redis: time.Millisecond, mongo: 500 * time.Microsecond}:      "redis-rtt-1ms--mongo-500us",
	} {
		if got := l.slug(); got != want {
			t.Errorf("%s: slug %q, want %q", l.label(), got, want)
		}
	}
}
