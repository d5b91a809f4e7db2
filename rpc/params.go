package rpc

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"reflect"
	"strconv"
	"strings"

	"github.com/optio-temporal/optio/internal/pyjson"
	"github.com/optio-temporal/optio/internal/pylax"
)

// DecodeParams decodes params into dst (a non-nil pointer) the way the
// Python server's generated pydantic models validate them, and returns nil
// or an *Error with code CodeInvalidParams whose data lists every problem
// as a FieldError:
//
//   - Keys match json tag names exactly (no case folding). A key that names
//     no field is an error ("extra_forbidden").
//   - A field is required unless it is a pointer or an interface, or has the
//     tag rpc:"optional". A required key that is absent is an error
//     ("missing"). The tag rpc:"required" makes a pointer field required
//     while still accepting null, for contract fields like
//     `sessionId: string | null` whose key must be present.
//   - null is accepted for every optional field and for pointers; it leaves
//     the zero value (nil for pointers).
//   - Scalars are read as pydantic's lax mode reads them (the Python
//     server's default): a bool field takes true and false, 0 and 1, and
//     strings like "true", "yes", "off" or "0"; a number field takes a
//     number, a bool, or a string holding a number ("2", " 0.5 "); an
//     integer field also takes a float with no fraction (5.0). A string
//     field takes only a string.
//   - Types that implement json.Unmarshaler decode themselves; an error they
//     return becomes a "value_error".
func DecodeParams(params json.RawMessage, dst any) error {
	v := reflect.ValueOf(dst)
	if v.Kind() != reflect.Pointer || v.IsNil() {
		return fmt.Errorf("rpc: DecodeParams needs a non-nil pointer, got %T", dst)
	}
	if len(bytes.TrimSpace(params)) == 0 {
		params = json.RawMessage(`{}`)
	}
	var d paramDecoder
	d.decode(v.Elem(), params, []any{})
	if len(d.errs) > 0 {
		return InvalidParams(d.errs...)
	}
	return nil
}

type paramDecoder struct {
	errs []FieldError
}

var unmarshalerType = reflect.TypeFor[json.Unmarshaler]()

func (d *paramDecoder) fail(typ string, loc []any, msg string, input json.RawMessage, ctx map[string]any) {
	d.errs = append(d.errs, FieldError{
		Type:  typ,
		Loc:   append([]any{}, loc...),
		Msg:   msg,
		Input: input,
		Ctx:   ctx,
	})
}

func (d *paramDecoder) decode(v reflect.Value, raw json.RawMessage, loc []any) {
	raw = bytes.TrimSpace(raw)
	isNull := string(raw) == "null"
	t := v.Type()

	if t.Kind() == reflect.Pointer {
		if isNull {
			v.SetZero()
			return
		}
		if v.IsNil() {
			v.Set(reflect.New(t.Elem()))
		}
		d.decode(v.Elem(), raw, loc)
		return
	}
	if reflect.PointerTo(t).Implements(unmarshalerType) {
		if err := v.Addr().Interface().(json.Unmarshaler).UnmarshalJSON(raw); err != nil {
			d.fail("value_error", loc, "Value error, "+err.Error(), raw, map[string]any{"error": err.Error()})
		}
		return
	}

	switch t.Kind() {
	case reflect.Interface:
		if isNull {
			v.SetZero()
			return
		}
		if err := json.Unmarshal(raw, v.Addr().Interface()); err != nil {
			d.fail("value_error", loc, "Value error, "+err.Error(), raw, nil)
		}
	case reflect.Bool:
		b, err := pylax.Bool(scalar(raw))
		if err != nil {
			d.laxFail(err, loc, raw)
			return
		}
		v.SetBool(b)
	case reflect.String:
		if t == reflect.TypeFor[json.Number]() {
			if isNumber(raw) {
				v.SetString(string(raw))
				return
			}
			f, err := pylax.Float(scalar(raw), 64)
			if err != nil {
				d.laxFail(err, loc, raw)
				return
			}
			v.SetString(strconv.FormatFloat(f, 'g', -1, 64))
			return
		}
		var s string
		if raw[0] != '"' || json.Unmarshal(raw, &s) != nil {
			d.fail("string_type", loc, "Input should be a valid string", raw, nil)
			return
		}
		v.SetString(s)
	case reflect.Int, reflect.Int8, reflect.Int16, reflect.Int32, reflect.Int64:
		n, ok := d.integer(raw, loc)
		if !ok {
			return
		}
		if v.OverflowInt(n) {
			d.fail("int_parsing_size", loc, "Unable to parse input string as an integer, exceeded maximum size", raw, nil)
			return
		}
		v.SetInt(n)
	case reflect.Uint, reflect.Uint8, reflect.Uint16, reflect.Uint32, reflect.Uint64, reflect.Uintptr:
		n, ok := d.integer(raw, loc)
		if !ok {
			return
		}
		if n < 0 {
			d.fail("greater_than_equal", loc, "Input should be greater than or equal to 0", raw, map[string]any{"ge": 0})
			return
		}
		if v.OverflowUint(uint64(n)) {
			d.fail("int_parsing_size", loc, "Unable to parse input string as an integer, exceeded maximum size", raw, nil)
			return
		}
		v.SetUint(uint64(n))
	case reflect.Float32, reflect.Float64:
		f, err := pylax.Float(scalar(raw), t.Bits())
		if err != nil {
			d.laxFail(err, loc, raw)
			return
		}
		v.SetFloat(f)
	case reflect.Struct:
		d.structValue(v, raw, loc)
	case reflect.Map:
		if t.Key().Kind() != reflect.String {
			d.fallback(v, raw, loc)
			return
		}
		members, ok := objectMembers(raw)
		if !ok {
			d.fail("dict_type", loc, "Input should be a valid dictionary", raw, nil)
			return
		}
		m := reflect.MakeMapWithSize(t, len(members))
		for _, mb := range members {
			elem := reflect.New(t.Elem()).Elem()
			d.decode(elem, mb.value, append(loc, mb.key))
			m.SetMapIndex(reflect.ValueOf(mb.key).Convert(t.Key()), elem)
		}
		v.Set(m)
	case reflect.Slice:
		if t.Elem().Kind() == reflect.Uint8 {
			d.fallback(v, raw, loc)
			return
		}
		var items []json.RawMessage
		if raw[0] != '[' || json.Unmarshal(raw, &items) != nil {
			d.fail("list_type", loc, "Input should be a valid list", raw, nil)
			return
		}
		s := reflect.MakeSlice(t, len(items), len(items))
		for i, item := range items {
			d.decode(s.Index(i), item, append(loc, i))
		}
		v.Set(s)
	default:
		d.fallback(v, raw, loc)
	}
}

// integer reads an int field as pydantic's lax mode does (pylax.Int).
func (d *paramDecoder) integer(raw json.RawMessage, loc []any) (int64, bool) {
	n, err := pylax.Int(scalar(raw))
	if err != nil {
		d.laxFail(err, loc, raw)
		return 0, false
	}
	return n, true
}

// scalar decodes raw for the pylax readers: a number as json.Number, and
// anything that is not valid JSON as nil (a type fault).
func scalar(raw json.RawMessage) any {
	dec := json.NewDecoder(bytes.NewReader(raw))
	dec.UseNumber()
	var v any
	if dec.Decode(&v) != nil {
		return nil
	}
	return v
}

func (d *paramDecoder) laxFail(err error, loc []any, raw json.RawMessage) {
	var f *pylax.Fault
	if !errors.As(err, &f) {
		f = &pylax.Fault{Type: "value_error", Msg: "Value error, " + err.Error()}
	}
	d.fail(f.Type, loc, f.Msg, raw, nil)
}

func (d *paramDecoder) structValue(v reflect.Value, raw json.RawMessage, loc []any) {
	t := v.Type()
	members, ok := objectMembers(raw)
	if !ok {
		name := t.Name()
		if name == "" {
			name = "Model"
		}
		d.fail("model_type", loc, "Input should be a valid dictionary or instance of "+name, raw,
			map[string]any{"class_name": name})
		return
	}
	byKey := make(map[string]json.RawMessage, len(members))
	for _, mb := range members {
		byKey[mb.key] = mb.value // the last duplicate wins, as in Python
	}
	fields := pyjson.FieldsOf(t)
	known := make(map[string]bool, len(fields))
	for _, f := range fields {
		known[f.Name] = true
		fv, ok := settableField(v, f.Index)
		if !ok {
			continue
		}
		val, present := byKey[f.Name]
		required := isRequired(f)
		floc := append(loc, f.Name)
		switch {
		case !present:
			if required {
				d.fail("missing", floc, "Field required", raw, nil)
			}
		case string(bytes.TrimSpace(val)) == "null" && !required:
			fv.SetZero()
		default:
			d.decode(fv, val, floc)
		}
	}
	for _, mb := range members {
		if !known[mb.key] {
			d.fail("extra_forbidden", append(loc, mb.key), "Extra inputs are not permitted", mb.value, nil)
			known[mb.key] = true // report a duplicated extra key once
		}
	}
}

func isRequired(f pyjson.Field) bool {
	switch f.Tag.Get("rpc") {
	case "required":
		return true
	case "optional":
		return false
	}
	k := f.Type.Kind()
	return k != reflect.Pointer && k != reflect.Interface
}

// settableField walks to an embedded field, allocating nil embedded
// pointers. It reports false for fields reached through an unexported
// embedded pointer, which cannot be allocated.
func settableField(v reflect.Value, index []int) (reflect.Value, bool) {
	for i, x := range index {
		if i > 0 && v.Kind() == reflect.Pointer {
			if v.IsNil() {
				if !v.CanSet() {
					return reflect.Value{}, false
				}
				v.Set(reflect.New(v.Type().Elem()))
			}
			v = v.Elem()
		}
		v = v.Field(x)
	}
	return v, v.CanSet()
}

// fallback leaves types the strict rules do not cover to encoding/json.
func (d *paramDecoder) fallback(v reflect.Value, raw json.RawMessage, loc []any) {
	if err := json.Unmarshal(raw, v.Addr().Interface()); err != nil {
		d.fail("value_error", loc, "Value error, "+err.Error(), raw, nil)
	}
}

type member struct {
	key   string
	value json.RawMessage
}

// objectMembers splits a JSON object into its members in order, or reports
// false if raw is not an object.
func objectMembers(raw json.RawMessage) ([]member, bool) {
	if len(raw) == 0 || raw[0] != '{' {
		return nil, false
	}
	dec := json.NewDecoder(bytes.NewReader(raw))
	if _, err := dec.Token(); err != nil {
		return nil, false
	}
	var out []member
	for dec.More() {
		tok, err := dec.Token()
		if err != nil {
			return nil, false
		}
		var val json.RawMessage
		if err := dec.Decode(&val); err != nil {
			return nil, false
		}
		out = append(out, member{key: tok.(string), value: val})
	}
	if _, err := dec.Token(); err != nil {
		return nil, false
	}
	if _, err := dec.Token(); !errors.Is(err, io.EOF) {
		return nil, false
	}
	return out, true
}

func isNumber(raw json.RawMessage) bool {
	if len(raw) == 0 {
		return false
	}
	c := raw[0]
	return (c == '-' || (c >= '0' && c <= '9')) && json.Valid(raw) && !strings.ContainsAny(string(raw), `"{[`)
}
