package rpc

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"regexp"
	"strconv"
	"strings"

	"github.com/optio-temporal/optio/internal/pyjson"
)

var (
	serviceRE = regexp.MustCompile(`^[a-z][a-z0-9-]*$`)
	// methodRE is the TypeScript rule since clamator 0.1.6: no hyphens.
	methodRE = regexp.MustCompile(`^[a-z][a-zA-Z0-9]*$`)
)

// envelopeKind says what a parsed envelope is.
type envelopeKind int

const (
	kindRequest envelopeKind = iota + 1
	kindNotification
	kindSuccess
	kindError
)

// envelope is a validated JSON-RPC 2.0 envelope.
type envelope struct {
	kind    envelopeKind
	service string
	method  string
	params  json.RawMessage // {} when absent
	id      json.RawMessage // the raw id token; nil for notifications
	result  json.RawMessage
	err     *Error // Data is a json.RawMessage or nil
}

// idKey is the string form of the id that clients correlate replies by.
func (e *envelope) idKey() string {
	var s string
	if json.Unmarshal(e.id, &s) == nil {
		return s
	}
	return string(e.id)
}

// parseEnvelope applies the reference validation in its order. Any error
// means Invalid Request, which is never sent over Redis.
func parseEnvelope(text []byte) (*envelope, error) {
	text = bytes.TrimSpace(text)
	if len(text) > 0 && text[0] == '[' {
		return nil, errors.New("batch requests not supported")
	}
	var obj map[string]json.RawMessage
	if err := json.Unmarshal(text, &obj); err != nil || obj == nil {
		if err == nil || len(text) == 0 || text[0] != '{' {
			return nil, errors.New("envelope is not an object")
		}
		return nil, fmt.Errorf("bad JSON: %w", err)
	}
	var version string
	if raw, ok := obj["jsonrpc"]; !ok || json.Unmarshal(raw, &version) != nil || version != "2.0" {
		return nil, errors.New(`jsonrpc must be "2.0"`)
	}
	present := func(k string) bool { _, ok := obj[k]; return ok }
	isNull := func(k string) bool { return string(obj[k]) == "null" }

	var method string
	if raw, ok := obj["method"]; ok && raw[0] == '"' && json.Unmarshal(raw, &method) == nil {
		return parseCall(obj, method)
	}
	switch {
	case present("result") && !present("error"):
		if !present("id") || isNull("id") {
			return nil, errors.New("success response needs an id")
		}
		return &envelope{kind: kindSuccess, id: obj["id"], result: obj["result"]}, nil
	case present("error") && !present("result"):
		var e struct {
			Code    *json.Number    `json:"code"`
			Message *string         `json:"message"`
			Data    json.RawMessage `json:"data"`
		}
		if raw := obj["error"]; len(raw) == 0 || raw[0] != '{' || json.Unmarshal(raw, &e) != nil {
			return nil, errors.New("error must be an object")
		}
		if e.Code == nil || e.Message == nil {
			return nil, errors.New("error needs an integer code and a string message")
		}
		code, err := strconv.Atoi(e.Code.String())
		if err != nil {
			return nil, errors.New("error code must be an integer")
		}
		env := &envelope{kind: kindError, err: &Error{Code: code, Message: *e.Message}}
		if e.Data != nil && string(e.Data) != "null" {
			env.err.Data = e.Data
		}
		if present("id") && !isNull("id") {
			env.id = obj["id"]
		}
		return env, nil
	}
	return nil, errors.New("neither a call nor a response")
}

func parseCall(obj map[string]json.RawMessage, method string) (*envelope, error) {
	service, name, ok := strings.Cut(method, ".")
	if !ok || service == "" || name == "" {
		return nil, fmt.Errorf("method %q is not <service>.<method>", method)
	}
	if !serviceRE.MatchString(service) {
		return nil, fmt.Errorf("bad service name %q", service)
	}
	if !methodRE.MatchString(name) {
		return nil, fmt.Errorf("bad method name %q", name)
	}
	env := &envelope{kind: kindNotification, service: service, method: name, params: obj["params"]}
	if env.params == nil {
		env.params = json.RawMessage(`{}`)
	}
	if id, ok := obj["id"]; ok && string(id) != "null" {
		if !validID(id) {
			return nil, errors.New("id must be a string or an integer")
		}
		env.kind = kindRequest
		env.id = id
	}
	return env, nil
}

// validID accepts what the Python server accepts: a string or an integer
// literal (no fraction, no exponent).
func validID(id json.RawMessage) bool {
	switch c := id[0]; {
	case c == '"':
		return true
	case c == '-' || (c >= '0' && c <= '9'):
		return !bytes.ContainsAny(id, ".eE")
	}
	return false
}

// encodeRequest builds a request (or, with a nil id, a notification) in the
// Python layout.
func encodeRequest(service, method string, params any, id string) ([]byte, error) {
	if params == nil {
		params = struct{}{}
	}
	obj := pyjson.Object{
		{Key: "jsonrpc", Value: "2.0"},
		{Key: "method", Value: service + "." + method},
		{Key: "params", Value: params},
	}
	if id != "" {
		obj = append(obj, pyjson.Member{Key: "id", Value: id})
	}
	return pyjson.Marshal(obj)
}

func encodeSuccess(id json.RawMessage, result any) ([]byte, error) {
	return pyjson.Marshal(pyjson.Object{
		{Key: "jsonrpc", Value: "2.0"},
		{Key: "id", Value: id},
		{Key: "result", Value: result},
	})
}

func encodeError(id json.RawMessage, e *Error) ([]byte, error) {
	return pyjson.Marshal(pyjson.Object{
		{Key: "jsonrpc", Value: "2.0"},
		{Key: "id", Value: id},
		{Key: "error", Value: pyjson.Object{
			{Key: "code", Value: e.Code},
			{Key: "message", Value: e.Message},
			{Key: "data", Value: e.Data},
		}},
	})
}
