package rpc

import (
	"testing"

	"github.com/stretchr/testify/require"
)

// The validation order and outcomes of the reference parse_envelope.
func TestParseEnvelope(t *testing.T) {
	tests := []struct {
		name    string
		in      string
		kind    envelopeKind // 0 means invalid
		service string
		method  string
		params  string
		id      string
		idKey   string
	}{
		{name: "request", in: `{"jsonrpc":"2.0","method":"arith.add","params":{"a":1},"id":"x"}`, kind: kindRequest, service: "arith", method: "add", params: `{"a":1}`, id: `"x"`, idKey: "x"},
		{name: "integer id", in: `{"jsonrpc":"2.0","method":"arith.add","id":-7}`, kind: kindRequest, service: "arith", method: "add", params: `{}`, id: `-7`, idKey: "-7"},
		{name: "split at the first dot", in: `{"jsonrpc":"2.0","method":"optio-engine.a.b","id":"x"}`},
		{name: "hyphenated service", in: `{"jsonrpc":"2.0","method":"optio-engine.groupCancel","id":"x"}`, kind: kindRequest, service: "optio-engine", method: "groupCancel", params: `{}`, id: `"x"`, idKey: "x"},
		{name: "notification", in: `{"jsonrpc":"2.0","method":"a.b","params":null}`, kind: kindNotification, service: "a", method: "b", params: `null`},
		{name: "id null", in: `{"jsonrpc":"2.0","method":"a.b","id":null}`, kind: kindNotification, service: "a", method: "b", params: `{}`},
		{name: "success", in: `{"jsonrpc":"2.0","id":"x","result":null}`, kind: kindSuccess, id: `"x"`, idKey: "x"},
		{name: "error", in: `{"jsonrpc":"2.0","id":3,"error":{"code":-32000,"message":"m"}}`, kind: kindError, id: `3`, idKey: "3"},
		{name: "error without id", in: `{"jsonrpc":"2.0","error":{"code":-32000,"message":"m","data":null}}`, kind: kindError},
		{name: "batch", in: `[{"jsonrpc":"2.0","method":"a.b","id":"x"}]`},
		{name: "not JSON", in: `{"jsonrpc":`},
		{name: "string", in: `"a.b"`},
		{name: "null", in: `null`},
		{name: "no jsonrpc", in: `{"method":"a.b","id":"x"}`},
		{name: "jsonrpc number", in: `{"jsonrpc":2.0,"method":"a.b","id":"x"}`},
		{name: "no dot", in: `{"jsonrpc":"2.0","method":"ab","id":"x"}`},
		{name: "empty method", in: `{"jsonrpc":"2.0","method":"a.","id":"x"}`},
		{name: "upper-case service", in: `{"jsonrpc":"2.0","method":"A.b","id":"x"}`},
		{name: "method starts upper-case", in: `{"jsonrpc":"2.0","method":"a.Bc","id":"x"}`},
		{name: "hyphenated method", in: `{"jsonrpc":"2.0","method":"a.b-c","id":"x"}`},
		{name: "float id", in: `{"jsonrpc":"2.0","method":"a.b","id":1.0}`},
		{name: "exponent id", in: `{"jsonrpc":"2.0","method":"a.b","id":1e3}`},
		{name: "bool id", in: `{"jsonrpc":"2.0","method":"a.b","id":false}`},
		{name: "object id", in: `{"jsonrpc":"2.0","method":"a.b","id":{}}`},
		{name: "success without id", in: `{"jsonrpc":"2.0","result":1}`},
		{name: "success with null id", in: `{"jsonrpc":"2.0","result":1,"id":null}`},
		{name: "result and error", in: `{"jsonrpc":"2.0","id":"x","result":1,"error":{"code":1,"message":"m"}}`},
		{name: "error not an object", in: `{"jsonrpc":"2.0","id":"x","error":"boom"}`},
		{name: "error code float", in: `{"jsonrpc":"2.0","id":"x","error":{"code":1.5,"message":"m"}}`},
		{name: "error without message", in: `{"jsonrpc":"2.0","id":"x","error":{"code":1}}`},
		{name: "method not a string and nothing else", in: `{"jsonrpc":"2.0","method":5,"id":"x"}`},
		{name: "empty object", in: `{}`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			env, err := parseEnvelope([]byte(tt.in))
			if tt.kind == 0 {
				require.Error(t, err, "parsed as %+v", env)
				return
			}
			require.NoError(t, err)
			require.Equal(t, tt.kind, env.kind)
			require.Equal(t, tt.service, env.service)
			require.Equal(t, tt.method, env.method)
			require.Equal(t, tt.params, string(env.params))
			require.Equal(t, tt.id, string(env.id))
			if tt.id != "" {
				require.Equal(t, tt.idKey, env.idKey())
			}
		})
	}
}
