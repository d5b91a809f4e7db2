package suite

import (
	"fmt"
	"os"
	"slices"
	"strings"
	"time"

	"github.com/google/pprof/profile"

	"github.com/optio-temporal/optio/internal/devstack"
)

// CPUSplit is a side's CPU time as its profile (-profile-dir) splits it by
// goroutine label: the side's own work (SideLabel, "optio" or "bare": the
// engine or the bare worker, with the calls that drive them), the bench's
// clients, and the in-process servers (devstack.GoroutineLabel). Time no
// label covers (the runtime's own, GC assists aside) is Other.
type CPUSplit map[string]time.Duration

// Other is the key of the time no label covers.
const Other = "other"

// readCPUSplit reads the CPU profile at path and splits it.
func readCPUSplit(path string) (CPUSplit, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	p, err := profile.Parse(f)
	if err != nil {
		return nil, fmt.Errorf("parse profile %s: %w", path, err)
	}
	idx := slices.IndexFunc(p.SampleType, func(t *profile.ValueType) bool { return t.Type == "cpu" })
	if idx < 0 {
		return nil, fmt.Errorf("profile %s has no cpu samples", path)
	}
	split := CPUSplit{}
	for _, s := range p.Sample {
		key := Other
		if v := s.Label[SideLabel]; len(v) > 0 {
			key = v[0]
		} else if v := s.Label[devstack.GoroutineLabel]; len(v) > 0 {
			key = v[0]
		}
		split[key] += time.Duration(s.Value[idx])
	}
	return split, nil
}

// Format prints the split on one line, largest part first.
func (c CPUSplit) Format(label string) string {
	if len(c) == 0 {
		return ""
	}
	keys := make([]string, 0, len(c))
	var total time.Duration
	for k, v := range c {
		keys = append(keys, k)
		total += v
	}
	slices.SortFunc(keys, func(a, b string) int { return int(c[b] - c[a]) })
	var b strings.Builder
	fmt.Fprintf(&b, "    %s: profiled CPU %.2f s:", label, total.Seconds())
	for _, k := range keys {
		fmt.Fprintf(&b, " %s %.2f s,", k, c[k].Seconds())
	}
	return strings.TrimSuffix(b.String(), ",") + "\n"
}
