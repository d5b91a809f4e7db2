package suite

import (
	"bytes"
	"os"
	"runtime/metrics"
	"strconv"
	"sync"
	"sync/atomic"
	"time"
)

// rssBytes returns the process's resident set size, 0 if unknown (not
// Linux). With embedded servers it includes theirs, and the in-memory
// Temporal server keeps every history it has stored.
func rssBytes() int64 {
	b, err := os.ReadFile("/proc/self/statm")
	if err != nil {
		return 0
	}
	f := bytes.Fields(b)
	if len(f) < 2 {
		return 0
	}
	pages, err := strconv.ParseInt(string(f[1]), 10, 64)
	if err != nil {
		return 0
	}
	return pages * int64(os.Getpagesize())
}

// resetPeakRSS resets the kernel's high-water mark of the process's RSS
// (VmHWM) to the current RSS, and reports whether it could.
func resetPeakRSS() bool {
	return os.WriteFile("/proc/self/clear_refs", []byte("5"), 0) == nil
}

// peakRSSBytes returns the kernel's high-water mark of the process's RSS
// (VmHWM), 0 if unknown.
func peakRSSBytes() int64 {
	b, err := os.ReadFile("/proc/self/status")
	if err != nil {
		return 0
	}
	for line := range bytes.Lines(b) {
		if v, ok := bytes.CutPrefix(line, []byte("VmHWM:")); ok {
			f := bytes.Fields(v)
			if len(f) == 0 {
				return 0
			}
			kb, err := strconv.ParseInt(string(f[0]), 10, 64)
			if err != nil {
				return 0
			}
			return kb << 10
		}
	}
	return 0
}

// liveHeapBytes returns the Go heap the last garbage collection found live
// (the whole process's, servers included when embedded).
func liveHeapBytes() int64 {
	s := []metrics.Sample{{Name: "/gc/heap/live:bytes"}}
	metrics.Read(s)
	if s[0].Value.Kind() != metrics.KindUint64 {
		return 0
	}
	return int64(s[0].Value.Uint64())
}

func mb(bytes int64) float64 { return float64(bytes) / (1 << 20) }

// memMark is the process's memory when a count of finished operations
// reached a mark.
type memMark struct {
	At       int64 // the mark
	Reached  time.Duration
	RSS      int64
	LiveHeap int64
}

// finishLine counts finished operations (children) of one side and records
// the process's memory the moment the count reaches each mark.
type finishLine struct {
	t0    time.Time
	n     atomic.Int64
	mu    sync.Mutex
	marks []memMark
}

func newFinishLine(marks ...int64) *finishLine {
	f := &finishLine{t0: time.Now()}
	for _, m := range marks {
		f.marks = append(f.marks, memMark{At: m})
	}
	return f
}

func (f *finishLine) finish() {
	n := f.n.Add(1)
	for i := range f.marks {
		if f.marks[i].At == n {
			rss, heap := rssBytes(), liveHeapBytes()
			f.mu.Lock()
			f.marks[i].Reached, f.marks[i].RSS, f.marks[i].LiveHeap = time.Since(f.t0), rss, heap
			f.mu.Unlock()
		}
	}
}

// count returns how many operations finished so far.
func (f *finishLine) count() int64 { return f.n.Load() }

// mark returns the memory recorded at mark m, and whether it was reached.
func (f *finishLine) mark(m int64) (memMark, bool) {
	f.mu.Lock()
	defer f.mu.Unlock()
	for _, k := range f.marks {
		if k.At == m {
			return k, k.RSS != 0
		}
	}
	return memMark{}, false
}
