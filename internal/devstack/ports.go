package devstack

import (
	"errors"
	"fmt"
	"math/rand/v2"
	"net"
	"strconv"
	"syscall"
)

// DefaultHost is the address every part binds to when its config leaves Host
// empty: loopback only, so a dev stack is never reachable from the network
// by accident.
const DefaultHost = "127.0.0.1"

// Part names, as used in [PortInUseError] and in log lines.
const (
	PartTemporal = "temporal"
	PartUI       = "ui"
	PartMongo    = "mongo"
	PartRedis    = "redis"
)

// PortInUseError reports that a part could not bind its port because
// something else is listening there. cmd/worker turns it into a one-line
// message naming the flag that moves the part elsewhere.
type PortInUseError struct {
	// Part is one of the Part* constants.
	Part string
	// Host and Port are the address that was asked for.
	Host string
	Port int
}

// Error reads "mongo: port 27017 on 127.0.0.1 is already in use".
func (e *PortInUseError) Error() string {
	return fmt.Sprintf("%s: port %d on %s is already in use", e.Part, e.Port, e.Host)
}

// listen binds host:port for part and turns "address in use" into a
// *PortInUseError.
func listen(part, host string, port int) (net.Listener, error) {
	ln, err := net.Listen("tcp", net.JoinHostPort(host, strconv.Itoa(port)))
	if err != nil {
		if isAddrInUse(err) {
			return nil, &PortInUseError{Part: part, Host: host, Port: port}
		}
		return nil, fmt.Errorf("%s: listen on %s:%d: %w", part, host, port, err)
	}
	return ln, nil
}

// checkPortFree reports a *PortInUseError when host:port cannot be bound.
// Servers that bind their own sockets (Temporal) are checked this way first,
// because their own errors are less clear and arrive after a slow start.
func checkPortFree(part, host string, port int) error {
	ln, err := listen(part, host, port)
	if err != nil {
		return err
	}
	return ln.Close()
}

// Internal ports are picked from [lowPortMin, lowPortMax), below the range
// every common kernel hands out for outgoing connections (32768-60999 on
// Linux, 49152-65535 on macOS and Windows). A port from that range, picked
// free, can be taken by any process's outgoing connection before the server
// binds it; one below it can be taken only by another listener.
const (
	lowPortMin   = 20000
	lowPortMax   = 32768
	lowPortTries = 64
)

// freePort returns a port that is free on host right now, from the low
// range when one answers within a few tries, else from the kernel.
func freePort(host string) (int, error) {
	for range lowPortTries {
		port := lowPortMin + rand.IntN(lowPortMax-lowPortMin)
		ln, err := net.Listen("tcp", hostPort(host, port))
		if err == nil {
			_ = ln.Close()
			return port, nil
		}
	}
	ln, err := net.Listen("tcp", net.JoinHostPort(host, "0"))
	if err != nil {
		return 0, fmt.Errorf("pick a free port on %s: %w", host, err)
	}
	defer ln.Close()
	return ln.Addr().(*net.TCPAddr).Port, nil
}

func isAddrInUse(err error) bool {
	return errors.Is(err, syscall.EADDRINUSE)
}

func hostPort(host string, port int) string {
	return net.JoinHostPort(host, strconv.Itoa(port))
}
