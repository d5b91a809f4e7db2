package main

import (
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"math"
	"strconv"
	"strings"
	"time"

	"github.com/optio-temporal/optio/internal/devstack"
	"github.com/optio-temporal/optio/temporalconn"
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
	// DevDynamicConfig overrides the embedded Temporal server's dynamic
	// config, by key; nil when none is given.
	DevDynamicConfig map[string]any
	Launch           []string
	LogLevel         slog.Level
	// MetricsAddr is where /metrics, /healthz and /readyz are served;
	// empty serves none.
	MetricsAddr string
	// TemporalConn secures the connection to an external Temporal.
	TemporalConn temporalconn.Config
	// RedisTLSCA is the PEM CA a rediss:// Redis is verified against.
	RedisTLSCA string
	// CreateSearchAttributes lets the engine register optio's search
	// attributes on an external Temporal that lacks them.
	CreateSearchAttributes bool
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
	{"dev-dynamic-config", "OPTIO_DEV_DYNAMIC_CONFIG", "dynamic config value `KEY=VALUE` of the embedded Temporal server, repeatable (the variable takes comma-separated pairs); VALUE is an integer, true/false, a float, a duration (500ms) or a string (JSON-quoted to force one)"},
	{"launch", "OPTIO_LAUNCH", "comma-separated process IDs to launch once the worker is up"},
	{"log-level", "OPTIO_LOG_LEVEL", "log level: debug, info, warn or error"},
	{"create-search-attributes", "OPTIO_CREATE_SEARCH_ATTRIBUTES", "register optio's search attributes (OptioState, OptioProcessId, ...) on the namespace when they are missing (needs operator rights; the embedded server has them already)"},
	{"metrics-addr", "OPTIO_METRICS_ADDR", "host:port of /metrics (Prometheus), /healthz and /readyz; default " + defaultDevMetricsAddr + " in dev mode, none in production; off turns them off"},
	// The Temporal connection's security, named as the temporal CLI names it.
	{"tls", "TEMPORAL_TLS", "connect to Temporal over TLS, verifying it against the system's roots; implied by every -tls-* flag and -api-key"},
	{"tls-ca-path", "TEMPORAL_TLS_SERVER_CA_CERT_PATH", "PEM file of the CA that signed the Temporal server's certificate (env also TEMPORAL_TLS_CA)"},
	{"tls-cert-path", "TEMPORAL_TLS_CLIENT_CERT_PATH", "PEM client certificate for mutual TLS with Temporal (env also TEMPORAL_TLS_CERT)"},
	{"tls-key-path", "TEMPORAL_TLS_CLIENT_KEY_PATH", "PEM key of -tls-cert-path (env also TEMPORAL_TLS_KEY)"},
	{"tls-server-name", "TEMPORAL_TLS_SERVER_NAME", "name the Temporal server's certificate must carry, when not the host of -temporal-address"},
	{"api-key", "TEMPORAL_API_KEY", "Temporal Cloud API key, sent as a bearer token over TLS (prefer the variable: flags show in ps)"},
	{"redis-tls-ca", "OPTIO_REDIS_TLS_CA", "PEM file of the CA that signed a rediss:// Redis's certificate; default the system's roots"},
}

// envAliases are older names of some variables (the temporal CLI's before
// its 1.4), read when the current one is unset.
var envAliases = map[string]string{
	"TEMPORAL_TLS_SERVER_CA_CERT_PATH": "TEMPORAL_TLS_CA",
	"TEMPORAL_TLS_CLIENT_CERT_PATH":    "TEMPORAL_TLS_CERT",
	"TEMPORAL_TLS_CLIENT_KEY_PATH":     "TEMPORAL_TLS_KEY",
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
		"metrics-addr":     &cfg.MetricsAddr,
		"tls-ca-path":      &cfg.TemporalConn.CAFile,
		"tls-cert-path":    &cfg.TemporalConn.CertFile,
		"tls-key-path":     &cfg.TemporalConn.KeyFile,
		"tls-server-name":  &cfg.TemporalConn.ServerName,
		"api-key":          &cfg.TemporalConn.APIKey,
		"redis-tls-ca":     &cfg.RedisTLSCA,
	}
	bools := map[string]*bool{"tls": &cfg.TemporalConn.TLS, "create-search-attributes": &cfg.CreateSearchAttributes}
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
	// Repeatable flags; their variable holds the values comma-separated.
	var dynamicConfig pairList
	lists := map[string]*pairList{"dev-dynamic-config": &dynamicConfig}
	for _, s := range settings {
		usage := fmt.Sprintf("%s (env %s)", s.usage, s.env)
		if p, ok := str[s.flag]; ok {
			fs.StringVar(p, s.flag, strDefaults[s.flag], usage)
		} else if l, ok := lists[s.flag]; ok {
			fs.Var(l, s.flag, usage)
		} else if b, ok := bools[s.flag]; ok {
			fs.BoolVar(b, s.flag, false, usage)
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
		if v == "" && envAliases[s.env] != "" {
			v = getenv(envAliases[s.env])
		}
		if given[s.flag] || v == "" {
			continue
		}
		if b, ok := bools[s.flag]; ok {
			on, err := strconv.ParseBool(v)
			if err != nil {
				return config{}, fmt.Errorf("%s=%q: want true or false", s.env, v)
			}
			*b = on
			continue
		}
		if p, ok := str[s.flag]; ok {
			*p = v
			continue
		}
		if l, ok := lists[s.flag]; ok {
			*l = splitList(v)
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
	cfg.Launch = splitList(launch)
	switch {
	case cfg.MetricsAddr == "off":
		cfg.MetricsAddr = ""
	case cfg.MetricsAddr == "" && cfg.devMode():
		cfg.MetricsAddr = defaultDevMetricsAddr
	}
	var err error
	if cfg.DevDynamicConfig, err = devDynamicConfig(dynamicConfig, cfg.TemporalAddress, given); err != nil {
		return config{}, err
	}
	if cfg.TemporalAddress == "" && cfg.TemporalConn.Enabled() {
		return config{}, errors.New("the Temporal TLS and API key settings apply only to an external Temporal server: pass -temporal-address too")
	}
	if cfg.RedisURL == "" && cfg.RedisTLSCA != "" {
		return config{}, errors.New("-redis-tls-ca applies only to an external Redis: pass a rediss:// -redis-url too")
	}
	return cfg, nil
}

// pairList collects the values of a repeatable flag.
type pairList []string

func (l *pairList) String() string { return strings.Join(*l, ",") }

func (l *pairList) Set(v string) error {
	*l = append(*l, v)
	return nil
}

// splitList splits a comma-separated list, trimming the entries and dropping
// empty ones; nil when nothing is left.
func splitList(s string) []string {
	var out []string
	for _, e := range strings.Split(s, ",") {
		if e = strings.TrimSpace(e); e != "" {
			out = append(out, e)
		}
	}
	return out
}

// devDynamicConfig parses the KEY=VALUE pairs of -dev-dynamic-config (or of
// its variable, when the flag is not given) into dynamic config overrides; a
// later pair wins over an earlier one with the same key, compared without
// case as Temporal compares keys. The overrides can only reach an embedded
// server, so they are refused next to an external one rather than ignored.
func devDynamicConfig(pairs []string, temporalAddress string, given map[string]bool) (map[string]any, error) {
	source := "-dev-dynamic-config"
	if !given["dev-dynamic-config"] {
		source = "OPTIO_DEV_DYNAMIC_CONFIG"
	}
	if len(pairs) == 0 {
		return nil, nil
	}
	if temporalAddress != "" {
		external := "-temporal-address"
		if !given["temporal-address"] {
			external = "TEMPORAL_ADDRESS"
		}
		return nil, fmt.Errorf("%s applies only to the embedded Temporal server, and %s names an external one (%s)", source, external, temporalAddress)
	}
	out := make(map[string]any, len(pairs))
	for _, pair := range pairs {
		key, value, err := parseDynamicConfigPair(pair)
		if err != nil {
			return nil, fmt.Errorf("%s %q: %w", source, pair, err)
		}
		for k := range out {
			if strings.EqualFold(k, key) {
				delete(out, k)
			}
		}
		out[key] = value
	}
	return out, nil
}

// parseDynamicConfigPair splits KEY=VALUE and types VALUE: an integer, else
// true or false, else a finite float, else a Go duration, else a string. A
// value in double quotes is a JSON string, for a string that would
// otherwise read as one of the others ("150", "true").
func parseDynamicConfigPair(pair string) (string, any, error) {
	key, value, ok := strings.Cut(pair, "=")
	if !ok {
		return "", nil, errors.New("want KEY=VALUE, for example limit.historyCount.error=150")
	}
	key, value = strings.TrimSpace(key), strings.TrimSpace(value)
	if key == "" {
		return "", nil, errors.New("the key before = is empty")
	}
	if strings.HasPrefix(value, `"`) {
		var s string
		if err := json.Unmarshal([]byte(value), &s); err != nil {
			return "", nil, errors.New("the value starts with \" but is not a JSON string")
		}
		return key, s, nil
	}
	if n, err := strconv.Atoi(value); err == nil {
		return key, n, nil
	}
	switch value {
	case "true":
		return key, true, nil
	case "false":
		return key, false, nil
	}
	if f, err := strconv.ParseFloat(value, 64); err == nil && !math.IsInf(f, 0) && !math.IsNaN(f) {
		return key, f, nil
	}
	if d, err := time.ParseDuration(value); err == nil {
		return key, d, nil
	}
	return key, value, nil
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
