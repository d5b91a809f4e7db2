package main

import (
	"io"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
)

func TestParseDynamicConfigPair(t *testing.T) {
	for _, tc := range []struct {
		pair      string
		wantKey   string
		wantValue any
	}{
		{"limit.historyCount.error=150", "limit.historyCount.error", 150},
		{"k=-3", "k", -3},
		{"k=0", "k", 0},
		{"k=true", "k", true},
		{"k=false", "k", false},
		{"k=0.25", "k", 0.25},
		{"k=1e3", "k", 1000.0},
		{"k=500ms", "k", 500 * time.Millisecond},
		{"k=2s", "k", 2 * time.Second},
		{"k=1h30m", "k", 90 * time.Minute},
		{"k=fair", "k", "fair"},
		{"k=TRUE", "k", "TRUE"},
		{"k=NaN", "k", "NaN"},
		{"k=a=b", "k", "a=b"},
		{"k=", "k", ""},
		{`k="150"`, "k", "150"},
		{`k="true"`, "k", "true"},
		{`k="a,b"`, "k", "a,b"},
		{" k = 7 ", "k", 7},
	} {
		t.Run(tc.pair, func(t *testing.T) {
			key, value, err := parseDynamicConfigPair(tc.pair)
			require.NoError(t, err)
			require.Equal(t, tc.wantKey, key)
			require.Equal(t, tc.wantValue, value)
			require.IsType(t, tc.wantValue, value)
		})
	}
}

func TestParseConfigDevDynamicConfig(t *testing.T) {
	for _, tc := range []struct {
		name string
		args []string
		env  map[string]string
		want map[string]any
	}{
		{name: "none is nil", want: nil},
		{
			name: "repeated flag",
			args: []string{"-dev-dynamic-config", "limit.historyCount.error=150", "-dev-dynamic-config", "limit.historyCount.suggestContinueAsNew=50"},
			want: map[string]any{"limit.historyCount.error": 150, "limit.historyCount.suggestContinueAsNew": 50},
		},
		{
			name: "environment, comma-separated",
			env:  map[string]string{"OPTIO_DEV_DYNAMIC_CONFIG": "a=1, b=2s ,,c=x"},
			want: map[string]any{"a": 1, "b": 2 * time.Second, "c": "x"},
		},
		{
			name: "the flag replaces the environment",
			args: []string{"-dev-dynamic-config", "a=2"},
			env:  map[string]string{"OPTIO_DEV_DYNAMIC_CONFIG": "a=1,b=1"},
			want: map[string]any{"a": 2},
		},
		{
			name: "a later pair wins, whatever the key's case",
			args: []string{"-dev-dynamic-config", "limit.x=1", "-dev-dynamic-config", "LIMIT.X=2"},
			want: map[string]any{"LIMIT.X": 2},
		},
		{
			name: "a string may hold a comma on the command line",
			args: []string{"-dev-dynamic-config", "k=a,b"},
			want: map[string]any{"k": "a,b"},
		},
	} {
		t.Run(tc.name, func(t *testing.T) {
			cfg, err := parseConfig(tc.args, func(k string) string { return tc.env[k] }, io.Discard)
			require.NoError(t, err)
			require.Equal(t, tc.want, cfg.DevDynamicConfig)
		})
	}
}

func TestParseConfigDevDynamicConfigErrors(t *testing.T) {
	for _, tc := range []struct {
		name    string
		args    []string
		env     map[string]string
		wantErr string
	}{
		{
			name:    "no =",
			args:    []string{"-dev-dynamic-config", "limit.historyCount.error"},
			wantErr: `-dev-dynamic-config "limit.historyCount.error": want KEY=VALUE, for example limit.historyCount.error=150`,
		},
		{
			name:    "empty pair",
			args:    []string{"-dev-dynamic-config", ""},
			wantErr: `-dev-dynamic-config "": want KEY=VALUE, for example limit.historyCount.error=150`,
		},
		{
			name:    "empty key",
			args:    []string{"-dev-dynamic-config", "=150"},
			wantErr: `-dev-dynamic-config "=150": the key before = is empty`,
		},
		{
			name:    "blank key",
			args:    []string{"-dev-dynamic-config", "a=1", "-dev-dynamic-config", "  =1"},
			wantErr: `-dev-dynamic-config "  =1": the key before = is empty`,
		},
		{
			name:    "unterminated JSON string",
			args:    []string{"-dev-dynamic-config", `k="150`},
			wantErr: `-dev-dynamic-config "k=\"150": the value starts with " but is not a JSON string`,
		},
		{
			name:    "a bad pair in the environment names the variable",
			env:     map[string]string{"OPTIO_DEV_DYNAMIC_CONFIG": "a=1,oops"},
			wantErr: `OPTIO_DEV_DYNAMIC_CONFIG "oops": want KEY=VALUE, for example limit.historyCount.error=150`,
		},
		{
			name:    "external Temporal by flag",
			args:    []string{"-temporal-address", "temporal:7233", "-dev-dynamic-config", "a=1"},
			wantErr: "-dev-dynamic-config applies only to the embedded Temporal server, and -temporal-address names an external one (temporal:7233)",
		},
		{
			name:    "external Temporal by environment",
			env:     map[string]string{"TEMPORAL_ADDRESS": "temporal:7233", "OPTIO_DEV_DYNAMIC_CONFIG": "a=1"},
			wantErr: "OPTIO_DEV_DYNAMIC_CONFIG applies only to the embedded Temporal server, and TEMPORAL_ADDRESS names an external one (temporal:7233)",
		},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, err := parseConfig(tc.args, func(k string) string { return tc.env[k] }, io.Discard)
			require.EqualError(t, err, tc.wantErr)
		})
	}
}

func TestFormatDynamicConfig(t *testing.T) {
	got := formatDynamicConfig(map[string]any{"b": "150", "a.b": 2 * time.Second, "a": 150, "c": true})
	require.Equal(t, `a=150 a.b=2s b="150" c=true`, got)
}
