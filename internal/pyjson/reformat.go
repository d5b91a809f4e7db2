package pyjson

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
)

// reformat re-lays out JSON text token by token, keeping key order and
// duplicate keys as they are.
func (e *encoder) reformat(text []byte) error {
	dec := json.NewDecoder(bytes.NewReader(text))
	dec.UseNumber()
	if err := e.reformatValue(dec, 0); err != nil {
		return err
	}
	if _, err := dec.Token(); !errors.Is(err, io.EOF) {
		return errors.New("trailing data after JSON value")
	}
	return nil
}

func (e *encoder) reformatValue(dec *json.Decoder, depth int) error {
	if depth > maxDepth {
		return fmt.Errorf("JSON nested deeper than %d levels", maxDepth)
	}
	tok, err := dec.Token()
	if err != nil {
		return err
	}
	switch tok := tok.(type) {
	case json.Delim:
		switch tok {
		case '{':
			e.buf = append(e.buf, '{')
			for i := 0; dec.More(); i++ {
				if i > 0 {
					e.itemSep()
				}
				key, err := dec.Token()
				if err != nil {
					return err
				}
				e.string(key.(string))
				e.keySep()
				if err := e.reformatValue(dec, depth+1); err != nil {
					return err
				}
			}
			e.buf = append(e.buf, '}')
		case '[':
			e.buf = append(e.buf, '[')
			for i := 0; dec.More(); i++ {
				if i > 0 {
					e.itemSep()
				}
				if err := e.reformatValue(dec, depth+1); err != nil {
					return err
				}
			}
			e.buf = append(e.buf, ']')
		default:
			return fmt.Errorf("unexpected %v", tok)
		}
		// Consume the closing delimiter.
		if _, err := dec.Token(); err != nil {
			return err
		}
	case string:
		e.string(tok)
	case json.Number:
		return e.number(string(tok))
	case bool:
		if tok {
			e.buf = append(e.buf, "true"...)
		} else {
			e.buf = append(e.buf, "false"...)
		}
	case nil:
		e.buf = append(e.buf, "null"...)
	}
	return nil
}
