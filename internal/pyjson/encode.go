package pyjson

import (
	"bytes"
	"encoding"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"math"
	"reflect"
	"slices"
	"strconv"
	"strings"
	"unicode/utf16"
	"unicode/utf8"
)

// maxDepth stops runaway recursion through cyclic pointers.
const maxDepth = 1000

// Member is one key of an Object.
type Member struct {
	Key   string
	Value any
}

// Object is a JSON object whose keys are written in the order given, which a
// Go map cannot express.
type Object []Member

// Marshal returns the Python-layout JSON encoding of v. A panic in a
// MarshalJSON or MarshalText method is returned as an error, so that a bad
// value cannot take a server down.
func Marshal(v any) ([]byte, error) { return marshal(v, &encoder{}) }

// MarshalCompact returns the encoding of v that Python's json.dumps(v,
// separators=(",", ":"), ensure_ascii=False) writes: no spaces, and
// characters outside ASCII as they are (only quotes, backslashes and control
// characters are escaped). Everything else is as Marshal.
func MarshalCompact(v any) ([]byte, error) { return marshal(v, &encoder{compact: true}) }

func marshal(v any, e *encoder) (out []byte, err error) {
	defer func() {
		if r := recover(); r != nil {
			out, err = nil, fmt.Errorf("pyjson: panic while encoding %T: %v", v, r)
		}
	}()
	if err := e.value(reflect.ValueOf(v), 0); err != nil {
		return nil, err
	}
	return e.buf, nil
}

// Reformat rewrites valid JSON text in Python's layout.
func Reformat(text []byte) ([]byte, error) {
	e := &encoder{}
	if err := e.reformat(text); err != nil {
		return nil, err
	}
	return e.buf, nil
}

type encoder struct {
	buf []byte
	// compact drops the spaces after separators and leaves non-ASCII
	// characters unescaped (Python's separators=(",", ":"),
	// ensure_ascii=False).
	compact bool
}

func (e *encoder) itemSep() {
	if e.compact {
		e.buf = append(e.buf, ',')
		return
	}
	e.buf = append(e.buf, ", "...)
}

func (e *encoder) keySep() {
	if e.compact {
		e.buf = append(e.buf, ':')
		return
	}
	e.buf = append(e.buf, ": "...)
}

var (
	marshalerType     = reflect.TypeFor[json.Marshaler]()
	textMarshalerType = reflect.TypeFor[encoding.TextMarshaler]()
	numberType        = reflect.TypeFor[json.Number]()
	objectType        = reflect.TypeFor[Object]()
)

func (e *encoder) value(v reflect.Value, depth int) error {
	if depth > maxDepth {
		return fmt.Errorf("pyjson: value nested deeper than %d levels (cycle?)", maxDepth)
	}
	if !v.IsValid() {
		e.buf = append(e.buf, "null"...)
		return nil
	}
	t := v.Type()
	if t == objectType {
		return e.object(v.Interface().(Object), depth)
	}
	if t == numberType {
		return e.number(v.String())
	}
	if done, err := e.marshaler(v); done {
		return err
	}
	switch t.Kind() {
	case reflect.Bool:
		e.buf = strconv.AppendBool(e.buf, v.Bool())
	case reflect.Int, reflect.Int8, reflect.Int16, reflect.Int32, reflect.Int64:
		e.buf = strconv.AppendInt(e.buf, v.Int(), 10)
	case reflect.Uint, reflect.Uint8, reflect.Uint16, reflect.Uint32, reflect.Uint64, reflect.Uintptr:
		e.buf = strconv.AppendUint(e.buf, v.Uint(), 10)
	case reflect.Float32, reflect.Float64:
		return e.float(v.Float(), t.Bits())
	case reflect.String:
		e.string(v.String())
	case reflect.Interface, reflect.Pointer:
		if v.IsNil() {
			e.buf = append(e.buf, "null"...)
			return nil
		}
		return e.value(v.Elem(), depth+1)
	case reflect.Struct:
		return e.structValue(v, depth)
	case reflect.Map:
		return e.mapValue(v, depth)
	case reflect.Slice:
		if v.IsNil() {
			e.buf = append(e.buf, "null"...)
			return nil
		}
		if t.Elem().Kind() == reflect.Uint8 && !reflect.PointerTo(t.Elem()).Implements(marshalerType) &&
			!reflect.PointerTo(t.Elem()).Implements(textMarshalerType) {
			e.buf = append(e.buf, '"')
			e.buf = base64.StdEncoding.AppendEncode(e.buf, v.Bytes())
			e.buf = append(e.buf, '"')
			return nil
		}
		return e.array(v, depth)
	case reflect.Array:
		return e.array(v, depth)
	default:
		return fmt.Errorf("pyjson: unsupported type %s", t)
	}
	return nil
}

// marshaler handles values that encode themselves. It reports whether it
// wrote v.
func (e *encoder) marshaler(v reflect.Value) (bool, error) {
	t := v.Type()
	if t.Kind() != reflect.Pointer && v.CanAddr() && reflect.PointerTo(t).Implements(marshalerType) {
		v = v.Addr()
		t = v.Type()
	}
	if t.Implements(marshalerType) {
		if (t.Kind() == reflect.Pointer || t.Kind() == reflect.Interface) && v.IsNil() {
			e.buf = append(e.buf, "null"...)
			return true, nil
		}
		text, err := v.Interface().(json.Marshaler).MarshalJSON()
		if err != nil {
			return true, fmt.Errorf("pyjson: %s.MarshalJSON: %w", t, err)
		}
		if err := e.reformat(text); err != nil {
			return true, fmt.Errorf("pyjson: %s.MarshalJSON returned bad JSON: %w", t, err)
		}
		return true, nil
	}
	if t.Kind() != reflect.Pointer && v.CanAddr() && reflect.PointerTo(t).Implements(textMarshalerType) {
		v = v.Addr()
		t = v.Type()
	}
	if t.Implements(textMarshalerType) {
		if (t.Kind() == reflect.Pointer || t.Kind() == reflect.Interface) && v.IsNil() {
			e.buf = append(e.buf, "null"...)
			return true, nil
		}
		text, err := v.Interface().(encoding.TextMarshaler).MarshalText()
		if err != nil {
			return true, fmt.Errorf("pyjson: %s.MarshalText: %w", t, err)
		}
		e.string(string(text))
		return true, nil
	}
	return false, nil
}

func (e *encoder) object(o Object, depth int) error {
	e.buf = append(e.buf, '{')
	for i, m := range o {
		if i > 0 {
			e.itemSep()
		}
		e.string(m.Key)
		e.keySep()
		if err := e.value(reflect.ValueOf(m.Value), depth+1); err != nil {
			return err
		}
	}
	e.buf = append(e.buf, '}')
	return nil
}

func (e *encoder) structValue(v reflect.Value, depth int) error {
	e.buf = append(e.buf, '{')
	first := true
	for _, f := range FieldsOf(v.Type()) {
		fv, ok := fieldByIndex(v, f.Index)
		if !ok || (f.OmitEmpty && isEmpty(fv)) || (f.OmitZero && isZero(fv)) {
			continue
		}
		if !first {
			e.itemSep()
		}
		first = false
		e.string(f.Name)
		e.keySep()
		if f.Quoted {
			if err := e.quoted(fv, depth); err != nil {
				return err
			}
			continue
		}
		if err := e.value(fv, depth+1); err != nil {
			return err
		}
	}
	e.buf = append(e.buf, '}')
	return nil
}

// quoted writes a scalar field tagged with the ",string" option as a JSON
// string holding its encoding, as encoding/json does.
func (e *encoder) quoted(v reflect.Value, depth int) error {
	for v.Kind() == reflect.Pointer {
		if v.IsNil() {
			e.buf = append(e.buf, "null"...)
			return nil
		}
		v = v.Elem()
	}
	switch v.Kind() {
	case reflect.Bool, reflect.Int, reflect.Int8, reflect.Int16, reflect.Int32, reflect.Int64,
		reflect.Uint, reflect.Uint8, reflect.Uint16, reflect.Uint32, reflect.Uint64, reflect.Uintptr,
		reflect.Float32, reflect.Float64, reflect.String:
		inner := &encoder{compact: e.compact}
		if err := inner.value(v, depth+1); err != nil {
			return err
		}
		e.string(string(inner.buf))
		return nil
	}
	return e.value(v, depth+1)
}

// fieldByIndex walks to an embedded field, reporting false when an embedded
// pointer on the way is nil.
func fieldByIndex(v reflect.Value, index []int) (reflect.Value, bool) {
	for i, x := range index {
		if i > 0 && v.Kind() == reflect.Pointer {
			if v.IsNil() {
				return reflect.Value{}, false
			}
			v = v.Elem()
		}
		v = v.Field(x)
	}
	return v, true
}

func isEmpty(v reflect.Value) bool {
	switch v.Kind() {
	case reflect.Array, reflect.Map, reflect.Slice, reflect.String:
		return v.Len() == 0
	case reflect.Bool, reflect.Int, reflect.Int8, reflect.Int16, reflect.Int32, reflect.Int64,
		reflect.Uint, reflect.Uint8, reflect.Uint16, reflect.Uint32, reflect.Uint64, reflect.Uintptr,
		reflect.Float32, reflect.Float64, reflect.Interface, reflect.Pointer:
		return v.IsZero()
	}
	return false
}

func isZero(v reflect.Value) bool {
	if z, ok := v.Interface().(interface{ IsZero() bool }); ok {
		if (v.Kind() == reflect.Pointer || v.Kind() == reflect.Interface) && v.IsNil() {
			return true
		}
		return z.IsZero()
	}
	return v.IsZero()
}

func (e *encoder) mapValue(v reflect.Value, depth int) error {
	if v.IsNil() {
		e.buf = append(e.buf, "null"...)
		return nil
	}
	type entry struct {
		key string
		val reflect.Value
	}
	entries := make([]entry, 0, v.Len())
	iter := v.MapRange()
	for iter.Next() {
		k, err := mapKey(iter.Key())
		if err != nil {
			return err
		}
		entries = append(entries, entry{k, iter.Value()})
	}
	slices.SortFunc(entries, func(a, b entry) int { return strings.Compare(a.key, b.key) })
	e.buf = append(e.buf, '{')
	for i, en := range entries {
		if i > 0 {
			e.itemSep()
		}
		e.string(en.key)
		e.keySep()
		if err := e.value(en.val, depth+1); err != nil {
			return err
		}
	}
	e.buf = append(e.buf, '}')
	return nil
}

func mapKey(k reflect.Value) (string, error) {
	if k.Kind() == reflect.String {
		return k.String(), nil
	}
	if tm, ok := k.Interface().(encoding.TextMarshaler); ok {
		if k.Kind() == reflect.Pointer && k.IsNil() {
			return "", nil
		}
		text, err := tm.MarshalText()
		return string(text), err
	}
	switch k.Kind() {
	case reflect.Int, reflect.Int8, reflect.Int16, reflect.Int32, reflect.Int64:
		return strconv.FormatInt(k.Int(), 10), nil
	case reflect.Uint, reflect.Uint8, reflect.Uint16, reflect.Uint32, reflect.Uint64, reflect.Uintptr:
		return strconv.FormatUint(k.Uint(), 10), nil
	}
	return "", fmt.Errorf("pyjson: unsupported map key type %s", k.Type())
}

func (e *encoder) array(v reflect.Value, depth int) error {
	e.buf = append(e.buf, '[')
	for i := range v.Len() {
		if i > 0 {
			e.itemSep()
		}
		if err := e.value(v.Index(i), depth+1); err != nil {
			return err
		}
	}
	e.buf = append(e.buf, ']')
	return nil
}

// float writes f as Python's repr does: the shortest text that round-trips,
// always with a fraction or an exponent, in exponent form below 1e-4 and from
// 1e16 up.
func (e *encoder) float(f float64, bits int) error {
	if math.IsNaN(f) || math.IsInf(f, 0) {
		return fmt.Errorf("pyjson: unsupported float value %v", f)
	}
	abs := math.Abs(f)
	if abs != 0 && (abs < 1e-4 || abs >= 1e16) {
		e.buf = strconv.AppendFloat(e.buf, f, 'e', -1, bits)
		return nil
	}
	start := len(e.buf)
	e.buf = strconv.AppendFloat(e.buf, f, 'f', -1, bits)
	if !bytes.ContainsRune(e.buf[start:], '.') {
		e.buf = append(e.buf, ".0"...)
	}
	return nil
}

// number writes a JSON number literal the way Python would after parsing it:
// integers as they are, anything with a fraction or exponent as a float.
func (e *encoder) number(lit string) error {
	if lit == "" {
		lit = "0"
	}
	if !json.Valid([]byte(lit)) || lit[0] == '"' || lit[0] == '{' || lit[0] == '[' || lit[0] == 't' || lit[0] == 'f' || lit[0] == 'n' {
		return fmt.Errorf("pyjson: invalid number literal %q", lit)
	}
	if !strings.ContainsAny(lit, ".eE") {
		if lit == "-0" {
			lit = "0"
		}
		e.buf = append(e.buf, lit...)
		return nil
	}
	f, err := strconv.ParseFloat(lit, 64)
	if err != nil {
		return fmt.Errorf("pyjson: number %q: %w", lit, err)
	}
	return e.float(f, 64)
}

const hex = "0123456789abcdef"

// string writes s quoted with Python's ensure_ascii escaping (compact: only
// quotes, backslashes and control characters escaped). Invalid UTF-8 bytes
// become U+FFFD, as in encoding/json.
func (e *encoder) string(s string) {
	e.buf = append(e.buf, '"')
	for _, r := range s {
		switch r {
		case '"':
			e.buf = append(e.buf, `\"`...)
		case '\\':
			e.buf = append(e.buf, `\\`...)
		case '\n':
			e.buf = append(e.buf, `\n`...)
		case '\r':
			e.buf = append(e.buf, `\r`...)
		case '\t':
			e.buf = append(e.buf, `\t`...)
		case '\b':
			e.buf = append(e.buf, `\b`...)
		case '\f':
			e.buf = append(e.buf, `\f`...)
		default:
			switch {
			case r < 0x20:
				e.escape(r)
			case e.compact:
				e.buf = utf8.AppendRune(e.buf, r)
			case r >= 0x7f && r < utf8.RuneSelf:
				e.escape(r)
			case r < utf8.RuneSelf:
				e.buf = append(e.buf, byte(r))
			case r > 0xffff:
				hi, lo := utf16.EncodeRune(r)
				e.escape(hi)
				e.escape(lo)
			default:
				e.escape(r)
			}
		}
	}
	e.buf = append(e.buf, '"')
}

func (e *encoder) escape(r rune) {
	e.buf = append(e.buf, '\\', 'u', hex[r>>12&0xf], hex[r>>8&0xf], hex[r>>4&0xf], hex[r&0xf])
}
