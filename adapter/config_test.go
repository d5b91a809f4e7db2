package adapter

import (
	"strings"
	"testing"

	"github.com/stretchr/testify/require"
	"go.mongodb.org/mongo-driver/v2/mongo"
	"go.mongodb.org/mongo-driver/v2/mongo/options"
	"go.temporal.io/sdk/client"
)

// fakeTemporal stands for a Temporal client where only its presence is
// checked.
type fakeTemporal struct{ client.Client }

// TestConfigNames: the database name and Prefix make MongoDB names
// (database, {Prefix}_processes and the other collections), Temporal IDs
// ({db}/{Prefix}:{processId}, the task queue {db}/{Prefix}) and Redis keys
// ({db}/{Prefix}:...). Config validation refuses, naming the field, a
// database name MongoDB refuses (empty, longer than 63 bytes, or with one
// of / \ . space " $ or NUL), a Prefix no collection name may start with
// ("." or "system.") or with $ or NUL, a Prefix with '/' or ':', which end
// the database name and the prefix in those IDs and keys (another engine's
// prefix "a" would take "a:b"'s workflows for its own), either outside
// printable ASCII, and a pair whose collection namespaces pass MongoDB's
// 255 bytes. The documented defaults and what the tests use pass.
func TestConfigNames(t *testing.T) {
	mc, err := mongo.Connect(options.Client().ApplyURI("mongodb://127.0.0.1:1")) // never dialled
	require.NoError(t, err)
	t.Cleanup(func() { _ = mc.Disconnect(t.Context()) })

	for _, tc := range []struct {
		db, prefix string
		// field is the field the error names; "" for a valid config.
		field string
	}{
		{db: "optio_demo", prefix: ""},
		{db: "optio_demo", prefix: "optio"},
		{db: "app", prefix: "jobs"},
		{db: "t_testx_0a1b2c3d", prefix: "env_prefix"},
		{db: "example_0a1b2c3d", prefix: "my-app.v2"},
		{db: "my-db", prefix: "Optio 2"},
		{db: strings.Repeat("d", 63), prefix: "optio"},

		{db: "", prefix: "optio", field: "database name"},
		{db: strings.Repeat("d", 64), prefix: "optio", field: "database name"},
		{db: "my/db", prefix: "optio", field: "database name"},
		{db: `my\db`, prefix: "optio", field: "database name"},
		{db: "my.db", prefix: "optio", field: "database name"},
		{db: "my db", prefix: "optio", field: "database name"},
		{db: `my"db`, prefix: "optio", field: "database name"},
		{db: "my$db", prefix: "optio", field: "database name"},
		{db: "my\x00db", prefix: "optio", field: "database name"},
		{db: "dätabase", prefix: "optio", field: "database name"},

		{db: "app", prefix: "a:b", field: "Prefix"},
		{db: "app", prefix: "a/b", field: "Prefix"},
		{db: "app", prefix: "a$b", field: "Prefix"},
		{db: "app", prefix: "a\x00b", field: "Prefix"},
		{db: "app", prefix: ".optio", field: "Prefix"},
		{db: "app", prefix: "system.optio", field: "Prefix"},
		{db: "app", prefix: "tab\there", field: "Prefix"},
		{db: "app", prefix: "präfix", field: "Prefix"},
		{db: strings.Repeat("d", 63), prefix: strings.Repeat("p", 200), field: "Prefix"},
	} {
		t.Run(tc.db+"|"+tc.prefix, func(t *testing.T) {
			cfg, err := Config{Temporal: fakeTemporal{}, Mongo: mc.Database(tc.db), Prefix: tc.prefix}.withDefaults()
			if tc.field == "" {
				require.NoError(t, err)
				require.NotEmpty(t, cfg.Prefix)
				return
			}
			require.ErrorIs(t, err, ErrInvalidConfig)
			require.ErrorContains(t, err, tc.field)
		})
	}
}
