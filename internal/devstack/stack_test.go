package devstack

import (
	"bytes"
	"context"
	"errors"
	"log/slog"
	"path/filepath"
	"strings"
	"sync"
	"testing"

	"github.com/redis/go-redis/v9"
	"github.com/stretchr/testify/require"
	"go.temporal.io/sdk/client"
)

func TestStackStartsEveryPartAndStops(t *testing.T) {
	var logs syncBuffer
	logger := slog.New(slog.NewTextHandler(&logs, nil))
	dir := t.TempDir()
	ctx := context.Background()

	s, err := Start(ctx, Config{
		DataDir:  dir,
		Logger:   logger,
		Temporal: &TemporalConfig{},
		UI:       &UIConfig{},
		Mongo:    &MongoConfig{},
		Redis:    &RedisConfig{},
	})
	require.NoError(t, err)
	t.Cleanup(func() { require.NoError(t, s.Stop()) })

	require.Positive(t, s.StartupTime())
	require.Contains(t, logs.String(), "dev stack started")
	require.FileExists(t, filepath.Join(dir, "temporal", TemporalDBFile))
	require.Equal(t, filepath.Join(dir, "mongo"), s.Mongo().Dir())

	c, err := client.Dial(client.Options{HostPort: s.Temporal().HostPort(), Namespace: s.Temporal().Namespace(), Logger: quietSDKLogger()})
	require.NoError(t, err)
	_, err = c.CheckHealth(ctx, nil)
	require.NoError(t, err)
	c.Close()

	httpGet(t, s.UI().URL()+"/")

	mc := connectMongo(t, s.Mongo().URL())
	require.NoError(t, mc.Ping(ctx, nil))
	require.NoError(t, mc.Disconnect(ctx))

	opts, err := redis.ParseURL(s.Redis().URL())
	require.NoError(t, err)
	rdb := redis.NewClient(opts)
	require.NoError(t, rdb.Ping(ctx).Err())
	require.NoError(t, rdb.Close())

	require.NoError(t, s.Stop())
	require.NoError(t, s.Stop(), "a second Stop is a no-op")
}

func TestStackStartsOnlyWhatIsAskedFor(t *testing.T) {
	s, err := Start(context.Background(), Config{Mongo: &MongoConfig{}})
	require.NoError(t, err)
	t.Cleanup(func() { require.NoError(t, s.Stop()) })
	require.Nil(t, s.Temporal())
	require.Nil(t, s.UI())
	require.Nil(t, s.Redis())
	require.NotNil(t, s.Mongo())
}

func TestStackPortInUseNamesPartAndPort(t *testing.T) {
	ln, err := listen("test", DefaultHost, 0)
	require.NoError(t, err)
	defer ln.Close()
	busy := portOf(ln.Addr().String())

	for _, tc := range []struct {
		part string
		cfg  Config
	}{
		{PartTemporal, Config{Temporal: &TemporalConfig{Port: busy}, Mongo: &MongoConfig{}}},
		{PartUI, Config{Temporal: &TemporalConfig{}, UI: &UIConfig{Port: busy}}},
		{PartMongo, Config{Mongo: &MongoConfig{Port: busy}, Redis: &RedisConfig{}}},
		{PartRedis, Config{Redis: &RedisConfig{Port: busy}}},
	} {
		t.Run(tc.part, func(t *testing.T) {
			_, err := Start(context.Background(), tc.cfg)
			var pe *PortInUseError
			require.True(t, errors.As(err, &pe), "got %v", err)
			require.Equal(t, tc.part, pe.Part)
			require.Equal(t, busy, pe.Port)
			require.NotContains(t, err.Error(), "\n")
			require.True(t, strings.HasPrefix(err.Error(), tc.part+": port "), err.Error())
		})
	}
}

// syncBuffer is a bytes.Buffer safe for the concurrent writes of parts
// starting side by side.
type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (b *syncBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.b.Write(p)
}

func (b *syncBuffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.b.String()
}
