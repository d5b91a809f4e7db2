package engineservice_test

import (
	"context"
	"errors"
	"log"

	"github.com/redis/go-redis/v9"
	"go.mongodb.org/mongo-driver/v2/mongo"
	"go.mongodb.org/mongo-driver/v2/mongo/options"
	"go.temporal.io/sdk/client"

	"github.com/optio-temporal/optio/adapter"
	"github.com/optio-temporal/optio/rpc"
	"github.com/optio-temporal/optio/rpc/engineapi"
	"github.com/optio-temporal/optio/rpc/engineservice"
)

type greetParams struct {
	Name string `json:"name"`
}

type greeting struct {
	Text string `json:"text"`
}

// With Config.RPC set to a Redis face, Run serves the optio-engine service
// (launch, cancel, dismiss, groupCancel, blockLaunches, ... and the resync
// notification) over clamator RPC under the key prefix "{db}/{prefix}", the
// way optio-core does, so optio-api and any clamator client drive the engine
// unchanged; it also keeps the heartbeat key optio-api's discovery looks
// for. An application registers services of its own on the same server
// before Run. Engines sharing a Redis, database and prefix form a worker
// pool: each call is answered by one of them.
//
// This example needs Temporal, MongoDB and Redis on their default local
// ports, as cmd/worker's dev mode provides.
func ExampleFace_Server() {
	ctx := context.Background()
	tc, err := client.Dial(client.Options{HostPort: "127.0.0.1:7233"})
	if err != nil {
		log.Fatal(err)
	}
	defer tc.Close()
	mc, err := mongo.Connect(options.Client().ApplyURI("mongodb://127.0.0.1:27017"))
	if err != nil {
		log.Fatal(err)
	}
	defer func() { _ = mc.Disconnect(ctx) }()

	face := engineservice.Redis("redis://127.0.0.1:6379/0")
	eng, err := adapter.New(ctx, adapter.Config{
		Temporal: tc,
		Mongo:    mc.Database("optio_demo"),
		RPC:      face,
		TaskDefinitions: func(context.Context, map[string]any, map[string]any) ([]adapter.TaskInstance, error) {
			return []adapter.TaskInstance{{ProcessID: "nightly", Name: "Nightly", Execute: func(pc *adapter.ProcessContext) error {
				pc.ReportProgress(100, "done")
				return nil
			}}}, nil
		},
	})
	if err != nil {
		log.Fatal(err)
	}
	// An application service next to optio-engine, before Run.
	err = face.Server().Register(rpc.Service{Name: "greeter", Methods: []rpc.Method{{
		Name: "greet",
		Handler: rpc.Typed(func(_ context.Context, p greetParams) (greeting, error) {
			return greeting{Text: "hello " + p.Name}, nil
		}),
	}}})
	if err != nil {
		log.Fatal(err)
	}
	go func() { _ = eng.Run(ctx) }()
	<-face.Ready()

	// Elsewhere: a clamator client with the same key prefix, and the
	// contract's typed client on it.
	rdb := redis.NewClient(&redis.Options{Addr: "127.0.0.1:6379"})
	defer rdb.Close()
	c, err := rpc.NewClient(rdb, rpc.ClientOptions{KeyPrefix: engineapi.KeyPrefix("optio_demo", "optio")})
	if err != nil {
		log.Fatal(err)
	}
	defer c.Close()

	doc, err := engineapi.NewClient(c).Launch(ctx, engineapi.LaunchParams{ProcessID: "nightly"})
	switch {
	case errors.Is(err, adapter.ReasonNotLaunchable):
		log.Println("already running")
	case err != nil:
		log.Fatal(err)
	default:
		log.Println("launched:", string(doc))
	}

	var g greeting
	if err := c.Call(ctx, "greeter", "greet", greetParams{Name: "optio"}, &g); err != nil {
		log.Fatal(err)
	}
	log.Println(g.Text)
}
