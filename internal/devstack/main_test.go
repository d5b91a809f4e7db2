package devstack

import (
	"fmt"
	"os"
	"testing"

	"github.com/optio-temporal/optio/internal/devstack/leakcheck"
)

// TestMain fails the package if a goroutine or child process outlives the
// tests; see package leakcheck for what is and is not counted.
func TestMain(m *testing.M) {
	code := m.Run()
	if code == 0 {
		if err := leakcheck.Find(); err != nil {
			fmt.Fprintln(os.Stderr, err)
			code = 1
		}
	}
	os.Exit(code)
}
