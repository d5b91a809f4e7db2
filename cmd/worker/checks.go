package main

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"time"

	"github.com/redis/go-redis/v9"
	"go.temporal.io/api/serviceerror"
	"go.temporal.io/api/workflowservice/v1"
	"go.temporal.io/sdk/client"

	"github.com/optio-temporal/optio/rpc"
)

// serviceCheckTimeout bounds each start-up check of a service.
const serviceCheckTimeout = 10 * time.Second

// checkTemporal makes sure the namespace exists: the engine would otherwise
// fail later, part-way through its start-up.
func checkTemporal(ctx context.Context, tc client.Client, namespace, address string) error {
	ctx, cancel := context.WithTimeout(ctx, serviceCheckTimeout)
	defer cancel()
	_, err := tc.WorkflowService().DescribeNamespace(ctx, &workflowservice.DescribeNamespaceRequest{Namespace: namespace})
	var missing *serviceerror.NamespaceNotFound
	if errors.As(err, &missing) {
		return fmt.Errorf("namespace %q does not exist on the Temporal server at %s: create it, or pass -namespace", namespace, address)
	}
	if err != nil {
		return fmt.Errorf("check namespace %q on the Temporal server at %s: %w", namespace, address, err)
	}
	return nil
}

// checkRedis parses url and sends PING, so that a malformed or unreachable
// Redis, a wrong password or a failed TLS handshake stops the worker before
// the engine syncs tasks or polls the shared task queue.
func checkRedis(ctx context.Context, url string, tlsCfg rpc.RedisTLS) error {
	if url == "" {
		return nil
	}
	opts, err := rpc.RedisOptions(url, tlsCfg)
	if err != nil {
		return fmt.Errorf("-redis-url: %w", err)
	}
	opts.DialTimeout = serviceCheckTimeout
	rdb := redis.NewClient(opts)
	defer rdb.Close()
	ctx, cancel := context.WithTimeout(ctx, serviceCheckTimeout)
	defer cancel()
	if err := rpc.PingRedis(ctx, rdb); err != nil {
		return fmt.Errorf("-redis-url: %w", err)
	}
	return nil
}

// redisLog hands go-redis's internal log lines to slog at debug level.
type redisLog struct{ log *slog.Logger }

func (l redisLog) Printf(_ context.Context, format string, v ...any) {
	l.log.Debug("go-redis: " + fmt.Sprintf(format, v...))
}
