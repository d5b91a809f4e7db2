package engineapi

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"maps"
	"regexp"
	"slices"
	"strconv"
	"strings"

	"go.mongodb.org/mongo-driver/v2/bson"

	"github.com/optio-temporal/optio/internal/pylax"
)

// Filter is a metadata filter as the contract's Filter schema admits it
// (the generated models of optio-core validate the same shapes):
//
//   - {"AND": [Filter, ...]} or {"OR": [Filter, ...]}, at least one item, no
//     other key;
//   - {"NOT": Filter};
//   - {"<path>": scalar, ...}, the flat form, or {"<path>": {"eq": ..., "in":
//     [...], "exists": true, ...}, ...} with the operators eq, ne, in, nin,
//     exists, gt, gte, lt, lte, where a path is dot-separated segments without
//     '.' or '$'.
//
// {} is valid and matches everything. Like optio-core, the engine does not
// interpret the rich forms: a value is compared as a literal (Go equality
// for launch blocks, Mongo equality for group cancels). Numbers become int64
// when written without a fraction or exponent and float64 otherwise, so
// that they compare with stored numbers as Python's would; nested objects
// have their keys sorted.
type Filter map[string]any

// UnmarshalJSON validates the filter; an error becomes -32602.
func (f *Filter) UnmarshalJSON(b []byte) error {
	dec := json.NewDecoder(bytes.NewReader(b))
	dec.UseNumber()
	var v any
	if err := dec.Decode(&v); err != nil {
		return err
	}
	m, ok := v.(map[string]any)
	if !ok {
		return errors.New("filter must be an object")
	}
	if err := checkFilter(m, 0); err != nil {
		return err
	}
	for k, e := range m {
		m[k] = storable(e)
	}
	*f = m
	return nil
}

var filterPathRE = regexp.MustCompile(`^[^.$]+(\.[^.$]+)*$`)

// maxFilterDepth bounds how deep AND, OR and NOT nest. optio-core's models
// have no bound; a NOT nested 1,000 deep reached the database and came back
// as an internal error.
const maxFilterDepth = 32

var errFilterTooDeep = fmt.Errorf("filter nests AND, OR and NOT more than %d levels deep", maxFilterDepth)

var filterOps = map[string]bool{"eq": true, "ne": true, "in": true, "nin": true, "exists": true, "gt": true, "gte": true, "lt": true, "lte": true}

// checkFilter accepts m when any form of the schema accepts it, as a union
// of models does.
func checkFilter(m map[string]any, depth int) error {
	if depth > maxFilterDepth {
		return errFilterTooDeep
	}
	for k := range m {
		if strings.ContainsRune(k, 0) {
			return fmt.Errorf("filter key %q contains a NUL byte", k)
		}
	}
	if len(m) == 1 {
		for k, v := range m {
			var err error
			switch k {
			case "AND", "OR":
				err = checkFilterList(k, v, depth)
			case "NOT":
				err = checkSubFilter(k, v, depth)
			default:
				return checkFieldFilter(m)
			}
			if err == nil || checkFieldFilter(m) == nil {
				return nil
			}
			return err
		}
	}
	return checkFieldFilter(m)
}

func checkFilterList(op string, v any, depth int) error {
	items, ok := v.([]any)
	if !ok || len(items) == 0 {
		return fmt.Errorf("%s needs a list of at least one filter", op)
	}
	for i, it := range items {
		if err := checkSubFilter(op+"["+strconv.Itoa(i)+"]", it, depth); err != nil {
			return err
		}
	}
	return nil
}

func checkSubFilter(where string, v any, depth int) error {
	m, ok := v.(map[string]any)
	if !ok {
		return fmt.Errorf("%s: a filter must be an object", where)
	}
	if err := checkFilter(m, depth+1); err != nil {
		if errors.Is(err, errFilterTooDeep) {
			return err // its path would repeat NOT 32 times
		}
		return fmt.Errorf("%s: %w", where, err)
	}
	return nil
}

func checkFieldFilter(m map[string]any) error {
	for path, v := range m {
		if !filterPathRE.MatchString(path) {
			return fmt.Errorf("%q is not a metadata path (dot-separated keys without '.' or '$')", path)
		}
		if isFilterScalar(v) {
			continue
		}
		ops, ok := v.(map[string]any)
		if !ok {
			return fmt.Errorf("%s: a condition must be a string, number, boolean, null or an operator object", path)
		}
		for op, arg := range ops {
			if strings.ContainsRune(op, 0) {
				return fmt.Errorf("%s: operator %q contains a NUL byte", path, op)
			}
			if !filterOps[op] {
				return fmt.Errorf("%s: unknown operator %q (want eq, ne, in, nin, exists, gt, gte, lt or lte)", path, op)
			}
			switch op {
			case "exists":
				if arg == nil {
					continue
				}
				b, err := pylax.Bool(arg) // "yes" and 1 too, as optio-core's models read them
				if err != nil {
					return fmt.Errorf("%s.exists must be a boolean", path)
				}
				ops[op] = b
			case "in", "nin":
				if arg == nil {
					continue
				}
				items, isList := arg.([]any)
				if !isList {
					return fmt.Errorf("%s.%s must be a list", path, op)
				}
				for _, it := range items {
					if !isFilterScalar(it) {
						return fmt.Errorf("%s.%s items must be strings, numbers, booleans or null", path, op)
					}
				}
			default:
				if !isFilterScalar(arg) {
					return fmt.Errorf("%s.%s must be a string, number, boolean or null", path, op)
				}
			}
		}
	}
	return nil
}

func isFilterScalar(v any) bool {
	switch v.(type) {
	case nil, string, bool, json.Number:
		return true
	}
	return false
}

// storable turns a decoded filter value into what the engine stores and
// compares: json.Number (which BSON would store as a string) becomes int64 or
// float64, and a nested object becomes a bson.D with sorted keys. A Go map
// would be stored in random key order, and Mongo compares embedded documents
// key by key in order, so a persisted block could then not be found again
// by unblockLaunches with the same filter.
func storable(v any) any {
	switch x := v.(type) {
	case json.Number:
		if !strings.ContainsAny(string(x), ".eE") {
			if n, err := x.Int64(); err == nil {
				return n
			}
		}
		f, _ := x.Float64()
		return f
	case map[string]any:
		d := make(bson.D, 0, len(x))
		for _, k := range slices.Sorted(maps.Keys(x)) {
			d = append(d, bson.E{Key: k, Value: storable(x[k])})
		}
		return d
	case []any:
		for i, e := range x {
			x[i] = storable(e)
		}
		return x
	}
	return v
}

// LaunchFilter is the filter of blockLaunches and unblockLaunches: a
// Filter whose keys are metadata keys, compared with a task's metadata
// key by key, so a key may not contain '.' (optio-core reads it as a
// literal key that no metadata could be stored under, and the mirror cannot
// store it).
type LaunchFilter Filter

// UnmarshalJSON validates the filter as Filter does and refuses dotted
// keys; an error becomes -32602.
func (f *LaunchFilter) UnmarshalJSON(b []byte) error {
	var w Filter
	if err := w.UnmarshalJSON(b); err != nil {
		return err
	}
	// Checked on the decoded JSON: w's nested filters are bson.D by now.
	var raw map[string]any
	if err := json.Unmarshal(b, &raw); err != nil {
		return err
	}
	if err := checkLaunchKeys(raw, 0); err != nil {
		return err
	}
	*f = LaunchFilter(w)
	return nil
}

// checkLaunchKeys refuses a dotted key anywhere in a launch filter.
func checkLaunchKeys(m map[string]any, depth int) error {
	for k, v := range m {
		switch k {
		case "AND", "OR", "NOT":
			if depth > maxFilterDepth {
				continue
			}
			subs, _ := v.([]any)
			if sub, ok := v.(map[string]any); ok {
				subs = []any{sub}
			}
			for _, s := range subs {
				if sm, ok := s.(map[string]any); ok {
					if err := checkLaunchKeys(sm, depth+1); err != nil {
						return err
					}
				}
			}
			continue
		}
		if strings.Contains(k, ".") {
			return fmt.Errorf("%q: a launch filter key is a metadata key and cannot contain '.'", k)
		}
	}
	return nil
}
