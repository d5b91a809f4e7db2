package redisserver

import (
	"bufio"
	"bytes"
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"os/exec"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"time"
)

// binary is the executable looked up on PATH.
const binary = "redis-server"

const (
	// stopTimeout is how long Stop waits after SIGTERM before it sends SIGKILL.
	stopTimeout = 5 * time.Second
	// readyTimeout bounds how long Start waits for PING when ctx has no deadline.
	readyTimeout = 15 * time.Second
	// logTail is how many lines of server output are kept for error messages.
	logTail = 20
)

// Available reports whether a redis-server binary is on PATH.
func Available() bool {
	_, err := exec.LookPath(binary)
	return err == nil
}

// Options configures Start.
type Options struct {
	// Host is the address the server binds to. Default "127.0.0.1".
	Host string
	// Port is the TCP port. 0 (the default) picks a free port.
	Port int
	// Dir is the working directory for persistence. Empty (the default)
	// disables persistence (save "", appendonly no); otherwise the server
	// keeps an append-only file in Dir.
	Dir string
	// Logger receives the server's output at debug level and lifecycle
	// events at info level. Default slog.Default().
	Logger *slog.Logger
	// Supervise restarts the server whenever it exits on its own (a crash,
	// an OOM kill, a kill -9 from outside), on the same address and Dir,
	// after a backoff that starts at 100 ms and doubles up to 5 s (reset
	// once a restarted server has stayed up for a minute). Stop and Kill
	// are not exits on its own: the server stays down after them.
	Supervise bool
	// TLS, when set, makes Port a TLS port (and the server listens on no
	// plaintext one); URL then starts with rediss://.
	TLS *TLS
	// Users are ACL users created at start, each allowed every command on
	// every key. With any, the default user is turned off, so that every
	// connection must log in (redis://user:password@host).
	Users []User
}

// TLS is a server certificate for Options.TLS.
type TLS struct {
	// CertFile and KeyFile are the server's PEM certificate and key.
	CertFile, KeyFile string
	// CAFile is the PEM CA redis-server is configured with; clients are not
	// asked for certificates (tls-auth-clients no).
	CAFile string
}

// User is an ACL user of Options.Users.
type User struct {
	Name, Password string
}

// Backoff of a supervised server's restarts.
const (
	minRestartDelay = 100 * time.Millisecond
	maxRestartDelay = 5 * time.Second
	stableUptime    = time.Minute
)

// Server is a running (or stopped) redis-server child process. Its methods
// are safe for concurrent use.
type Server struct {
	host   string
	port   int
	dir    string
	logger *slog.Logger

	supervise bool
	tls       *TLS
	users     []User

	mu   sync.Mutex
	proc *process // nil when not running
	// closed ends supervision for good (Stop).
	closed   chan struct{}
	closeOne sync.Once
	restarts int
}

// process is one incarnation of the child; Restart creates a new one.
type process struct {
	cmd  *exec.Cmd
	done chan struct{} // closed once the child has been reaped
	tail *tailBuffer
}

// Start launches redis-server and returns once it answers PING. If the port
// is already in use, the error says so.
func Start(ctx context.Context, opts Options) (*Server, error) {
	if !Available() {
		return nil, fmt.Errorf("redisserver: %s not found on PATH", binary)
	}
	s := &Server{host: opts.Host, port: opts.Port, dir: opts.Dir, logger: opts.Logger, supervise: opts.Supervise, tls: opts.TLS, users: opts.Users, closed: make(chan struct{})}
	if s.host == "" {
		s.host = "127.0.0.1"
	}
	if s.logger == nil {
		s.logger = slog.Default()
	}
	if opts.Port != 0 {
		if err := s.start(ctx); err != nil {
			return nil, err
		}
		return s, nil
	}
	// A port picked as free can be taken by someone else before the child
	// binds it, so a picked port gets a few tries.
	var err error
	for range 3 {
		if s.port, err = freePort(s.host); err != nil {
			return nil, err
		}
		if err = s.start(ctx); err == nil {
			return s, nil
		}
		if ctx.Err() != nil {
			break
		}
	}
	return nil, err
}

// Addr returns the server's "host:port".
func (s *Server) Addr() string {
	return net.JoinHostPort(s.host, strconv.Itoa(s.port))
}

// URL returns a redis:// URL for database 0, rediss:// with TLS; it names
// no user.
func (s *Server) URL() string {
	if s.tls != nil {
		return "rediss://" + s.Addr() + "/0"
	}
	return "redis://" + s.Addr() + "/0"
}

// Stop sends SIGTERM, waits for the server to exit and sends SIGKILL if it
// has not exited after a few seconds. Stopping a stopped server does nothing.
func (s *Server) Stop() error {
	s.closeOne.Do(func() { close(s.closed) })
	return s.halt()
}

// halt stops the current incarnation, as Stop does, leaving supervision on.
func (s *Server) halt() error {
	s.mu.Lock()
	defer s.mu.Unlock()
	p := s.proc
	if p == nil {
		return nil
	}
	s.proc = nil
	if err := p.signal(syscall.SIGTERM); err != nil {
		return err
	}
	select {
	case <-p.done:
		s.logger.Info("redis-server stopped", "addr", s.Addr())
		return nil
	case <-time.After(stopTimeout):
	}
	if err := p.signal(syscall.SIGKILL); err != nil {
		return err
	}
	<-p.done
	return fmt.Errorf("redisserver: %s did not exit within %s of SIGTERM; killed", s.Addr(), stopTimeout)
}

// Kill sends SIGKILL and waits for the process to die, simulating a crash.
// Killing a stopped server does nothing.
func (s *Server) Kill() error {
	s.mu.Lock()
	defer s.mu.Unlock()
	p := s.proc
	if p == nil {
		return nil
	}
	s.proc = nil
	if err := p.signal(syscall.SIGKILL); err != nil {
		return err
	}
	<-p.done
	s.logger.Info("redis-server killed", "addr", s.Addr())
	return nil
}

// Restart starts the server again on the same address, stopping it first if
// it is still running. With a Dir, the data written before survives.
func (s *Server) Restart(ctx context.Context) error {
	if err := s.halt(); err != nil {
		return err
	}
	return s.start(ctx)
}

// PID returns the child's process id, or 0 when it is not running.
func (s *Server) PID() int { return s.pid() }

// Restarts returns how many times supervision has restarted the server.
func (s *Server) Restarts() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.restarts
}

// pid returns the child's process id, or 0 when it is not running.
func (s *Server) pid() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.proc == nil {
		return 0
	}
	return s.proc.cmd.Process.Pid
}

func (s *Server) start(ctx context.Context) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.proc != nil {
		return fmt.Errorf("redisserver: %s is already running", s.Addr())
	}
	// redis-server would only say so in its log; checking first gives the
	// caller a clear error.
	ln, err := net.Listen("tcp", s.Addr())
	if err != nil {
		return fmt.Errorf("redisserver: %s already in use: %w", s.Addr(), err)
	}
	_ = ln.Close()

	args := []string{
		"--bind", s.host,
		"--daemonize", "no",
		"--logfile", "",
		"--loglevel", "warning",
		"--save", "",
	}
	if s.tls != nil {
		args = append(args, "--port", "0", "--tls-port", strconv.Itoa(s.port),
			"--tls-cert-file", s.tls.CertFile, "--tls-key-file", s.tls.KeyFile,
			"--tls-ca-cert-file", s.tls.CAFile, "--tls-auth-clients", "no")
	} else {
		args = append(args, "--port", strconv.Itoa(s.port))
	}
	for _, u := range s.users {
		// One argument per ACL rule: redis-server quotes an argument that
		// holds spaces into a single token.
		args = append(args, "--user", u.Name, "on", ">"+u.Password, "~*", "&*", "+@all")
	}
	if len(s.users) > 0 {
		args = append(args, "--user", "default", "off")
	}
	if s.dir == "" {
		args = append(args, "--appendonly", "no")
	} else {
		args = append(args, "--dir", s.dir, "--appendonly", "yes")
	}
	cmd := exec.Command(binary, args...)
	cmd.SysProcAttr = sysProcAttr()
	out, err := cmd.StdoutPipe()
	if err != nil {
		return fmt.Errorf("redisserver: %w", err)
	}
	cmd.Stderr = cmd.Stdout
	if err := cmd.Start(); err != nil {
		return fmt.Errorf("redisserver: start %s: %w", binary, err)
	}
	p := &process{cmd: cmd, done: make(chan struct{}), tail: &tailBuffer{}}
	go func() {
		p.copyOutput(out, s.logger.With("addr", s.Addr()))
		_ = cmd.Wait()
		close(p.done)
	}()

	if err := waitReady(ctx, s.Addr(), s.tls != nil, p.done); err != nil {
		_ = p.signal(syscall.SIGKILL)
		<-p.done
		if tail := p.tail.String(); tail != "" {
			err = fmt.Errorf("%w; server output:\n%s", err, tail)
		}
		return fmt.Errorf("redisserver: %s: %w", s.Addr(), err)
	}
	s.proc = p
	s.logger.Info("redis-server started", "addr", s.Addr(), "pid", cmd.Process.Pid)
	if s.supervise {
		go s.watch(p)
	}
	return nil
}

// watch restarts the server when the incarnation p exits while it is still
// the current one (Stop and Kill clear it first), until Stop.
func (s *Server) watch(p *process) {
	began := time.Now()
	select {
	case <-p.done:
	case <-s.closed:
		return
	}
	s.mu.Lock()
	current := s.proc == p
	if current {
		s.proc = nil
	}
	s.mu.Unlock()
	if !current {
		return
	}
	delay := minRestartDelay
	if time.Since(began) < stableUptime {
		delay = min(maxRestartDelay, minRestartDelay<<min(s.Restarts(), 6))
	}
	s.logger.Warn("redis-server exited on its own; restarting it", "addr", s.Addr(), "after", delay, "output", p.tail.String())
	for {
		select {
		case <-s.closed:
			return
		case <-time.After(delay):
		}
		ctx, cancel := context.WithTimeout(context.Background(), readyTimeout)
		err := s.start(ctx)
		cancel()
		if err == nil {
			s.mu.Lock()
			s.restarts++
			s.mu.Unlock()
			return // the new incarnation has a watcher of its own
		}
		delay = min(maxRestartDelay, 2*delay)
		s.logger.Error("restarting redis-server failed; trying again", "addr", s.Addr(), "after", delay, "error", err)
	}
}

// signal sends sig to the child's process group, which also reaches any
// child redis forked for a background save.
func (p *process) signal(sig syscall.Signal) error {
	select {
	case <-p.done:
		return nil
	default:
	}
	err := syscall.Kill(-p.cmd.Process.Pid, sig)
	if err != nil && !errors.Is(err, syscall.ESRCH) {
		return fmt.Errorf("redisserver: signal %v: %w", sig, err)
	}
	return nil
}

func (p *process) copyOutput(r io.Reader, logger *slog.Logger) {
	sc := bufio.NewScanner(r)
	for sc.Scan() {
		line := sc.Text()
		p.tail.add(line)
		logger.Debug("redis-server", "line", line)
	}
}

// waitReady polls PING until the server answers, it exits, or ctx ends.
func waitReady(ctx context.Context, addr string, overTLS bool, exited <-chan struct{}) error {
	if _, ok := ctx.Deadline(); !ok {
		var cancel context.CancelFunc
		ctx, cancel = context.WithTimeout(ctx, readyTimeout)
		defer cancel()
	}
	tick := time.NewTicker(10 * time.Millisecond)
	defer tick.Stop()
	for {
		if ping(addr, overTLS) == nil {
			return nil
		}
		select {
		case <-exited:
			return errors.New("redis-server exited before it answered PING")
		case <-ctx.Done():
			return fmt.Errorf("waiting for PING: %w", ctx.Err())
		case <-tick.C:
		}
	}
}

// ping sends an inline PING and expects +PONG, or -NOAUTH from a server
// whose connections must log in, so this package needs no Redis client.
// Over TLS it does not verify the server: it only waits for it.
func ping(addr string, overTLS bool) error {
	var conn net.Conn
	var err error
	if overTLS {
		conn, err = tls.DialWithDialer(&net.Dialer{Timeout: 200 * time.Millisecond}, "tcp", addr, &tls.Config{InsecureSkipVerify: true})
	} else {
		conn, err = net.DialTimeout("tcp", addr, 200*time.Millisecond)
	}
	if err != nil {
		return err
	}
	defer conn.Close()
	_ = conn.SetDeadline(time.Now().Add(500 * time.Millisecond))
	if _, err := conn.Write([]byte("PING\r\n")); err != nil {
		return err
	}
	line, err := bufio.NewReader(conn).ReadString('\n')
	if err != nil {
		return err
	}
	if line = strings.TrimSpace(line); line != "+PONG" && !strings.HasPrefix(line, "-NOAUTH") {
		return fmt.Errorf("unexpected PING reply %q", line)
	}
	return nil
}

func freePort(host string) (int, error) {
	ln, err := net.Listen("tcp", net.JoinHostPort(host, "0"))
	if err != nil {
		return 0, fmt.Errorf("redisserver: pick a free port: %w", err)
	}
	defer ln.Close()
	return ln.Addr().(*net.TCPAddr).Port, nil
}

// tailBuffer keeps the last logTail lines of output.
type tailBuffer struct {
	mu    sync.Mutex
	lines []string
}

func (b *tailBuffer) add(line string) {
	b.mu.Lock()
	defer b.mu.Unlock()
	b.lines = append(b.lines, line)
	if len(b.lines) > logTail {
		b.lines = b.lines[len(b.lines)-logTail:]
	}
}

func (b *tailBuffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	var buf bytes.Buffer
	for _, l := range b.lines {
		buf.WriteString(l)
		buf.WriteByte('\n')
	}
	return strings.TrimRight(buf.String(), "\n")
}
