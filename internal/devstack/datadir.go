package devstack

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"
)

// lockFileName is the file in a data directory that a running stack holds
// locked and that names the process holding it.
const lockFileName = "lock"

// DataDirInUseError is returned by [Start] and [LockDataDir] when another
// process holds the data directory: two stacks on one directory would have
// two Temporal servers fight over its shard locks, two Mongo-wire servers
// write one SQLite file and two redis-servers one append-only directory.
type DataDirInUseError struct {
	// Dir is the data directory.
	Dir string
	// PID is the process holding it, or 0 if it cannot be told.
	PID int
}

// Error names the directory and the process holding it.
func (e *DataDirInUseError) Error() string {
	holder := "another process"
	if e.PID > 0 {
		holder = "process " + strconv.Itoa(e.PID)
	}
	return fmt.Sprintf("data directory %s is in use by %s", e.Dir, holder)
}

// DataDirLock is a data directory held by this process; see [LockDataDir].
type DataDirLock struct {
	dir  string
	file *os.File
}

// LockDataDir creates dir if needed, readable by its owner only (an
// existing dir is narrowed to that), and locks it for this process until
// Unlock, or until the process exits, however it exits. If another process
// holds it, the error is a *DataDirInUseError naming that process.
func LockDataDir(dir string) (*DataDirLock, error) {
	dir = filepath.Clean(dir)
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return nil, fmt.Errorf("data directory %s: %w", dir, err)
	}
	if err := os.Chmod(dir, 0o700); err != nil {
		return nil, fmt.Errorf("data directory %s: %w", dir, err)
	}
	f, err := os.OpenFile(filepath.Join(dir, lockFileName), os.O_RDWR|os.O_CREATE, 0o600)
	if err != nil {
		return nil, fmt.Errorf("data directory %s: %w", dir, err)
	}
	held, err := tryLockFile(f)
	if err != nil {
		_ = f.Close()
		return nil, fmt.Errorf("data directory %s: lock: %w", dir, err)
	}
	if !held {
		blob, _ := os.ReadFile(f.Name())
		_ = f.Close()
		pid, _ := strconv.Atoi(strings.TrimSpace(string(blob)))
		return nil, &DataDirInUseError{Dir: dir, PID: pid}
	}
	if err := f.Truncate(0); err == nil {
		_, err = f.WriteAt([]byte(strconv.Itoa(os.Getpid())+"\n"), 0)
		if err != nil {
			_ = f.Close()
			return nil, fmt.Errorf("data directory %s: %w", dir, err)
		}
	}
	return &DataDirLock{dir: dir, file: f}, nil
}

// Unlock releases the directory. Calling it again does nothing.
func (l *DataDirLock) Unlock() error {
	if l == nil || l.file == nil {
		return nil
	}
	f := l.file
	l.file = nil
	// The pid is left in the file: a reader that finds the file unlocked
	// ignores it.
	return errors.Join(unlockFile(f), f.Close())
}
