package main

import (
	"context"
	"fmt"
	"log/slog"
	"os"
	"time"

	"github.com/redis/go-redis/v9"
	"go.mongodb.org/mongo-driver/v2/mongo"
	enumspb "go.temporal.io/api/enums/v1"
	"go.temporal.io/sdk/client"

	"github.com/optio-temporal/optio/internal/telemetry"
	"github.com/optio-temporal/optio/rpc"
)

// defaultDevMetricsAddr is where dev mode serves metrics and health unless
// -metrics-addr says otherwise ("off" turns them off).
const defaultDevMetricsAddr = "127.0.0.1:9464"

// workerIdentity names this process's Temporal pollers, so that readiness
// can tell its own pollers from other workers'.
func workerIdentity() string {
	host, _ := os.Hostname()
	return fmt.Sprintf("%d@%s@optio-worker", os.Getpid(), host)
}

// pollerFresh is how recently a poller of ours must have polled: a long poll
// lasts up to a minute.
const pollerFresh = 90 * time.Second

// readinessChecks are /readyz's checks: Temporal, Mongo and Redis answer, and
// this worker polls the shared task queue.
func readinessChecks(tc client.Client, mc *mongo.Client, rdb *redis.Client, taskQueue, identity string) []telemetry.Check {
	return []telemetry.Check{
		{Name: "temporal", Run: func(ctx context.Context) error {
			_, err := tc.CheckHealth(ctx, &client.CheckHealthRequest{})
			return err
		}},
		{Name: "mongo", Run: func(ctx context.Context) error { return mc.Ping(ctx, nil) }},
		{Name: "redis", Run: func(ctx context.Context) error { return rdb.Ping(ctx).Err() }},
		{Name: "workers", Run: func(ctx context.Context) error {
			resp, err := tc.DescribeTaskQueue(ctx, taskQueue, enumspb.TASK_QUEUE_TYPE_WORKFLOW)
			if err != nil {
				return err
			}
			for _, p := range resp.GetPollers() {
				if p.GetIdentity() == identity && time.Since(p.GetLastAccessTime().AsTime()) < pollerFresh {
					return nil
				}
			}
			return fmt.Errorf("no poller of this worker on task queue %s", taskQueue)
		}},
	}
}

// newHealthRedis is /readyz's Redis client: no retries and short timeouts,
// so that a Redis that went away shows within a check.
func newHealthRedis(url string, tlsCfg rpc.RedisTLS) (*redis.Client, error) {
	opts, err := rpc.RedisOptions(url, tlsCfg)
	if err != nil {
		return nil, err
	}
	opts.MaxRetries = -1
	opts.DialTimeout = telemetry.CheckTimeout
	opts.ReadTimeout = telemetry.CheckTimeout
	opts.PoolSize = 2
	return redis.NewClient(opts), nil
}

// startTracing turns on OpenTelemetry tracing when the standard
// OTEL_EXPORTER_OTLP_* variables name an endpoint (telemetry.TracingFromEnv);
// nil when they do not.
func startTracing(ctx context.Context, logger *slog.Logger) (*telemetry.Tracing, error) {
	tracing, err := telemetry.TracingFromEnv(ctx)
	if err != nil || tracing == nil {
		return nil, err
	}
	logger.Info("tracing on", "exporter", tracing.String())
	return tracing, nil
}

// stopTracing sends the spans still buffered, for a few seconds at most.
func stopTracing(tracing *telemetry.Tracing, logger *slog.Logger) {
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	if err := tracing.Shutdown(ctx); err != nil {
		logger.Warn("tracing: spans not sent at shutdown", "error", err)
	}
}
