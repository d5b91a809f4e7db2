// Package pylax reads JSON scalars into booleans and numbers the way
// pydantic (v2) validates a model's fields in its default, lax mode, which is
// how optio-core's generated models check the parameters of an RPC call:
// "yes" and 1 are true, "2" is the integer 2, " 0.5 " is a number.
//
// Each function takes a value as encoding/json decodes it with UseNumber
// (bool, json.Number, string, nil, []any or map[string]any) and returns the
// Go value, or a *Fault naming pydantic's error type and message.
package pylax

import (
	"encoding/json"
	"math"
	"regexp"
	"strconv"
	"strings"
)

// Fault is why a value is not of the field's type, as pydantic reports it.
type Fault struct {
	// Type is pydantic's error type, such as "bool_parsing".
	Type string
	// Msg is pydantic's message for it.
	Msg string
}

// Error returns the fault's type and message, as "bool_parsing: Input ...".
func (f *Fault) Error() string { return f.Type + ": " + f.Msg }

var (
	boolType     = &Fault{"bool_type", "Input should be a valid boolean"}
	boolParsing  = &Fault{"bool_parsing", "Input should be a valid boolean, unable to interpret input"}
	intType      = &Fault{"int_type", "Input should be a valid integer"}
	intParsing   = &Fault{"int_parsing", "Input should be a valid integer, unable to parse string as an integer"}
	intFromFloat = &Fault{"int_from_float", "Input should be a valid integer, got a number with a fractional part"}
	intSize      = &Fault{"int_parsing_size", "Unable to parse input string as an integer, exceeded maximum size"}
	floatType    = &Fault{"float_type", "Input should be a valid number"}
	floatParsing = &Fault{"float_parsing", "Input should be a valid number, unable to parse string as a number"}
)

// Bool reads a bool field: true and false; the numbers 0 and 1 (0.0 and 1.0
// too); and the strings "0", "off", "f", "false", "n", "no", "1", "on", "t",
// "true", "y" and "yes", in any case. Any other string or whole number is a
// "bool_parsing" fault, anything else a "bool_type" one.
func Bool(v any) (bool, error) {
	switch x := v.(type) {
	case bool:
		return x, nil
	case string:
		switch strings.ToLower(x) {
		case "0", "off", "f", "false", "n", "no":
			return false, nil
		case "1", "on", "t", "true", "y", "yes":
			return true, nil
		}
		return false, boolParsing
	case json.Number:
		f, err := x.Float64()
		if err != nil || f != math.Trunc(f) {
			return false, boolType
		}
		switch f {
		case 0:
			return false, nil
		case 1:
			return true, nil
		}
		return false, boolParsing
	}
	return false, boolType
}

// jsonInt is an integer as JSON writes it.
var jsonInt = regexp.MustCompile(`^-?(0|[1-9][0-9]*)$`)

// Int reads an int field: a whole number (5 or 5.0), a bool (as 0 or 1), or a
// string holding an integer, with surrounding white space, leading zeros, a
// fraction of zeros ("5.00") and underscores between digits ("1_000")
// allowed.
func Int(v any) (int64, error) {
	switch x := v.(type) {
	case bool:
		return bit(x), nil
	case json.Number:
		if n, err := strconv.ParseInt(string(x), 10, 64); err == nil {
			return n, nil
		}
		f, err := strconv.ParseFloat(string(x), 64)
		switch {
		case err == nil && f != math.Trunc(f):
			return 0, intFromFloat
		case err == nil && f >= -(1<<63) && f < 1<<63:
			return int64(f), nil
		}
		return 0, intSize
	case string:
		return intString(x)
	}
	return 0, intType
}

func intString(s string) (int64, error) {
	if !jsonInt.MatchString(s) {
		cleaned := strings.TrimLeft(strings.TrimSpace(s), "0")
		if i := strings.IndexByte(cleaned, '.'); i >= 0 {
			if frac := cleaned[i+1:]; frac != "" && strings.Trim(frac, "0") == "" {
				cleaned = cleaned[:i]
			}
		}
		if joined, ok := withoutUnderscores(cleaned); ok {
			cleaned = joined
		} else if cleaned == s {
			return 0, intParsing
		}
		if !jsonInt.MatchString(cleaned) {
			return 0, intParsing
		}
		s = cleaned
	}
	n, err := strconv.ParseInt(s, 10, 64)
	if err != nil {
		return 0, intSize
	}
	return n, nil
}

// bit is a bool as a number field reads it.
func bit(b bool) int64 {
	if b {
		return 1
	}
	return 0
}

// withoutUnderscores removes the underscores of s when Python's int() would
// accept them: none at either end and never two in a row.
func withoutUnderscores(s string) (string, bool) {
	if !strings.Contains(s, "_") || strings.HasPrefix(s, "_") || strings.HasSuffix(s, "_") || strings.Contains(s, "__") {
		return "", false
	}
	return strings.ReplaceAll(s, "_", ""), true
}

// Float reads a float field of bitSize 32 or 64: a number, a bool (as 0 or
// 1), or a string holding a decimal number, "inf" or "nan", with surrounding
// white space and underscores between digits allowed.
func Float(v any, bitSize int) (float64, error) {
	switch x := v.(type) {
	case bool:
		return float64(bit(x)), nil
	case json.Number:
		f, err := strconv.ParseFloat(string(x), bitSize)
		if err != nil {
			return 0, floatType
		}
		return f, nil
	case string:
		if f, ok := decimal(strings.TrimSpace(x), bitSize); ok {
			return f, nil
		}
		if joined, ok := withoutUnderscores(x); ok {
			if f, ok := decimal(joined, bitSize); ok {
				return f, nil
			}
		}
		return 0, floatParsing
	}
	return 0, floatType
}

// decimal parses s as a decimal float (strconv.ParseFloat also takes
// hexadecimal ones, which Python's float() does not).
func decimal(s string, bitSize int) (float64, bool) {
	if strings.ContainsAny(s, "xX_") {
		return 0, false
	}
	f, err := strconv.ParseFloat(s, bitSize)
	return f, err == nil
}
