package docstore

import (
	"context"
	"errors"
	"fmt"
	"reflect"
	"slices"
	"strings"

	"go.mongodb.org/mongo-driver/v2/bson"
	"go.mongodb.org/mongo-driver/v2/mongo"

	"github.com/optio-temporal/optio/mirror"
)

// canonicalFilter stores a filter with its keys sorted, so that "the same
// filter" means the same document whatever the order of a Go map.
func canonicalFilter(f map[string]any) bson.D {
	d := bson.D{}
	for _, k := range sortedKeys(f) {
		d = append(d, bson.E{Key: k, Value: canonicalValue(f[k])})
	}
	return d
}

// canonicalValue sorts the keys of nested maps too, at any depth.
func canonicalValue(v any) any {
	switch x := v.(type) {
	case map[string]any:
		return canonicalFilter(x)
	case bson.M:
		return canonicalFilter(map[string]any(x))
	case []any:
		out := make([]any, len(x))
		for i, e := range x {
			out[i] = canonicalValue(e)
		}
		return out
	}
	return v
}

func sortedKeys(m map[string]any) []string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	return keys
}

// AddBlock persists a launch block. A block with the same filter is kept as
// one row; when both have a reason the reasons are joined with " AND ", as
// optio-core does.
func (s *Store) AddBlock(ctx context.Context, filter map[string]any, reason string) error {
	f := canonicalFilter(filter)
	var existing mirror.LaunchBlock
	err := s.blocks.FindOne(ctx, bson.D{{Key: "filter", Value: f}}).Decode(&existing)
	switch {
	case errors.Is(err, mongo.ErrNoDocuments):
		_, err = s.blocks.InsertOne(ctx, bson.D{
			{Key: "_id", Value: bson.NewObjectID()},
			{Key: "filter", Value: f},
			{Key: "createdAt", Value: s.now()},
			{Key: "reason", Value: optionalString(reason)},
		})
	case err == nil:
		if existing.Reason != nil && reason != "" {
			_, err = s.blocks.UpdateOne(ctx, bson.D{{Key: "_id", Value: existing.ID}},
				bson.D{{Key: "$set", Value: bson.D{{Key: "reason", Value: *existing.Reason + " AND " + reason}}}})
		}
	}
	if err != nil {
		return fmt.Errorf("persist launch block: %w", err)
	}
	return nil
}

// RemoveBlocks deletes every persisted block with exactly this filter and
// returns how many went.
func (s *Store) RemoveBlocks(ctx context.Context, filter map[string]any) (int, error) {
	res, err := s.blocks.DeleteMany(ctx, bson.D{{Key: "filter", Value: canonicalFilter(filter)}})
	if err != nil {
		return 0, fmt.Errorf("remove launch blocks: %w", err)
	}
	return int(res.DeletedCount), nil
}

// Blocks returns every persisted launch block.
func (s *Store) Blocks(ctx context.Context) ([]mirror.LaunchBlock, error) {
	cur, err := s.blocks.Find(ctx, bson.D{})
	if err != nil {
		return nil, fmt.Errorf("read launch blocks: %w", err)
	}
	out := []mirror.LaunchBlock{}
	if err := cur.All(ctx, &out); err != nil {
		return nil, fmt.Errorf("read launch blocks: %w", err)
	}
	return out, nil
}

// BlockedError explains why a launch was refused.
type BlockedError struct {
	// Filter is the launch block's metadata filter that matched.
	Filter map[string]any
	// Metadata is the task's metadata it matched.
	Metadata map[string]any
	// Reason is the block's reason, if it gave one.
	Reason string
}

// Error words the refusal as optio-core does.
func (e *BlockedError) Error() string {
	msg := fmt.Sprintf("Launch blocked by filter %s; task metadata=%s", pyRepr(e.Filter), pyRepr(e.Metadata))
	if e.Reason != "" {
		msg += "; reason=" + e.Reason
	}
	return msg
}

// MatchesFilter reports whether metadata matches a flat launch-block filter:
// every filter key must equal metadata's value for that key (a missing key is
// nil); numbers compare by value and a nil or empty filter matches everything.
// Keys are literal keys, not dotted paths, as in optio-core.
func MatchesFilter(metadata, filter map[string]any) bool {
	for k, want := range filter {
		if !looseEqual(metadata[k], want) {
			return false
		}
	}
	return true
}

func looseEqual(a, b any) bool {
	if fa, ok := toFloat(a); ok {
		fb, ok := toFloat(b)
		return ok && fa == fb
	}
	if _, ok := toFloat(b); ok {
		return false
	}
	return reflect.DeepEqual(normalize(a), normalize(b))
}

func toFloat(v any) (float64, bool) {
	switch n := v.(type) {
	case int:
		return float64(n), true
	case int8:
		return float64(n), true
	case int16:
		return float64(n), true
	case int32:
		return float64(n), true
	case int64:
		return float64(n), true
	case uint:
		return float64(n), true
	case uint32:
		return float64(n), true
	case uint64:
		return float64(n), true
	case float32:
		return float64(n), true
	case float64:
		return n, true
	}
	return 0, false
}

// normalize turns BSON documents and arrays into plain maps and slices so that
// values read from Mongo compare equal to values built in Go.
func normalize(v any) any {
	switch x := v.(type) {
	case bson.D:
		m := map[string]any{}
		for _, e := range x {
			m[e.Key] = normalize(e.Value)
		}
		return m
	case bson.M:
		return normalize(map[string]any(x))
	case map[string]any:
		m := make(map[string]any, len(x))
		for k, e := range x {
			m[k] = normalize(e)
		}
		return m
	case bson.A:
		return normalize([]any(x))
	case []any:
		out := make([]any, len(x))
		for i, e := range x {
			out[i] = normalize(e)
		}
		return out
	}
	return v
}

// pyRepr renders a flat map roughly as Python's repr of a dict, for messages
// that mirror optio-core's wording.
func pyRepr(m map[string]any) string {
	var b strings.Builder
	b.WriteString("{")
	for i, k := range sortedKeys(m) {
		if i > 0 {
			b.WriteString(", ")
		}
		fmt.Fprintf(&b, "'%s': %s", k, pyValue(m[k]))
	}
	b.WriteString("}")
	return b.String()
}

func pyValue(v any) string {
	switch x := v.(type) {
	case nil:
		return "None"
	case string:
		return "'" + x + "'"
	case bool:
		if x {
			return "True"
		}
		return "False"
	case map[string]any:
		return pyRepr(x)
	}
	return fmt.Sprint(v)
}
