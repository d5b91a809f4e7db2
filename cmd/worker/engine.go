package main

import (
	"context"
	"log/slog"

	"go.mongodb.org/mongo-driver/v2/mongo"
	"go.temporal.io/sdk/client"
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
	Prefix   string
	DB       string
	// Launch lists the process IDs to launch once the engine is up.
	Launch []string
	Logger *slog.Logger
}

// runEngine runs the optio engine with the demo task set until ctx is
// cancelled, then shuts it down. main owns the services in deps and closes
// them after runEngine returns.
//
// The engine is not wired in yet, so for now the worker only brings the
// services up and waits. Wiring it is this function's body alone, roughly:
//
//	eng, err := adapter.New(ctx, adapter.Config{
//		Temporal: deps.Temporal, Namespace: deps.Namespace, Mongo: deps.Mongo,
//		Prefix: deps.Prefix, RedisURL: deps.RedisURL,
//		TaskDefinitions: demo.Definitions, Logger: deps.Logger,
//	})
//	launch deps.Launch; eng.Run(ctx); eng.Shutdown(...)
func runEngine(ctx context.Context, deps engineDeps) error {
	if len(deps.Launch) > 0 {
		deps.Logger.Warn("-launch is not honoured yet: the engine is not wired into the worker", "ids", deps.Launch)
	}
	deps.Logger.Info("services are up; the engine is not wired in yet, waiting for a signal")
	<-ctx.Done()
	return nil
}
