package devstack

import (
	"context"
	"errors"
	"os"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"
	"github.com/stretchr/testify/require"

	"github.com/optio-temporal/optio/internal/redisserver"
)

func TestRedisPingAndStreams(t *testing.T) {
	for _, tc := range []struct {
		name     string
		embedded bool
	}{
		{"redis-server", false},
		{"embedded", true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if !tc.embedded && !redisserver.Available() {
				if os.Getenv("OPTIO_TEST_REQUIRE_REAL_REDIS") == "1" {
					t.Fatal("redis-server is not on PATH and OPTIO_TEST_REQUIRE_REAL_REDIS=1")
				}
				t.Skip("redis-server is not on PATH")
			}
			ctx := context.Background()
			r, err := StartRedis(ctx, RedisConfig{Embedded: tc.embedded})
			require.NoError(t, err)
			t.Cleanup(func() { require.NoError(t, r.Stop()) })
			require.Equal(t, tc.embedded, r.Embedded())

			opts, err := redis.ParseURL(r.URL())
			require.NoError(t, err)
			rdb := redis.NewClient(opts)
			defer rdb.Close()

			require.NoError(t, rdb.Ping(ctx).Err())
			require.NoError(t, rdb.XGroupCreateMkStream(ctx, "optio/test:stream", "workers", "0").Err())
			id, err := rdb.XAdd(ctx, &redis.XAddArgs{Stream: "optio/test:stream", Values: map[string]any{"method": "launch"}}).Result()
			require.NoError(t, err)
			streams, err := rdb.XReadGroup(ctx, &redis.XReadGroupArgs{
				Group: "workers", Consumer: "c1", Streams: []string{"optio/test:stream", ">"}, Count: 1, Block: time.Second,
			}).Result()
			require.NoError(t, err)
			require.Len(t, streams, 1)
			require.Len(t, streams[0].Messages, 1)
			require.Equal(t, id, streams[0].Messages[0].ID)
			require.Equal(t, "launch", streams[0].Messages[0].Values["method"])
			require.NoError(t, rdb.XAck(ctx, "optio/test:stream", "workers", id).Err())
		})
	}
}

func TestRedisPortInUse(t *testing.T) {
	ln, err := listen("test", DefaultHost, 0)
	require.NoError(t, err)
	defer ln.Close()
	for _, embedded := range []bool{false, true} {
		_, err = StartRedis(context.Background(), RedisConfig{Port: portOf(ln.Addr().String()), Embedded: embedded})
		var pe *PortInUseError
		require.True(t, errors.As(err, &pe), "got %v", err)
		require.Equal(t, PartRedis, pe.Part)
	}
}
