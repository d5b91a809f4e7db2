package rpc_test

import (
	"encoding/json"
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/optio-temporal/optio/internal/pyjson"
	"github.com/optio-temporal/optio/rpc"
)

type filterLeaf struct {
	Eq any      `json:"eq"`
	In []string `json:"in" rpc:"optional"`
}

type groupCancelParams struct {
	MetadataFilter   map[string]filterLeaf `json:"metadataFilter"`
	BlockNewLaunches *bool                 `json:"blockNewLaunches"`
	Reason           string                `json:"reason" rpc:"optional"`
	Limit            int                   `json:"limit" rpc:"optional"`
	Tags             []string              `json:"tags" rpc:"optional"`
	Ratio            float32               `json:"ratio" rpc:"optional"`
	Count            uint8                 `json:"count" rpc:"optional"`
	When             time.Time             `json:"when" rpc:"optional"`
	Nested           *addParams            `json:"nested"`
}

func TestDecodeParams(t *testing.T) {
	tests := []struct {
		name   string
		params string
		want   groupCancelParams
		errors string // the -32602 data in Python layout; "" for success
	}{
		{
			name:   "all fields",
			params: `{"metadataFilter": {"tag": {"eq": "demo", "in": ["a"]}}, "blockNewLaunches": true, "reason": "r", "limit": 5.0, "tags": ["x"], "ratio": 0.5, "count": 255, "when": "2026-05-08T10:00:00Z", "nested": {"a": 1, "b": 2}}`,
			want: groupCancelParams{
				MetadataFilter:   map[string]filterLeaf{"tag": {Eq: "demo", In: []string{"a"}}},
				BlockNewLaunches: ptr(true), Reason: "r", Limit: 5, Tags: []string{"x"}, Ratio: 0.5, Count: 255,
				When: time.Date(2026, 5, 8, 10, 0, 0, 0, time.UTC), Nested: &addParams{A: 1, B: 2},
			},
		},
		{
			name:   "Python nulls for optionals",
			params: `{"metadataFilter": {"tag": {"eq": null, "in": null}}, "blockNewLaunches": null, "reason": null, "limit": null, "tags": null, "nested": null}`,
			want:   groupCancelParams{MetadataFilter: map[string]filterLeaf{"tag": {}}},
		},
		{
			name:   "scalars read as pydantic's lax mode reads them",
			params: `{"metadataFilter": {}, "blockNewLaunches": "Yes", "limit": " 1_000 ", "ratio": "0.5", "count": "007", "nested": {"a": "2", "b": true}}`,
			want: groupCancelParams{
				MetadataFilter: map[string]filterLeaf{}, BlockNewLaunches: ptr(true), Limit: 1000, Ratio: 0.5, Count: 7,
				Nested: &addParams{A: 2, B: 1},
			},
		},
		{
			name:   "a bool from a number",
			params: `{"metadataFilter": {}, "blockNewLaunches": 0}`,
			want:   groupCancelParams{MetadataFilter: map[string]filterLeaf{}, BlockNewLaunches: ptr(false)},
		},
		{
			name:   "a number that is no bool",
			params: `{"metadataFilter": {}, "blockNewLaunches": 2}`,
			errors: `[{"type": "bool_parsing", "loc": ["blockNewLaunches"], "msg": "Input should be a valid boolean, unable to interpret input", "input": 2, "url": "https://errors.pydantic.dev/2.13/v/bool_parsing"}]`,
		},
		{
			name:   "a string that is no integer",
			params: `{"metadataFilter": {}, "limit": "1.5"}`,
			errors: `[{"type": "int_parsing", "loc": ["limit"], "msg": "Input should be a valid integer, unable to parse string as an integer", "input": "1.5", "url": "https://errors.pydantic.dev/2.13/v/int_parsing"}]`,
		},
		{
			name:   "a number is not a string",
			params: `{"metadataFilter": {}, "reason": 5}`,
			errors: `[{"type": "string_type", "loc": ["reason"], "msg": "Input should be a valid string", "input": 5, "url": "https://errors.pydantic.dev/2.13/v/string_type"}]`,
		},
		{
			name:   "missing required",
			params: `{"reason": "r"}`,
			errors: `[{"type": "missing", "loc": ["metadataFilter"], "msg": "Field required", "input": {"reason": "r"}, "url": "https://errors.pydantic.dev/2.13/v/missing"}]`,
		},
		{
			name:   "null for a required field",
			params: `{"metadataFilter": null}`,
			errors: `[{"type": "dict_type", "loc": ["metadataFilter"], "msg": "Input should be a valid dictionary", "input": null, "url": "https://errors.pydantic.dev/2.13/v/dict_type"}]`,
		},
		{
			name:   "every problem reported, fields first, then extras",
			params: `{"zzz": 1, "metadataFilter": {"t": {"in": ["a", 2], "other": 1}}, "blockNewLaunches": "maybe", "limit": 1.5, "tags": "x", "ratio": "half", "count": 256, "nested": {"a": [1]}}`,
			errors: `[` +
				`{"type": "string_type", "loc": ["metadataFilter", "t", "in", 1], "msg": "Input should be a valid string", "input": 2, "url": "https://errors.pydantic.dev/2.13/v/string_type"}, ` +
				`{"type": "extra_forbidden", "loc": ["metadataFilter", "t", "other"], "msg": "Extra inputs are not permitted", "input": 1, "url": "https://errors.pydantic.dev/2.13/v/extra_forbidden"}, ` +
				`{"type": "bool_parsing", "loc": ["blockNewLaunches"], "msg": "Input should be a valid boolean, unable to interpret input", "input": "maybe", "url": "https://errors.pydantic.dev/2.13/v/bool_parsing"}, ` +
				`{"type": "int_from_float", "loc": ["limit"], "msg": "Input should be a valid integer, got a number with a fractional part", "input": 1.5, "url": "https://errors.pydantic.dev/2.13/v/int_from_float"}, ` +
				`{"type": "list_type", "loc": ["tags"], "msg": "Input should be a valid list", "input": "x", "url": "https://errors.pydantic.dev/2.13/v/list_type"}, ` +
				`{"type": "float_parsing", "loc": ["ratio"], "msg": "Input should be a valid number, unable to parse string as a number", "input": "half", "url": "https://errors.pydantic.dev/2.13/v/float_parsing"}, ` +
				`{"type": "int_parsing_size", "loc": ["count"], "msg": "Unable to parse input string as an integer, exceeded maximum size", "input": 256, "url": "https://errors.pydantic.dev/2.13/v/int_parsing_size"}, ` +
				`{"type": "float_type", "loc": ["nested", "a"], "msg": "Input should be a valid number", "input": [1], "url": "https://errors.pydantic.dev/2.13/v/float_type"}, ` +
				`{"type": "missing", "loc": ["nested", "b"], "msg": "Field required", "input": {"a": [1]}, "url": "https://errors.pydantic.dev/2.13/v/missing"}, ` +
				`{"type": "extra_forbidden", "loc": ["zzz"], "msg": "Extra inputs are not permitted", "input": 1, "url": "https://errors.pydantic.dev/2.13/v/extra_forbidden"}]`,
		},
		{
			name:   "keys are case-sensitive",
			params: `{"MetadataFilter": {}}`,
			errors: `[{"type": "missing", "loc": ["metadataFilter"], "msg": "Field required", "input": {"MetadataFilter": {}}, "url": "https://errors.pydantic.dev/2.13/v/missing"}, {"type": "extra_forbidden", "loc": ["MetadataFilter"], "msg": "Extra inputs are not permitted", "input": {}, "url": "https://errors.pydantic.dev/2.13/v/extra_forbidden"}]`,
		},
		{
			name:   "unmarshaler errors are value errors",
			params: `{"metadataFilter": {}, "when": "yesterday"}`,
			errors: `[{"type": "value_error", "loc": ["when"], "msg": "Value error, parsing time \"yesterday\" as \"2006-01-02T15:04:05Z07:00\": cannot parse \"yesterday\" as \"2006\"", "input": "yesterday", "ctx": {"error": "parsing time \"yesterday\" as \"2006-01-02T15:04:05Z07:00\": cannot parse \"yesterday\" as \"2006\""}, "url": "https://errors.pydantic.dev/2.13/v/value_error"}]`,
		},
		{
			name:   "negative unsigned",
			params: `{"metadataFilter": {}, "count": -1}`,
			errors: `[{"type": "greater_than_equal", "loc": ["count"], "msg": "Input should be greater than or equal to 0", "input": -1, "ctx": {"ge": 0}, "url": "https://errors.pydantic.dev/2.13/v/greater_than_equal"}]`,
		},
		{
			name:   "not an object",
			params: `[1]`,
			errors: `[{"type": "model_type", "loc": [], "msg": "Input should be a valid dictionary or instance of groupCancelParams", "input": [1], "ctx": {"class_name": "groupCancelParams"}, "url": "https://errors.pydantic.dev/2.13/v/model_type"}]`,
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var got groupCancelParams
			err := rpc.DecodeParams(json.RawMessage(tt.params), &got)
			if tt.errors == "" {
				require.NoError(t, err)
				require.Equal(t, tt.want, got)
				return
			}
			var rpcErr *rpc.Error
			require.True(t, errors.As(err, &rpcErr), "want *rpc.Error, got %v", err)
			require.Equal(t, rpc.CodeInvalidParams, rpcErr.Code)
			require.Equal(t, "Invalid params", rpcErr.Message)
			data, err := pyjson.Marshal(rpcErr.Data)
			require.NoError(t, err)
			require.Equal(t, `{"errors": `+tt.errors+`}`, string(data))
		})
	}
}

func TestDecodeParamsNeedsPointer(t *testing.T) {
	var p addParams
	err := rpc.DecodeParams(json.RawMessage(`{}`), p)
	require.Error(t, err)
	require.True(t, strings.Contains(err.Error(), "non-nil pointer"))
}

func ptr[T any](v T) *T { return &v }
