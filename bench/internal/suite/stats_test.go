package suite

import (
	"math"
	"testing"
	"time"
)

func TestPercentile(t *testing.T) {
	var s Samples
	for i := 1; i <= 100; i++ {
		s = append(s, time.Duration(i)*time.Millisecond)
	}
	for p, want := range map[float64]time.Duration{0: time.Millisecond, 50: 50 * time.Millisecond, 99: 99 * time.Millisecond, 100: 100 * time.Millisecond} {
		if got := s.Percentile(p); got != want {
			t.Errorf("p%v = %v, want %v", p, got, want)
		}
	}
	if got := (Samples{}).Percentile(50); got != 0 {
		t.Errorf("empty p50 = %v", got)
	}
	if got := s.Mean(); got != 50500*time.Microsecond {
		t.Errorf("mean = %v", got)
	}
}

func TestCountsSub(t *testing.T) {
	before := Counts{"a": {N: 1, Total: time.Second}}
	now := Counts{"a": {N: 3, Total: 3 * time.Second}, "b": {N: 1}}
	d := now.Sub(before)
	if d["a"].N != 2 || d["a"].Total != 2*time.Second || d["b"].N != 1 || d.Total() != 3 {
		t.Errorf("sub = %v", d)
	}
	if r := (Row{Ours: 1, Bare: math.NaN()}).Ratio(); !math.IsNaN(r) {
		t.Errorf("ratio without bare = %v", r)
	}
}
