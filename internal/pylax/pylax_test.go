package pylax

import (
	"encoding/json"
	"errors"
	"math"
	"testing"

	"github.com/stretchr/testify/require"
)

// laxCase is a value, what a reader makes of it, and the type of the
// fault it reports ("" for none).
type laxCase[T any] struct {
	in    any
	want  T
	fault string
}

func check[T any](t *testing.T, read func(any) (T, error), cases []laxCase[T]) {
	t.Helper()
	for _, tt := range cases {
		got, err := read(tt.in)
		fault := ""
		if err != nil {
			var f *Fault
			require.True(t, errors.As(err, &f), "want a *Fault, got %v", err)
			fault = f.Type
		}
		require.Equal(t, tt.fault, fault, "%#v", tt.in)
		require.Equal(t, tt.want, got, "%#v", tt.in)
	}
}

func TestBool(t *testing.T) {
	check(t, Bool, []laxCase[bool]{
		{true, true, ""}, {false, false, ""},
		{"yes", true, ""}, {"YES", true, ""}, {"On", true, ""}, {"t", true, ""}, {"Y", true, ""}, {"1", true, ""}, {"true", true, ""},
		{"no", false, ""}, {"OFF", false, ""}, {"F", false, ""}, {"n", false, ""}, {"0", false, ""}, {"False", false, ""},
		{json.Number("1"), true, ""}, {json.Number("0"), false, ""}, {json.Number("1.0"), true, ""}, {json.Number("0e0"), false, ""},
		{"maybe", false, "bool_parsing"}, {"", false, "bool_parsing"}, {" true", false, "bool_parsing"}, {"2", false, "bool_parsing"},
		{json.Number("2"), false, "bool_parsing"}, {json.Number("-1"), false, "bool_parsing"},
		{json.Number("0.5"), false, "bool_type"}, {nil, false, "bool_type"}, {[]any{}, false, "bool_type"}, {map[string]any{}, false, "bool_type"},
	})
}

func TestInt(t *testing.T) {
	check(t, Int, []laxCase[int64]{
		{json.Number("5"), 5, ""}, {json.Number("-5"), -5, ""}, {json.Number("5.0"), 5, ""}, {json.Number("1e3"), 1000, ""},
		{true, 1, ""}, {false, 0, ""},
		{"5", 5, ""}, {"-5", -5, ""}, {" 5\n", 5, ""}, {"007", 7, ""}, {"0", 0, ""}, {"5.00", 5, ""}, {"-5.0", -5, ""}, {"1_000", 1000, ""},
		{json.Number("1.5"), 0, "int_from_float"}, {json.Number("1e30"), 0, "int_parsing_size"},
		{"1.5", 0, "int_parsing"}, {"five", 0, "int_parsing"}, {"", 0, "int_parsing"}, {"+5", 0, "int_parsing"}, {"5.", 0, "int_parsing"},
		{"1__000", 0, "int_parsing"}, {"_1", 0, "int_parsing"}, {"0x10", 0, "int_parsing"},
		{"99999999999999999999", 0, "int_parsing_size"},
		{nil, 0, "int_type"}, {[]any{1}, 0, "int_type"},
	})
}

func TestFloat(t *testing.T) {
	check(t, func(v any) (float64, error) { return Float(v, 64) }, []laxCase[float64]{
		{json.Number("0.5"), 0.5, ""}, {json.Number("-2"), -2, ""}, {true, 1, ""}, {false, 0, ""},
		{"0.5", 0.5, ""}, {" 0.5 ", 0.5, ""}, {"2", 2, ""}, {"1e3", 1000, ""}, {"1_000.5", 1000.5, ""}, {".5", 0.5, ""},
		{"inf", math.Inf(1), ""}, {"-Infinity", math.Inf(-1), ""},
		{"half", 0, "float_parsing"}, {"", 0, "float_parsing"}, {"0x10", 0, "float_parsing"}, {"1__0", 0, "float_parsing"},
		{nil, 0, "float_type"}, {map[string]any{}, 0, "float_type"},
	})
	got, err := Float("nan", 64)
	require.NoError(t, err)
	require.True(t, math.IsNaN(got))
}
