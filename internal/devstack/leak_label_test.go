package devstack

import (
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/optio-temporal/optio/internal/devstack/leakcheck"
)

// The label key is duplicated in leakcheck to keep that package free of
// server imports; this keeps the two in step.
func TestGoroutineLabelMatchesLeakcheck(t *testing.T) {
	require.Equal(t, GoroutineLabel, leakcheck.LabelKey)
}
