//go:build unix

package main

import "syscall"

// restrictNewFiles makes the files and directories this process (and the
// redis-server it starts) creates from now on readable by the owner only.
func restrictNewFiles() { syscall.Umask(0o077) }
