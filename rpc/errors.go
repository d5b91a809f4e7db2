package rpc

import (
	"errors"
	"fmt"
	"reflect"
	"strings"

	"github.com/optio-temporal/optio/internal/pyjson"
)

// JSON-RPC error codes used by clamator. Only CodeMethodNotFound,
// CodeInvalidParams and CodeInternalError are ever sent by a server; invalid
// envelopes and unparsable JSON are acknowledged and dropped without a reply.
const (
	CodeParseError     = -32700
	CodeInvalidRequest = -32600
	CodeMethodNotFound = -32601
	CodeInvalidParams  = -32602
	CodeInternalError  = -32603
)

// The exact messages the reference servers send with their error codes.
const (
	msgMethodNotFound   = "Method not found"
	msgInvalidParams    = "Invalid params"
	msgInternalError    = "Internal error"
	msgResultValidation = "Result validation failed"
)

var (
	// ErrTransportStopped is returned by calls pending on, or made after,
	// Client.Close.
	ErrTransportStopped = errors.New("transport stopped")
	// ErrCallTimeout is returned when no reply arrives within the call's
	// timeout. The server may still run the call.
	ErrCallTimeout = errors.New("call timeout")
	// ErrSendFailed is returned when a call or notification cannot be
	// written to Redis; the Redis error is wrapped too.
	ErrSendFailed = errors.New("xadd failed")
	// ErrServerStarted is returned by Server.Register after Start.
	ErrServerStarted = errors.New("rpc: server already started")
	// ErrServerStopped is returned by Server.Start after Stop.
	ErrServerStopped = errors.New("rpc: server stopped")
)

// Error is a JSON-RPC error object. A handler returns one (possibly wrapped)
// to send that exact error to the caller; Client.Call returns one for every
// error reply, so errors.As finds it.
type Error struct {
	// Code is the JSON-RPC error code. Applications should use codes outside
	// -32768..-32000, such as -32001 or -32100..-32199.
	Code int
	// Message is a short description.
	Message string
	// Data is any JSON-encodable detail, or nil for null. In errors returned
	// by Client.Call it holds the raw JSON as a json.RawMessage, or nil when
	// the reply had null.
	Data any
}

// Error implements the error interface.
func (e *Error) Error() string {
	if e == nil {
		return "rpc error <nil>"
	}
	return fmt.Sprintf("rpc error %d: %s", e.Code, e.Message)
}

// FieldError is one item of the data of a CodeInvalidParams error, shaped
// like a pydantic validation error so that Python clients see what optio-core
// would send.
type FieldError struct {
	// Type names the failure: "missing", "extra_forbidden", "string_type",
	// "int_type", "int_parsing", "int_from_float", "float_type",
	// "float_parsing", "bool_type", "bool_parsing", "model_type",
	// "dict_type", "list_type", "value_error", ...
	Type string `json:"type"`
	// Loc is the path to the value: keys as strings, list indexes as ints.
	Loc []any `json:"loc"`
	// Msg is the human-readable message.
	Msg string `json:"msg"`
	// Input is the offending value (the enclosing object for "missing").
	Input any `json:"input"`
	// Ctx holds extra facts such as {"class_name": "Params"}.
	Ctx map[string]any `json:"ctx,omitempty"`
	// URL is pydantic's page on the error's type, which a Python server's
	// items end with; the server fills it in (PydanticURLPrefix + Type)
	// when it is empty.
	URL string `json:"url,omitempty"`
}

// PydanticURLPrefix is where FieldError.URL points by default: pydantic's
// documentation of its error types, at the version whose messages
// FieldError's follow.
const PydanticURLPrefix = "https://errors.pydantic.dev/2.13/v/"

// InvalidParams returns the CodeInvalidParams error with data
// {"errors": [...]}, as a Python server sends it. Handlers that validate
// further than the typed decoding can return it themselves.
//
// What the errors repeat of the caller's input is clipped to MaxEchoedBytes
// per piece.
func InvalidParams(errs ...FieldError) *Error {
	capped := make([]FieldError, len(errs))
	for i, e := range errs {
		capped[i] = capFieldError(e)
	}
	errs = capped
	return &Error{Code: CodeInvalidParams, Message: msgInvalidParams, Data: errorsData(errs)}
}

// errorsData is pydantic's {"errors": [...]} layout, each item with its url.
func errorsData(errs []FieldError) any {
	items := make([]FieldError, len(errs))
	for i, e := range errs {
		if e.URL == "" && e.Type != "" {
			e.URL = PydanticURLPrefix + e.Type
		}
		items[i] = e
	}
	return pyjson.Object{{Key: "errors", Value: items}}
}

// internalError turns a handler failure into the -32603 error a Python
// server sends: data {"name": ..., "message": err.Error(), ...}. Where Python
// names the exception's class, Go names the error that says what went wrong:
// the first error in the Unwrap chain with an ErrorName() string method, or
// else the innermost one (the root cause, not the wrappers that annotate it),
// by its type name. That error's exported scalar fields follow, the analogue
// of a Python exception's instance attributes.
func internalError(err error) *Error {
	named := err
	for e := err; e != nil; e = errors.Unwrap(e) {
		named = e
		if _, ok := e.(interface{ ErrorName() string }); ok {
			break
		}
	}
	data := pyjson.Object{{Key: "name", Value: errorName(named)}, {Key: "message", Value: clipText(err.Error())}}
	v := reflect.ValueOf(named)
	for v.Kind() == reflect.Pointer && !v.IsNil() {
		v = v.Elem()
	}
	if v.Kind() == reflect.Struct {
		for _, f := range pyjson.FieldsOf(v.Type()) {
			if f.Name == "name" || f.Name == "message" {
				continue
			}
			fv, err := v.FieldByIndexErr(f.Index)
			if err == nil && fv.CanInterface() && isScalar(fv) {
				data = append(data, pyjson.Member{Key: f.Name, Value: fv.Interface()})
			}
		}
	}
	return &Error{Code: CodeInternalError, Message: msgInternalError, Data: data}
}

func errorName(err error) string {
	if n, ok := err.(interface{ ErrorName() string }); ok {
		return n.ErrorName()
	}
	t := reflect.TypeOf(err)
	for t.Kind() == reflect.Pointer {
		t = t.Elem()
	}
	if t.Name() != "" {
		return t.Name()
	}
	return strings.TrimPrefix(t.String(), "*")
}

func isScalar(v reflect.Value) bool {
	switch v.Kind() {
	case reflect.String, reflect.Bool, reflect.Int, reflect.Int8, reflect.Int16, reflect.Int32, reflect.Int64,
		reflect.Uint, reflect.Uint8, reflect.Uint16, reflect.Uint32, reflect.Uint64, reflect.Float32, reflect.Float64:
		return true
	case reflect.Slice:
		if v.Type().Elem().Kind() == reflect.Uint8 {
			return false
		}
		for i := range v.Len() {
			if !isScalar(v.Index(i)) {
				return false
			}
		}
		return true
	case reflect.Pointer, reflect.Interface:
		return v.IsNil() || isScalar(v.Elem())
	}
	return false
}

// panicError carries a recovered handler panic.
type panicError struct {
	value any
	stack []byte
}

func (p *panicError) Error() string {
	if err, ok := p.value.(error); ok {
		return err.Error()
	}
	return fmt.Sprint(p.value)
}

func (p *panicError) ErrorName() string { return "panic" }
