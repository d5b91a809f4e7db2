package redisserver

import "syscall"

// sysProcAttr puts the child in its own process group and has the kernel
// kill it when the parent dies. Pdeathsig follows the OS thread that started
// the child; the Go runtime does not retire threads of goroutines that never
// call runtime.LockOSThread, so in practice this is the parent's lifetime.
func sysProcAttr() *syscall.SysProcAttr {
	return &syscall.SysProcAttr{Setpgid: true, Pdeathsig: syscall.SIGKILL}
}
