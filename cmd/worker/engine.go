package main

import (
	"context"
	"fmt"
	"log/slog"

	"go.mongodb.org/mongo-driver/v2/mongo"
	"go.temporal.io/sdk/client"

	"github.com/optio-temporal/optio/adapter"
	"github.com/optio-temporal/optio/internal/demo"
	"github.com/optio-temporal/optio/rpc"
	"github.com/optio-temporal/optio/rpc/engineservice"
)

// engineDeps is everything the engine gets from main, the same whether the
// services are embedded (dev mode) or external (production).
type engineDeps struct {
	// Temporal is connected to Namespace.
	Temporal  client.Client
	Namespace string
	// Mongo is the database named DB.
	Mongo *mongo.Database
	// RedisURL is never empty: dev mode always has a Redis.
	RedisURL string
	RedisTLS rpc.RedisTLS
	Prefix   string
	DB       string
	// Launch lists the process IDs to launch once the engine is up.
	Launch []string
	// CreateSearchAttributes is adapter.Config's.
	CreateSearchAttributes bool
	Logger                 *slog.Logger
	// Metrics receives the engine's measurements; nil records none.
	Metrics adapter.Metrics
	// Ready is called with the engine once it is up.
	Ready func(*adapter.Engine)
}

// runEngine runs the optio engine with the demo task set until ctx is
// cancelled, then shuts it down: the optio-engine service over Redis stops
// taking calls first, then the bodies are drained and the workers stop. main
// owns the services in deps and closes them after runEngine returns.
func runEngine(ctx context.Context, deps engineDeps) error {
	eng, err := adapter.New(ctx, adapter.Config{
		Temporal:        deps.Temporal,
		Namespace:       deps.Namespace,
		Mongo:           deps.Mongo,
		Prefix:          deps.Prefix,
		RPC:             engineservice.RedisWithTLS(deps.RedisURL, deps.RedisTLS),
		TaskDefinitions: demo.Definitions,
		Logger:          deps.Logger,
		Metrics:         deps.Metrics,

		CreateSearchAttributes: deps.CreateSearchAttributes,
	})
	if err != nil {
		return fmt.Errorf("start engine: %w", err)
	}
	if deps.Ready != nil {
		deps.Ready(eng)
	}
	for _, id := range deps.Launch {
		out, err := eng.Launch(ctx, id)
		switch {
		case err != nil:
			deps.Logger.Error("launch failed", "process", id, "error", err)
		case !out.OK:
			deps.Logger.Warn("launch refused", "process", id, "reason", out.Reason)
		default:
			deps.Logger.Info("launched", "process", id, "workflowId", eng.WorkflowID(out.Process.ProcessID))
		}
	}
	return eng.Run(ctx)
}
