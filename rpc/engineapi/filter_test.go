package engineapi

import (
	"testing"

	"github.com/stretchr/testify/require"
	"go.mongodb.org/mongo-driver/v2/bson"
)

func TestWireFilter(t *testing.T) {
	for _, tt := range []struct {
		in   string
		want map[string]any // nil: invalid
	}{
		{`{}`, map[string]any{}},
		{`{"tag": "demo", "n": 5, "f": 5.0, "ok": true, "none": null}`, map[string]any{"tag": "demo", "n": int64(5), "f": 5.0, "ok": true, "none": nil}},
		{`{"a.b": 1}`, map[string]any{"a.b": int64(1)}},
		{`{"tag": {"eq": "demo", "ne": null, "in": null, "nin": null, "exists": null, "gt": null, "gte": null, "lt": null, "lte": null}}`,
			map[string]any{"tag": doc("eq", "demo", "exists", nil, "gt", nil, "gte", nil, "in", nil, "lt", nil, "lte", nil, "ne", nil, "nin", nil)}},
		{`{"tag": {"in": ["a", 2]}}`, map[string]any{"tag": doc("in", []any{"a", int64(2)})}},
		{`{"AND": [{"a": 1}, {"OR": [{"b": 2}]}]}`, map[string]any{"AND": []any{doc("a", int64(1)), doc("OR", []any{doc("b", int64(2))})}}},
		{`{"NOT": {"b": 1, "a": 2}}`, map[string]any{"NOT": doc("a", int64(2), "b", int64(1))}},
		{`{"AND": "x"}`, map[string]any{"AND": "x"}}, // a plain key named AND
		{`[]`, nil},
		{`"tag"`, nil},
		{`null`, nil},
		{`{"AND": []}`, nil},
		{`{"AND": [1]}`, nil},
		{`{"NOT": 3}`, map[string]any{"NOT": int64(3)}},
		{`{"NOT": [1]}`, nil},
		{`{"a..b": 1}`, nil},
		{`{"$where": 1}`, nil},
		{`{"tag": [1, 2]}`, nil},
		{`{"tag": {"regex": "x"}}`, nil},
		{`{"tag": {"in": "x"}}`, nil},
		{`{"tag": {"exists": 1}}`, map[string]any{"tag": doc("exists", true)}}, // read as pydantic's lax mode does
		{`{"tag": {"exists": "no"}}`, map[string]any{"tag": doc("exists", false)}},
		{`{"tag": {"exists": 2}}`, nil},
		{`{"tag": {"exists": "maybe"}}`, nil},
		{`{"tag": {"eq": {"x": 1}}}`, nil},
	} {
		var f Filter
		err := f.UnmarshalJSON([]byte(tt.in))
		if tt.want == nil {
			require.Error(t, err, tt.in)
			continue
		}
		require.NoError(t, err, tt.in)
		require.Equal(t, tt.want, map[string]any(f), tt.in)
	}
}

// doc builds a bson.D from alternating keys and values.
func doc(kv ...any) bson.D {
	d := bson.D{}
	for i := 0; i < len(kv); i += 2 {
		d = append(d, bson.E{Key: kv[i].(string), Value: kv[i+1]})
	}
	return d
}
