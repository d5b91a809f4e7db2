package devstack

import (
	"context"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"log/slog"
	"net"
	"net/http"
	"sync"
	"time"

	"github.com/labstack/echo/v4"
	"github.com/labstack/echo/v4/middleware"
	"github.com/temporalio/ui-server/v2/server/api"
	"github.com/temporalio/ui-server/v2/server/auth"
	"github.com/temporalio/ui-server/v2/server/config"
	"github.com/temporalio/ui-server/v2/server/cors"
	"github.com/temporalio/ui-server/v2/server/csrf"
	"github.com/temporalio/ui-server/v2/server/headers"
	"github.com/temporalio/ui-server/v2/server/route"
	"github.com/temporalio/ui-server/v2/ui"
	"go.temporal.io/api/workflowservice/v1"
	"google.golang.org/grpc"
)

// UIConfig configures [StartUI].
type UIConfig struct {
	// Host is the address the UI binds to. Default [DefaultHost].
	Host string
	// Port is the HTTP port. 0 picks a free port.
	Port int
	// TemporalHostPort is the frontend the UI talks to, e.g.
	// Temporal.HostPort(). Required.
	TemporalHostPort string
	// Namespace is the namespace the UI opens on. Default [DefaultNamespace].
	Namespace string
	// Logger receives lifecycle and error logs. Default slog.Default().
	Logger *slog.Logger
}

// UI is the Temporal Web UI (github.com/temporalio/ui-server/v2, assets
// embedded in the binary) served in-process.
//
// The server is assembled here from the ui-server's own routes and
// middleware instead of through its Server type, because that type exits the
// process when it cannot bind its port and never closes its connection to
// Temporal; here a busy port is an error and Stop releases everything.
type UI struct {
	addr   string
	http   *http.Server
	conn   *grpc.ClientConn
	served chan struct{}

	stopOnce sync.Once
	stopErr  error
}

// StartUI starts the Web UI and returns once it accepts connections. A Port
// already in use gives a *PortInUseError.
func StartUI(ctx context.Context, cfg UIConfig) (*UI, error) {
	if cfg.TemporalHostPort == "" {
		return nil, errors.New("ui: TemporalHostPort is required")
	}
	if cfg.Host == "" {
		cfg.Host = DefaultHost
	}
	if cfg.Namespace == "" {
		cfg.Namespace = DefaultNamespace
	}
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	logger := orDefault(cfg.Logger).With("part", PartUI)

	ln, err := listen(PartUI, cfg.Host, cfg.Port)
	if err != nil {
		return nil, err
	}
	port := ln.Addr().(*net.TCPAddr).Port

	uiCfg := &config.Config{
		TemporalGRPCAddress: cfg.TemporalHostPort,
		Host:                cfg.Host,
		Port:                port,
		EnableUI:            true,
		DefaultNamespace:    cfg.Namespace,
		// A dev stack runs offline and over plain HTTP.
		CORS:             config.CORS{CookieInsecure: true},
		HideLogs:         true,
		DisableNewsFetch: true,
	}
	// A zero RefreshInterval means no refresh goroutine is started.
	provider, err := config.NewConfigProviderWithRefresh(uiCfg)
	if err != nil {
		_ = ln.Close()
		return nil, fmt.Errorf("ui: config: %w", err)
	}
	conn, err := api.CreateGRPCConnection(provider)
	if err != nil {
		_ = ln.Close()
		return nil, fmt.Errorf("ui: connect to Temporal at %s: %w", cfg.TemporalHostPort, err)
	}
	e, err := newUIHandler(provider, conn)
	if err != nil {
		_ = ln.Close()
		_ = conn.Close()
		return nil, err
	}

	u := &UI{
		addr: hostPort(cfg.Host, port),
		http: &http.Server{
			Handler:           e,
			ReadHeaderTimeout: 10 * time.Second,
			ErrorLog:          slog.NewLogLogger(logger.Handler(), slog.LevelWarn),
		},
		conn:   conn,
		served: make(chan struct{}),
	}
	go func() {
		defer close(u.served)
		if err := u.http.Serve(ln); err != nil && !errors.Is(err, http.ErrServerClosed) {
			logger.Error("web UI stopped serving", "err", err)
		}
	}()
	return u, nil
}

// newUIHandler wires the ui-server's middleware and routes the way its own
// server does for a configuration without auth or TLS, using conn for the
// API routes so that Stop can close it.
func newUIHandler(provider *config.ConfigProviderWithRefresh, conn *grpc.ClientConn) (*echo.Echo, error) {
	cfg, err := provider.GetConfig()
	if err != nil {
		return nil, fmt.Errorf("ui: config: %w", err)
	}
	e := echo.New()
	e.HideBanner = true
	e.HidePort = true
	e.Logger.SetOutput(io.Discard)

	e.Use(middleware.Recover())
	e.Use(middleware.Gzip())
	e.Use(cors.CORSMiddleware(cors.CORSConfig{
		AllowHeaders: []string{
			echo.HeaderOrigin, echo.HeaderContentType, echo.HeaderAccept,
			echo.HeaderXCSRFToken, echo.HeaderAuthorization, auth.AuthorizationExtrasHeader,
			"Caller-Type",
		},
		AllowCredentials: true,
		ConfigProvider:   provider,
	}))
	e.Use(middleware.Secure())
	cookieSecure := !cfg.CORS.CookieInsecure
	e.Use(csrf.EnsureTokenCookie(cookieSecure))
	e.Use(middleware.CSRFWithConfig(csrf.MiddlewareConfig(provider, cookieSecure)))
	e.Pre(route.PublicPath(cfg.PublicPath))

	route.SetHealthRoute(e)

	apiMiddleware := []api.Middleware{
		headers.WithForwardHeaders([]string{auth.AuthorizationExtrasHeader, "Caller-Type"}),
	}
	writes := route.DisableWriteMiddleware(provider)
	v1 := e.Group("/api/v1")
	v1.GET("/settings", api.GetSettings(provider))
	v1.GET("/ui-extensions", api.GetUIExtensions(provider, api.TemporalAccessCheck(conn, apiMiddleware)))
	v1.GET(api.WorkflowRawHistoryUrl, api.WorkflowRawHistoryHandler(workflowservice.NewWorkflowServiceClient(conn)), writes)
	v1.Match([]string{http.MethodGet, http.MethodPost, http.MethodPut, http.MethodPatch, http.MethodDelete},
		"/*", api.TemporalAPIHandler(provider, apiMiddleware, conn), writes)

	assets, err := ui.Assets()
	if err != nil {
		return nil, fmt.Errorf("ui: embedded assets: %w", err)
	}
	assets, err = fs.Sub(assets, "local")
	if err != nil {
		return nil, fmt.Errorf("ui: embedded assets: %w", err)
	}
	if err := route.SetUIRoutes(e, cfg.PublicPath, assets, provider); err != nil {
		return nil, fmt.Errorf("ui: routes: %w", err)
	}
	route.SetRenderRoute(e, "/")
	return e, nil
}

// Addr returns the UI's "host:port".
func (u *UI) Addr() string { return u.addr }

// URL returns the address to open in a browser, e.g. "http://127.0.0.1:8233".
func (u *UI) URL() string { return "http://" + u.addr }

// Stop closes the listener, lets requests in flight finish for up to five
// seconds, and closes the UI's connection to Temporal. Calling it again does
// nothing and returns the first call's result.
func (u *UI) Stop() error {
	u.stopOnce.Do(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		err := u.http.Shutdown(ctx)
		if err != nil {
			err = errors.Join(err, u.http.Close())
		}
		<-u.served
		u.stopErr = errors.Join(err, u.conn.Close())
	})
	return u.stopErr
}
