package main

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"strings"
	"syscall"
	"time"
)

// serversReadyPrefix starts the line on which a -serve process started
// by -servers-apart names its servers to its parent: the prefix, the
// Temporal address, a space and the Mongo URL.
const serversReadyPrefix = "bench-servers-ready "

// apartServers is a bench -serve in a child process: the servers that
// -servers-apart measures against, on the same machine but outside the
// process whose CPU the measurements count, as production runs them on
// other hosts.
type apartServers struct {
	cmd      *exec.Cmd
	stdin    io.Closer
	temporal string
	mongo    string
	done     chan error
}

// startServersApart runs this program with -serve, and the flags given,
// and waits until it names its servers.
func startServersApart(ctx context.Context, flags ...string) (*apartServers, error) {
	self, err := os.Executable()
	if err != nil {
		return nil, fmt.Errorf("-servers-apart: find this program: %w", err)
	}
	cmd := exec.Command(self, append([]string{"-serve", "-serve-for-parent"}, flags...)...)
	cmd.Stderr = os.Stderr
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		return nil, err
	}
	// Held open until Stop; should this process end first, the child
	// sees its stdin close and stops (serve).
	stdin, err := cmd.StdinPipe()
	if err != nil {
		return nil, err
	}
	if err := cmd.Start(); err != nil {
		return nil, fmt.Errorf("-servers-apart: start the servers' process: %w", err)
	}
	s := &apartServers{cmd: cmd, stdin: stdin, done: make(chan error, 1)}
	lines := bufio.NewScanner(stdout)
	ready := make(chan error, 1)
	go func() {
		for lines.Scan() {
			if rest, ok := strings.CutPrefix(lines.Text(), serversReadyPrefix); ok {
				s.temporal, s.mongo, _ = strings.Cut(rest, " ")
				ready <- nil
				break
			}
		}
		if s.temporal == "" {
			ready <- errors.New("-servers-apart: the servers' process ended before naming its servers")
		}
		_, _ = io.Copy(io.Discard, stdout)
		s.done <- cmd.Wait()
	}()
	select {
	case err = <-ready:
	case <-ctx.Done():
		err = ctx.Err()
	case <-time.After(5 * time.Minute):
		err = errors.New("-servers-apart: the servers did not start in 5 minutes")
	}
	if err != nil {
		_ = cmd.Process.Kill()
		_ = stdin.Close()
		return nil, err
	}
	return s, nil
}

// Stop interrupts the servers' process and waits for it to end.
func (s *apartServers) Stop() error {
	_ = s.cmd.Process.Signal(syscall.SIGINT)
	defer s.stdin.Close()
	select {
	case err := <-s.done:
		return err
	case <-time.After(time.Minute):
		_ = s.cmd.Process.Kill()
		return errors.New("-servers-apart: the servers' process did not stop in a minute; killed")
	}
}
