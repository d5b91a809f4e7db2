package testenv

import (
	"fmt"
	"os"
	"testing"

	"github.com/optio-temporal/optio/internal/devstack/leakcheck"
)

func TestMain(m *testing.M) {
	code := Run(m)
	if code == 0 && os.Getenv(envWorkerHostPort) == "" {
		if err := leakcheck.Find(); err != nil {
			fmt.Fprintln(os.Stderr, err)
			code = 1
		}
	}
	os.Exit(code)
}
