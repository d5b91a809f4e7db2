package rpc

import (
	"context"
	"encoding/json"
	"fmt"
)

// HandlerFunc handles one call of a method. params is the envelope's params
// value as sent ({} when the key was absent, null when it was null). The
// result is JSON-encoded in Python's layout; an error is sent as described
// on Server. For a Notification method the result is discarded.
type HandlerFunc func(ctx context.Context, params json.RawMessage) (any, error)

// MethodKind says whether a method answers.
type MethodKind int

const (
	// Request methods send a reply when called with an id. The zero value.
	Request MethodKind = iota
	// Notification methods never reply, not even to a call with an id (the
	// caller times out, as with the reference servers).
	Notification
)

// String returns "request" or "notification" (MethodKind(n) for any other
// value).
func (k MethodKind) String() string {
	switch k {
	case Request:
		return "request"
	case Notification:
		return "notification"
	}
	return fmt.Sprintf("MethodKind(%d)", int(k))
}

// Method is one method of a Service.
type Method struct {
	// Name must match ^[a-z][a-zA-Z0-9]*$ (camelCase, no hyphens).
	Name string
	// Kind is Request (the default) or Notification.
	Kind MethodKind
	// Handler runs the method.
	Handler HandlerFunc
}

// Service is a named set of methods, served from the stream
// <keyPrefix>:cmds:<Name>.
type Service struct {
	// Name must match ^[a-z][a-z0-9-]*$.
	Name string
	// Methods are the service's methods; names must be unique.
	Methods []Method
	// OrderKey, when set, orders the service's calls on each server. It
	// gets the method and params of every call of one of the service's
	// methods, before its handler runs, and returns the call's key. Calls
	// with the same key run one after another, in the order the server took
	// them from the stream, so neither overtakes the other; a call keyed
	// OrderAll runs alone (see OrderAll); calls with different keys, or the
	// empty key, run side by side, up to ServerOptions.Concurrency at once.
	// It must be quick and must not block; a panic keys the call OrderAll.
	// Nil keys every call "": the calls run in any order. StreamOrder gives
	// the reference servers' order, one call at a time.
	//
	// The order holds among the calls one server takes. Calls that several
	// servers share out run in no particular order between them, and an
	// entry that is redelivered (its server died, or its reply could not be
	// written) runs after calls that were behind it.
	OrderKey func(method string, params json.RawMessage) string
}

func (s Service) validate() error {
	if !serviceRE.MatchString(s.Name) {
		return fmt.Errorf("rpc: service name %q does not match %s", s.Name, serviceRE)
	}
	seen := map[string]bool{}
	for _, m := range s.Methods {
		switch {
		case !methodRE.MatchString(m.Name):
			return fmt.Errorf("rpc: service %s: method name %q does not match %s", s.Name, m.Name, methodRE)
		case seen[m.Name]:
			return fmt.Errorf("rpc: service %s: method %q registered twice", s.Name, m.Name)
		case m.Handler == nil:
			return fmt.Errorf("rpc: service %s: method %q has no handler", s.Name, m.Name)
		case m.Kind != Request && m.Kind != Notification:
			return fmt.Errorf("rpc: service %s: method %q has unknown kind %v", s.Name, m.Name, m.Kind)
		}
		seen[m.Name] = true
	}
	return nil
}

// Typed adapts a handler that takes decoded params. The params are decoded
// strictly, as a Python server's generated models do; see DecodeParams. A
// decoding failure answers -32602 without calling fn.
func Typed[P, R any](fn func(ctx context.Context, params P) (R, error)) HandlerFunc {
	return func(ctx context.Context, raw json.RawMessage) (any, error) {
		var p P
		if err := DecodeParams(raw, &p); err != nil {
			return nil, err
		}
		return fn(ctx, p)
	}
}

// TypedNotification is Typed for Notification methods, which return no
// result.
func TypedNotification[P any](fn func(ctx context.Context, params P) error) HandlerFunc {
	return func(ctx context.Context, raw json.RawMessage) (any, error) {
		var p P
		if err := DecodeParams(raw, &p); err != nil {
			return nil, err
		}
		return nil, fn(ctx, p)
	}
}
