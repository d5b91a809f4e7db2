package pyjson

import (
	"bytes"
	"encoding/json"
	"math"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
)

type inner struct {
	X int `json:"x"`
}

type Embedded struct {
	E string `json:"e"`
	X int    `json:"x"` // shadowed by outer.X
}

type outer struct {
	Embedded
	*inner
	Name     string    `json:"name"`
	Opt      *string   `json:"opt,omitempty"`
	Zero     time.Time `json:"zero,omitzero"`
	N        int64     `json:"n,string"`
	Skip     string    `json:"-"`
	Untagged bool
	X        int               `json:"x"`
	Raw      json.RawMessage   `json:"raw"`
	M        map[string]string `json:"m"`
	B        []byte            `json:"b"`
	private  int               // unexported fields are never encoded
}

// The expectations are what Python's json.dumps writes for the same value.
func TestMarshalPythonLayout(t *testing.T) {
	tests := []struct {
		name string
		in   any
		want string
	}{
		{"nil", nil, `null`},
		{"ints", []any{1, int8(-2), uint64(math.MaxUint64)}, `[1, -2, 18446744073709551615]`},
		{"floats", []float64{2, 0.1, 1e-05, 1e-4, 9.999e-5, 1e16, 1e15, 9999999999999998, 1.5e300, 5e-324, 123456789012345.6, math.Copysign(0, -1), 2.5},
			`[2.0, 0.1, 1e-05, 0.0001, 9.999e-05, 1e+16, 1000000000000000.0, 9999999999999998.0, 1.5e+300, 5e-324, 123456789012345.6, -0.0, 2.5]`},
		{"strings", "é😀<>&\x7f\u2028\"\\\n\r\t\b\f\x01", `"\u00e9\ud83d\ude00<>&\u007f\u2028\"\\\n\r\t\b\f\u0001"`},
		{"object order", Object{{"jsonrpc", "2.0"}, {"id", json.RawMessage(`42`)}, {"result", map[string]any{"b": 1, "a": []int{}}}},
			`{"jsonrpc": "2.0", "id": 42, "result": {"a": [], "b": 1}}`},
		{"raw relaid out", json.RawMessage(`{"z":1.50,"a":[1e2,"\u00e9",true,null],"z":2}`), `{"z": 1.5, "a": [100.0, "\u00e9", true, null], "z": 2}`},
		{"number", json.Number("5.0"), `5.0`},
		{"nil slice and map", struct {
			S []int        `json:"s"`
			M map[int]bool `json:"m"`
		}{M: map[int]bool{2: true, 10: false}}, `{"s": null, "m": {"10": false, "2": true}}`},
		{"struct", &outer{Embedded: Embedded{E: "e", X: 9}, Name: "n", N: 7, X: 1, Raw: json.RawMessage(`{"k":[]}`), B: []byte("hi"), private: 5},
			`{"e": "e", "name": "n", "n": "7", "Untagged": false, "x": 1, "raw": {"k": []}, "m": null, "b": "aGk="}`},
		{"time", time.Date(2026, 5, 8, 10, 0, 0, 0, time.UTC), `"2026-05-08T10:00:00Z"`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := Marshal(tt.in)
			require.NoError(t, err)
			require.Equal(t, tt.want, string(got))
		})
	}
}

func TestMarshalErrors(t *testing.T) {
	for _, v := range []any{math.NaN(), math.Inf(1), make(chan int), map[[2]int]int{{1, 2}: 3}} {
		_, err := Marshal(v)
		require.Error(t, err, "%#v", v)
	}
	type cyc struct{ P *cyc }
	c := &cyc{}
	c.P = c
	_, err := Marshal(c)
	require.Error(t, err)
}

// Without floats and non-ASCII text, the result is encoding/json's output
// with spaces added.
func TestMarshalMatchesEncodingJSON(t *testing.T) {
	s := "s"
	values := []any{
		&outer{Name: "x", Opt: &s, Zero: time.Unix(1, 0).UTC(), M: map[string]string{"b": "1", "a": "2"}, inner: &inner{X: 3}},
		struct {
			A any    `json:"a,omitempty"`
			B []int  `json:"b,omitempty"`
			C string `json:",omitempty"`
			D *inner `json:"d"`
			E [2]int
		}{E: [2]int{1, 2}},
		map[string]any{"nested": []any{map[string]any{"k": nil}}},
	}
	for _, v := range values {
		want, err := json.Marshal(v)
		require.NoError(t, err)
		got, err := Marshal(v)
		require.NoError(t, err)
		compact, err := compactJSON(got)
		require.NoError(t, err)
		require.Equal(t, string(want), string(compact))
	}
}

func compactJSON(b []byte) ([]byte, error) {
	var buf bytes.Buffer
	err := json.Compact(&buf, b)
	return buf.Bytes(), err
}

type panicky struct{}

func (panicky) MarshalJSON() ([]byte, error) { panic("no") }

func TestMarshalRecoversPanics(t *testing.T) {
	_, err := Marshal([]any{panicky{}})
	require.ErrorContains(t, err, "panic")
}

// The compact layout is Python's json.dumps(v, separators=(",", ":"),
// ensure_ascii=False): no spaces, text outside ASCII as it is, control
// characters still escaped, key order and number forms as Marshal's.
func TestMarshalCompact(t *testing.T) {
	v := Object{
		{Key: "name", Value: "Nightly – part 2 <a&b> \u2028 \x7f"},
		{Key: "ctl", Value: "tab\tnl\nbell\x07"},
		{Key: "n", Value: []any{1, 2.0, 1e-05, nil, true}},
		{Key: "m", Value: map[string]any{"b": "é", "a": Object{{Key: "z", Value: 1}, {Key: "a", Value: 2}}}},
	}
	got, err := MarshalCompact(v)
	require.NoError(t, err)
	require.Equal(t, "{\"name\":\"Nightly – part 2 <a&b> \u2028 \x7f\",\"ctl\":\"tab\\tnl\\nbell\\u0007\","+
		`"n":[1,2.0,1e-05,null,true],"m":{"a":{"z":1,"a":2},"b":"é"}}`, string(got))
	require.True(t, json.Valid(got))

	// Reformatted, it is Marshal's output.
	py, err := Reformat(got)
	require.NoError(t, err)
	want, err := Marshal(v)
	require.NoError(t, err)
	require.Equal(t, string(want), string(py))

	_, err = MarshalCompact(math.NaN())
	require.Error(t, err)
}
