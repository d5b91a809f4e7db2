package telemetry

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"strings"
	"sync"
	"time"

	"github.com/prometheus/client_golang/prometheus/promhttp"
)

// Check is one readiness check: nil when the dependency is usable.
type Check struct {
	// Name appears in /readyz's body ("redis", "mongo", ...).
	Name string
	// Run checks; it must return within its context's deadline.
	Run func(ctx context.Context) error
}

// CheckTimeout bounds each readiness check of one /readyz request.
const CheckTimeout = 2 * time.Second

// Server serves /metrics, /healthz and /readyz on one listener.
type Server struct {
	srv  *http.Server
	ln   net.Listener
	done chan struct{}

	mu     sync.Mutex
	checks []Check
}

// Listen starts serving on addr ("host:port"; port 0 picks a free one).
// metrics may be nil (no /metrics). Readiness checks are added with
// AddChecks; until then /readyz answers 503.
func Listen(addr string, metrics *Metrics, log *slog.Logger) (*Server, error) {
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		return nil, fmt.Errorf("metrics listener on %s: %w", addr, err)
	}
	s := &Server{ln: ln, done: make(chan struct{})}
	mux := http.NewServeMux()
	if metrics != nil {
		mux.Handle("GET /metrics", promhttp.HandlerFor(metrics.Registry(), promhttp.HandlerOpts{Registry: metrics.Registry()}))
	}
	mux.HandleFunc("GET /healthz", func(w http.ResponseWriter, _ *http.Request) { fmt.Fprintln(w, "ok") })
	mux.HandleFunc("GET /readyz", s.readyz)
	s.srv = &http.Server{Handler: mux, ReadHeaderTimeout: 5 * time.Second}
	go func() {
		defer close(s.done)
		if err := s.srv.Serve(ln); err != nil && !errors.Is(err, http.ErrServerClosed) {
			log.Error("metrics listener stopped", "error", err)
		}
	}()
	return s, nil
}

// Addr returns the address the server listens on.
func (s *Server) Addr() string { return s.ln.Addr().String() }

// AddChecks adds readiness checks.
func (s *Server) AddChecks(checks ...Check) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.checks = append(s.checks, checks...)
}

// readyz runs every check at once and answers 200 when all pass, else 503;
// the body has one line per check.
func (s *Server) readyz(w http.ResponseWriter, r *http.Request) {
	s.mu.Lock()
	checks := append([]Check(nil), s.checks...)
	s.mu.Unlock()
	if len(checks) == 0 {
		http.Error(w, "starting", http.StatusServiceUnavailable)
		return
	}
	ctx, cancel := context.WithTimeout(r.Context(), CheckTimeout)
	defer cancel()
	errs := make([]error, len(checks))
	var wg sync.WaitGroup
	for i, c := range checks {
		wg.Go(func() { errs[i] = c.Run(ctx) })
	}
	wg.Wait()
	var b strings.Builder
	status := http.StatusOK
	for i, c := range checks {
		if errs[i] != nil {
			status = http.StatusServiceUnavailable
			fmt.Fprintf(&b, "%s: %v\n", c.Name, errs[i])
		} else {
			fmt.Fprintf(&b, "%s: ok\n", c.Name)
		}
	}
	w.Header().Set("Content-Type", "text/plain; charset=utf-8")
	w.WriteHeader(status)
	_, _ = w.Write([]byte(b.String()))
}

// Close stops the server.
func (s *Server) Close(ctx context.Context) error {
	err := s.srv.Shutdown(ctx)
	<-s.done
	return err
}
