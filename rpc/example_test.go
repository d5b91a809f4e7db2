package rpc_test

import (
	"context"
	"errors"
	"fmt"
	"log"

	"github.com/redis/go-redis/v9"

	"github.com/optio-temporal/optio/rpc"
)

// AddParams are the params of arith.add.
type AddParams struct {
	A float64 `json:"a"`
	B float64 `json:"b"`
}

// Sum is the result of arith.add.
type Sum struct {
	Sum float64 `json:"sum"`
}

// A server with one service and a client calling it. The example needs a
// Redis server on localhost:6379, so it is compiled but not run.
func Example() {
	ctx := context.Background()
	rdb := redis.NewClient(&redis.Options{Addr: "localhost:6379"})
	defer rdb.Close()

	srv, err := rpc.NewServer(rdb, rpc.ServerOptions{KeyPrefix: "example/optio"})
	if err != nil {
		log.Fatal(err)
	}
	err = srv.Register(rpc.Service{Name: "arith", Methods: []rpc.Method{
		{Name: "add", Handler: rpc.Typed(func(_ context.Context, p AddParams) (Sum, error) {
			return Sum{Sum: p.A + p.B}, nil
		})},
		{Name: "divide", Handler: rpc.Typed(func(_ context.Context, p AddParams) (Sum, error) {
			if p.B == 0 {
				return Sum{}, &rpc.Error{Code: -32001, Message: "division by zero"}
			}
			return Sum{Sum: p.A / p.B}, nil
		})},
	}})
	if err != nil {
		log.Fatal(err)
	}
	if err := srv.Start(ctx); err != nil {
		log.Fatal(err)
	}
	defer srv.Stop(ctx)

	client, err := rpc.NewClient(rdb, rpc.ClientOptions{KeyPrefix: "example/optio"})
	if err != nil {
		log.Fatal(err)
	}
	defer client.Close()

	var sum Sum
	if err := client.Call(ctx, "arith", "add", AddParams{A: 2, B: 3}, &sum); err != nil {
		log.Fatal(err)
	}
	fmt.Println("2 + 3 =", sum.Sum)

	var rpcErr *rpc.Error
	if err := client.Call(ctx, "arith", "divide", AddParams{A: 1}, &sum); errors.As(err, &rpcErr) {
		fmt.Println("error", rpcErr.Code, rpcErr.Message)
	}
}
