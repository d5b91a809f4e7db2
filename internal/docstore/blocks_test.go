package docstore

import (
	"testing"

	"github.com/stretchr/testify/assert"
	"go.mongodb.org/mongo-driver/v2/bson"
)

// A filter is stored with its keys sorted at every depth, so that equal Go
// maps (whose iteration order is random) always make the same document, and
// "the same filter" can be found again by exact equality.
func TestCanonicalFilterSortsNestedKeys(t *testing.T) {
	f := map[string]any{"tag": map[string]any{"d": 4, "a": 1, "c": []any{map[string]any{"z": 1, "y": 2}}, "b": 2}, "env": "eu"}
	want, err := bson.Marshal(canonicalFilter(f))
	assert.NoError(t, err)
	for range 50 {
		got, err := bson.Marshal(canonicalFilter(f))
		assert.NoError(t, err)
		assert.Equal(t, want, got)
	}
	assert.Equal(t, bson.D{{Key: "env", Value: "eu"}, {Key: "tag", Value: bson.D{
		{Key: "a", Value: 1}, {Key: "b", Value: 2}, {Key: "c", Value: []any{bson.D{{Key: "y", Value: 2}, {Key: "z", Value: 1}}}}, {Key: "d", Value: 4},
	}}}, canonicalFilter(f))
}

func TestMatchesFilter(t *testing.T) {
	for _, tc := range []struct {
		name     string
		metadata map[string]any
		filter   map[string]any
		want     bool
	}{
		{"empty filter matches everything", map[string]any{"a": 1}, nil, true},
		{"equal value", map[string]any{"a": "x"}, map[string]any{"a": "x"}, true},
		{"different value", map[string]any{"a": "x"}, map[string]any{"a": "y"}, false},
		{"numbers by value", map[string]any{"n": int32(5)}, map[string]any{"n": 5.0}, true},
		{"missing key is nil", map[string]any{}, map[string]any{"a": nil}, true},
		{"missing key is not a value", map[string]any{}, map[string]any{"a": "x"}, false},
		{"every key must match", map[string]any{"a": 1, "b": 2}, map[string]any{"a": 1, "b": 3}, false},
		{"nested documents compare as values", map[string]any{"t": bson.D{{Key: "k", Value: "v"}}}, map[string]any{"t": map[string]any{"k": "v"}}, true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			assert.Equal(t, tc.want, MatchesFilter(tc.metadata, tc.filter))
		})
	}
}
