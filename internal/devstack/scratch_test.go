package devstack

import (
	"context"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
)

// A server without a DataDir keeps its database in a scratch directory of
// its own, which Stop removes. (The other tests run workflows on such
// servers.)
func TestTemporalScratchDatabaseIsRemovedAtStop(t *testing.T) {
	srv, err := StartTemporal(context.Background(), TemporalConfig{})
	require.NoError(t, err)
	require.NotNil(t, srv.scratch)
	dir := srv.scratch.path()
	require.FileExists(t, filepath.Join(dir, TemporalDBFile))
	require.Equal(t, os.TempDir(), filepath.Dir(dir))

	require.NoError(t, srv.Stop())
	require.NoDirExists(t, dir)
	require.NoError(t, srv.Stop(), "a second Stop does nothing")
}

// The sweep removes the scratch directories a killed process left (no lock
// held, older than a minute) and keeps those in use or just made.
func TestSweepScratchDirs(t *testing.T) {
	root := t.TempDir()
	old := time.Now().Add(-2 * scratchSweepAge)
	mk := func(name string) string {
		dir := filepath.Join(root, name)
		lock, err := LockDataDir(dir)
		require.NoError(t, err)
		require.NoError(t, lock.Unlock())
		return dir
	}
	left := mk("optio-temporal-scratch-left")
	require.NoError(t, os.Chtimes(left, old, old))
	young := mk("optio-temporal-scratch-young")
	held := mk("optio-temporal-scratch-held")
	lock, err := LockDataDir(held)
	require.NoError(t, err)
	defer func() { require.NoError(t, lock.Unlock()) }()
	require.NoError(t, os.Chtimes(held, old, old))
	other := mk("other-old")
	require.NoError(t, os.Chtimes(other, old, old))

	sweepScratchDirs(root)
	require.NoDirExists(t, left)
	require.DirExists(t, young)
	require.DirExists(t, held)
	require.DirExists(t, other)
}
