package suite

import (
	"fmt"
	"io"
	"math"
	"strings"
)

// Verdicts of a row with a target.
const (
	Pass = "PASS"
	Miss = "MISS"
)

// Row is one figure of a measurement: optio's, bare Temporal's (NaN when
// there is no bare equivalent) and, when a target applies, the verdict.
type Row struct {
	Measure string
	Metric  string
	Ours    float64
	Bare    float64
	// Target describes the target; empty for figures given for information.
	Target  string
	Verdict string
}

// Ratio returns Ours/Bare, NaN without a bare figure.
func (r Row) Ratio() float64 {
	if math.IsNaN(r.Bare) || r.Bare == 0 {
		return math.NaN()
	}
	return r.Ours / r.Bare
}

// Result is what one run of a measurement found.
type Result struct {
	// Name is the measurement's short name ("latency", "throughput", ...).
	Name string
	Rows []Row
	// Details are further lines: what was counted, usage per side, traces.
	Details string
}

func verdict(ok bool) string {
	if ok {
		return Pass
	}
	return Miss
}

// WriteTable prints rows as an aligned table.
func WriteTable(w io.Writer, rows []Row) {
	fmt.Fprintf(w, "%-40s %-30s %12s %12s %8s  %-22s %s\n", "measurement", "metric", "optio", "bare", "ratio", "target", "")
	fmt.Fprintln(w, strings.Repeat("-", 134))
	for _, r := range rows {
		fmt.Fprintf(w, "%-40s %-30s %12s %12s %8s  %-22s %s\n",
			r.Measure, r.Metric, num(r.Ours), num(r.Bare), ratio(r.Ratio()), r.Target, r.Verdict)
	}
}

func num(v float64) string {
	switch {
	case math.IsNaN(v):
		return "-"
	case math.Abs(v) >= 1e5:
		return fmt.Sprintf("%.0f", v)
	case math.Abs(v) >= 100:
		return fmt.Sprintf("%.1f", v)
	default:
		return fmt.Sprintf("%.2f", v)
	}
}

func ratio(v float64) string {
	if math.IsNaN(v) || math.IsInf(v, 0) {
		return "-"
	}
	return fmt.Sprintf("%.2fx", v)
}
