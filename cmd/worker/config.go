package main

import (
	"flag"
	"fmt"
	"io"
	"log/slog"
	"strconv"
	"strings"

	"github.com/optio-temporal/optio/internal/devstack"
)

// Defaults of dev mode.
const (
	defaultNamespace    = "default"
	defaultDB           = "optio_demo"
	defaultPrefix       = "optio"
	defaultDataDir      = "./.optio-dev"
	defaultTemporalPort = 7233
	defaultUIPort       = 8233
	defaultMongoPort    = 27017
	defaultRedisPort    = 6379
)

// config is the worker's configuration after flags and environment.
type config struct {
	TemporalAddress string
	Namespace       string
	MongoURL        string
	DB              string
	Prefix          string
	RedisURL        string
	DataDir         string
	DevTemporalPort int
	DevUIPort       int
	DevMongoPort    int
	DevRedisPort    int
	Launch          []string
	LogLevel        slog.Level
}

// setting is one flag and the environment variable that can set it.
type setting struct {
	flag  string
	env   string
	usage string
}

// The settings, in the order -h lists them. Each flag is named after its
// environment variable's purpose; the README's table is this list.
var settings = []setting{
	{"temporal-address", "TEMPORAL_ADDRESS", "Temporal frontend host:port; empty starts the embedded Temporal server and Web UI"},
	{"namespace", "TEMPORAL_NAMESPACE", "Temporal namespace"},
	{"mongo-url", "MONGO_URL", "MongoDB connection string; empty starts the embedded MongoDB-wire server (FerretDB)"},
	{"db", "OPTIO_DB", "MongoDB database name"},
	{"prefix", "OPTIO_PREFIX", "optio prefix: collection {prefix}_processes, Redis keys {db}/{prefix}"},
	{"redis-url", "REDIS_URL", "Redis URL (redis://host:port/0); empty starts redis-server from PATH, or an embedded Redis"},
	{"data-dir", "OPTIO_DATA_DIR", "where the embedded servers keep their data"},
	{"dev-temporal-port", "OPTIO_DEV_TEMPORAL_PORT", "port of the embedded Temporal server (0: any free port)"},
	{"dev-ui-port", "OPTIO_DEV_UI_PORT", "port of the embedded Temporal Web UI (0: any free port)"},
	{"dev-mongo-port", "OPTIO_DEV_MONGO_PORT", "port of the embedded MongoDB-wire server (0: any free port)"},
	{"dev-redis-port", "OPTIO_DEV_REDIS_PORT", "port of the embedded Redis (0: any free port)"},
	{"launch", "OPTIO_LAUNCH", "comma-separated process IDs to launch once the worker is up"},
	{"log-level", "OPTIO_LOG_LEVEL", "log level: debug, info, warn or error"},
}

// parseConfig reads flags from args and, for every flag not given, its
// environment variable through getenv. Flags win over the environment, the
// environment over defaults. -h prints usage to output and returns
// flag.ErrHelp.
func parseConfig(args []string, getenv func(string) string, output io.Writer) (config, error) {
	fs := flag.NewFlagSet("worker", flag.ContinueOnError)
	fs.SetOutput(output)
	var (
		cfg      config
		launch   string
		logLevel string
	)
	str := map[string]*string{
		"temporal-address": &cfg.TemporalAddress,
		"namespace":        &cfg.Namespace,
		"mongo-url":        &cfg.MongoURL,
		"db":               &cfg.DB,
		"prefix":           &cfg.Prefix,
		"redis-url":        &cfg.RedisURL,
		"data-dir":         &cfg.DataDir,
		"launch":           &launch,
		"log-level":        &logLevel,
	}
	strDefaults := map[string]string{
		"namespace": defaultNamespace, "db": defaultDB, "prefix": defaultPrefix,
		"data-dir": defaultDataDir, "log-level": "info",
	}
	ports := map[string]*int{
		"dev-temporal-port": &cfg.DevTemporalPort,
		"dev-ui-port":       &cfg.DevUIPort,
		"dev-mongo-port":    &cfg.DevMongoPort,
		"dev-redis-port":    &cfg.DevRedisPort,
	}
	portDefaults := map[string]int{
		"dev-temporal-port": defaultTemporalPort, "dev-ui-port": defaultUIPort,
		"dev-mongo-port": defaultMongoPort, "dev-redis-port": defaultRedisPort,
	}
	for _, s := range settings {
		usage := fmt.Sprintf("%s (env %s)", s.usage, s.env)
		if p, ok := str[s.flag]; ok {
			fs.StringVar(p, s.flag, strDefaults[s.flag], usage)
		} else {
			fs.IntVar(ports[s.flag], s.flag, portDefaults[s.flag], usage)
		}
	}
	fs.Usage = func() {
		fmt.Fprintf(fs.Output(), "Usage: worker [flags]\n\n"+
			"With no configuration it starts dev mode: Temporal with its Web UI, a MongoDB-wire\n"+
			"server and Redis, all in this process (Redis as a child), with data in %s.\n"+
			"A service given by URL or address is used instead of its embedded counterpart.\n\n", defaultDataDir)
		fs.PrintDefaults()
	}
	if err := fs.Parse(args); err != nil {
		return config{}, err
	}
	if fs.NArg() > 0 {
		return config{}, fmt.Errorf("unexpected argument %q (flags start with -)", fs.Arg(0))
	}

	given := map[string]bool{}
	fs.Visit(func(f *flag.Flag) { given[f.Name] = true })
	for _, s := range settings {
		v := getenv(s.env)
		if given[s.flag] || v == "" {
			continue
		}
		if p, ok := str[s.flag]; ok {
			*p = v
			continue
		}
		n, err := strconv.Atoi(v)
		if err != nil {
			return config{}, fmt.Errorf("%s=%q is not a port number", s.env, v)
		}
		*ports[s.flag] = n
	}
	for _, s := range settings {
		if p, ok := ports[s.flag]; ok && (*p < 0 || *p > 65535) {
			return config{}, fmt.Errorf("-%s %d is not a port number (0 to 65535)", s.flag, *p)
		}
	}
	for _, name := range []string{"namespace", "db", "prefix", "data-dir"} {
		if *str[name] == "" {
			return config{}, fmt.Errorf("-%s must not be empty", name)
		}
	}
	if err := cfg.LogLevel.UnmarshalText([]byte(logLevel)); err != nil {
		return config{}, fmt.Errorf("-log-level %q: want debug, info, warn or error", logLevel)
	}
	for _, id := range strings.Split(launch, ",") {
		if id = strings.TrimSpace(id); id != "" {
			cfg.Launch = append(cfg.Launch, id)
		}
	}
	return cfg, nil
}

// devMode reports whether any service is embedded.
func (c config) devMode() bool {
	return c.TemporalAddress == "" || c.MongoURL == "" || c.RedisURL == ""
}

// portFlags names the flag that moves each embedded part, for the port-in-use
// message.
var portFlags = map[string]string{
	devstack.PartTemporal: "dev-temporal-port",
	devstack.PartUI:       "dev-ui-port",
	devstack.PartMongo:    "dev-mongo-port",
	devstack.PartRedis:    "dev-redis-port",
}
