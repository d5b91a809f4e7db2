// Package pyjson writes JSON the way Python's json.dumps does with its
// defaults: ", " and ": " separators, every non-ASCII character escaped as
// \uXXXX, floats in Python's repr form (5.0, 1e-05) and integers without a
// fraction. The clamator server in optio-core writes its replies this way,
// and the Go server (package rpc) copies it so that the two cannot be told
// apart on the wire. The optio-engine contract (package rpc/engineapi)
// writes its process documents with it too, in the compact layout
// (MarshalCompact).
//
// Marshal follows encoding/json for everything else: struct tags (including
// omitempty, omitzero and the string option), embedded-field promotion,
// json.Marshaler and encoding.TextMarshaler, sorted map keys and base64 byte
// slices. The output of a json.Marshaler is re-laid out in Python's layout,
// with its numbers parsed and rewritten the way Python's json.loads followed
// by json.dumps would.
package pyjson
