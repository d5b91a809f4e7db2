package rpc

import (
	"encoding/json"
	"fmt"

	"github.com/optio-temporal/optio/internal/textclip"
)

// MaxEchoedBytes bounds each piece of a caller's input that a -32602 reply
// repeats (a FieldError's input, message, location keys and context
// strings). pydantic repeats the offending input whole, so a 10 MB field
// came back whole; past this size the reply carries its first bytes and its
// length instead. Nothing else in the reply changes.
const MaxEchoedBytes = 1024

// capFieldError clips what e repeats of the caller's input to
// MaxEchoedBytes per piece.
func capFieldError(e FieldError) FieldError {
	e.Msg = clipText(e.Msg)
	e.Loc = append(make([]any, 0, len(e.Loc)), e.Loc...)
	for i, l := range e.Loc {
		if s, ok := l.(string); ok {
			e.Loc[i] = clipText(s)
		}
	}
	if e.Ctx != nil {
		ctx := make(map[string]any, len(e.Ctx))
		for k, v := range e.Ctx {
			if s, ok := v.(string); ok {
				v = clipText(s)
			}
			ctx[k] = v
		}
		e.Ctx = ctx
	}
	switch in := e.Input.(type) {
	case string:
		e.Input = clipText(in)
	case json.RawMessage:
		if len(in) > MaxEchoedBytes {
			var s string
			if json.Unmarshal(in, &s) == nil {
				e.Input = clipText(s)
			} else {
				e.Input = fmt.Sprintf("(a JSON value of %d bytes, not repeated)", len(in))
			}
		}
	}
	return e
}

// clipText returns s, or its first MaxEchoedBytes bytes (cut at a rune
// boundary) followed by a note of its full length.
func clipText(s string) string { return textclip.Clip(s, MaxEchoedBytes) }
