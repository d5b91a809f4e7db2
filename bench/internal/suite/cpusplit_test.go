package suite

import (
	"context"
	"os"
	"path/filepath"
	"runtime/pprof"
	"strings"
	"testing"
	"time"
)

// A side's profile is split by the side's goroutine label: work done under
// SideLabel=optio is counted as optio's, and nothing else is.
func TestReadCPUSplitCountsALabelledSide(t *testing.T) {
	path := filepath.Join(t.TempDir(), "side.pprof")
	f, err := os.Create(path)
	if err != nil {
		t.Fatal(err)
	}
	if err := pprof.StartCPUProfile(f); err != nil {
		t.Fatal(err)
	}
	spin := func(d time.Duration) {
		for end := time.Now().Add(d); time.Now().Before(end); {
		}
	}
	side(context.Background(), "optio", func(context.Context) { spin(300 * time.Millisecond) })
	pprof.StopCPUProfile()
	if err := f.Close(); err != nil {
		t.Fatal(err)
	}

	split, err := readCPUSplit(path)
	if err != nil {
		t.Fatal(err)
	}
	if split["optio"] <= 0 {
		t.Fatalf("no CPU counted for the labelled side: %v", split)
	}
	if split["bare"] != 0 {
		t.Fatalf("CPU counted for a side that did not run: %v", split)
	}
	if got := split.Format("optio"); !strings.Contains(got, "optio ") {
		t.Fatalf("Format: %q", got)
	}
	if _, err := readCPUSplit(filepath.Join(t.TempDir(), "missing.pprof")); err == nil {
		t.Fatal("a missing profile read without error")
	}
}
