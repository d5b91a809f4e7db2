//go:build !unix

package devstack

import "os"

// tryLockFile does not lock where flock is missing: the data directory is
// then not protected against a second stack.
func tryLockFile(*os.File) (bool, error) { return true, nil }

func unlockFile(*os.File) error { return nil }
