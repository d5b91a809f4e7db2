package main

import (
	"errors"
	"flag"
	"io"
	"log/slog"
	"os"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"
)

func TestParseConfig(t *testing.T) {
	defaults := config{
		Namespace: "default", DB: "optio_demo", Prefix: "optio", DataDir: "./.optio-dev",
		DevTemporalPort: 7233, DevUIPort: 8233, DevMongoPort: 27017, DevRedisPort: 6379,
		LogLevel: slog.LevelInfo, MetricsAddr: "127.0.0.1:9464",
	}
	with := func(f func(*config)) config {
		c := defaults
		f(&c)
		return c
	}
	for _, tc := range []struct {
		name    string
		args    []string
		env     map[string]string
		want    config
		wantErr string
	}{
		{name: "no configuration is dev mode on the default ports", want: defaults},
		{name: "metrics off in dev mode", args: []string{"-metrics-addr", "off"}, want: with(func(c *config) { c.MetricsAddr = "" })},
		{name: "search attributes created when asked", args: []string{"-create-search-attributes"}, want: with(func(c *config) { c.CreateSearchAttributes = true })},
		{name: "search attributes created from the environment", env: map[string]string{"OPTIO_CREATE_SEARCH_ATTRIBUTES": "true"}, want: with(func(c *config) { c.CreateSearchAttributes = true })},
		{name: "search attributes: a bad boolean", env: map[string]string{"OPTIO_CREATE_SEARCH_ATTRIBUTES": "maybe"}, wantErr: `OPTIO_CREATE_SEARCH_ATTRIBUTES="maybe": want true or false`},
		{
			name: "metrics only when asked in production",
			env:  map[string]string{"TEMPORAL_ADDRESS": "t:7233", "MONGO_URL": "mongodb://m", "REDIS_URL": "redis://r:6379/0"},
			want: with(func(c *config) {
				c.TemporalAddress, c.MongoURL, c.RedisURL, c.MetricsAddr = "t:7233", "mongodb://m", "redis://r:6379/0", ""
			}),
		},
		{
			name: "metrics address in production from the environment",
			env:  map[string]string{"TEMPORAL_ADDRESS": "t:7233", "MONGO_URL": "mongodb://m", "REDIS_URL": "redis://r:6379/0", "OPTIO_METRICS_ADDR": "0.0.0.0:9464"},
			want: with(func(c *config) {
				c.TemporalAddress, c.MongoURL, c.RedisURL, c.MetricsAddr = "t:7233", "mongodb://m", "redis://r:6379/0", "0.0.0.0:9464"
			}),
		},
		{
			name: "environment",
			env: map[string]string{
				"TEMPORAL_ADDRESS": "temporal:7233", "TEMPORAL_NAMESPACE": "prod", "MONGO_URL": "mongodb://mongo:27017",
				"OPTIO_DB": "app", "OPTIO_PREFIX": "jobs", "REDIS_URL": "redis://redis:6379/0", "OPTIO_DATA_DIR": "/data",
				"OPTIO_DEV_TEMPORAL_PORT": "17233", "OPTIO_DEV_UI_PORT": "18233", "OPTIO_DEV_MONGO_PORT": "37017",
				"OPTIO_DEV_REDIS_PORT": "16379", "OPTIO_LAUNCH": "demo-quick", "OPTIO_LOG_LEVEL": "debug",
			},
			want: config{
				TemporalAddress: "temporal:7233", Namespace: "prod", MongoURL: "mongodb://mongo:27017",
				DB: "app", Prefix: "jobs", RedisURL: "redis://redis:6379/0", DataDir: "/data",
				DevTemporalPort: 17233, DevUIPort: 18233, DevMongoPort: 37017, DevRedisPort: 16379,
				Launch: []string{"demo-quick"}, LogLevel: slog.LevelDebug,
			},
		},
		{
			name: "flags",
			args: []string{
				"-temporal-address", "t:1", "-namespace", "ns", "-mongo-url", "mongodb://m", "-db", "d", "-prefix", "p",
				"-redis-url", "redis://r", "-data-dir", "dd", "-dev-temporal-port", "1", "-dev-ui-port", "2",
				"-dev-mongo-port", "3", "-dev-redis-port", "4", "-launch", "a,b", "-log-level", "warn",
			},
			want: config{
				TemporalAddress: "t:1", Namespace: "ns", MongoURL: "mongodb://m", DB: "d", Prefix: "p",
				RedisURL: "redis://r", DataDir: "dd", DevTemporalPort: 1, DevUIPort: 2, DevMongoPort: 3, DevRedisPort: 4,
				Launch: []string{"a", "b"}, LogLevel: slog.LevelWarn,
			},
		},
		{
			name: "a flag wins over its environment variable",
			args: []string{"-db", "from_flag", "-dev-ui-port", "9000"},
			env:  map[string]string{"OPTIO_DB": "from_env", "OPTIO_DEV_UI_PORT": "9001", "OPTIO_PREFIX": "env_prefix"},
			want: with(func(c *config) { c.DB, c.DevUIPort, c.Prefix = "from_flag", 9000, "env_prefix" }),
		},
		{
			name: "an empty environment variable keeps the default",
			env:  map[string]string{"OPTIO_DB": "", "TEMPORAL_NAMESPACE": ""},
			want: defaults,
		},
		{
			name: "port 0 picks a free port",
			args: []string{"-dev-temporal-port=0", "-dev-ui-port=0"},
			want: with(func(c *config) { c.DevTemporalPort, c.DevUIPort = 0, 0 }),
		},
		{
			name: "launch list is trimmed and drops empty entries",
			args: []string{"-launch", " demo-quick, ,demo-failing ,"},
			want: with(func(c *config) { c.Launch = []string{"demo-quick", "demo-failing"} }),
		},
		{name: "bad port in the environment", env: map[string]string{"OPTIO_DEV_MONGO_PORT": "mongo"}, wantErr: `OPTIO_DEV_MONGO_PORT="mongo" is not a port number`},
		{name: "port out of range", args: []string{"-dev-redis-port", "70000"}, wantErr: "-dev-redis-port 70000 is not a port number"},
		{name: "negative port", args: []string{"-dev-ui-port=-1"}, wantErr: "-dev-ui-port -1 is not a port number"},
		{name: "unknown flag", args: []string{"-nope"}, wantErr: "flag provided but not defined: -nope"},
		{name: "stray argument", args: []string{"run"}, wantErr: `unexpected argument "run"`},
		{name: "empty db", args: []string{"-db", ""}, wantErr: "-db must not be empty"},
		{name: "bad log level", args: []string{"-log-level", "loud"}, wantErr: `-log-level "loud"`},
	} {
		t.Run(tc.name, func(t *testing.T) {
			getenv := func(k string) string { return tc.env[k] }
			got, err := parseConfig(tc.args, getenv, io.Discard)
			if tc.wantErr != "" {
				require.ErrorContains(t, err, tc.wantErr)
				return
			}
			require.NoError(t, err)
			require.Equal(t, tc.want, got)
		})
	}
}

func TestParseConfigHelpListsEveryFlagWithItsVariable(t *testing.T) {
	var out strings.Builder
	_, err := parseConfig([]string{"-h"}, func(string) string { return "" }, &out)
	require.True(t, errors.Is(err, flag.ErrHelp))
	for _, s := range settings {
		require.Contains(t, out.String(), "-"+s.flag)
		require.Contains(t, out.String(), "env "+s.env)
	}
}

// The README's configuration table has a row for every setting, so the two
// cannot drift apart.
func TestReadmeListsEverySetting(t *testing.T) {
	readme, err := os.ReadFile("../../README.md")
	require.NoError(t, err)
	for _, s := range settings {
		require.Contains(t, string(readme), "| `-"+s.flag+"` | `"+s.env+"` |", "README.md's configuration table")
	}
}

func TestDevMode(t *testing.T) {
	for _, tc := range []struct {
		cfg  config
		want bool
	}{
		{config{}, true},
		{config{TemporalAddress: "t:1", MongoURL: "mongodb://m"}, true},
		{config{TemporalAddress: "t:1", MongoURL: "mongodb://m", RedisURL: "redis://r"}, false},
	} {
		require.Equal(t, tc.want, tc.cfg.devMode(), "%+v", tc.cfg)
	}
}
