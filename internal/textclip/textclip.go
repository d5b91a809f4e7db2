// Package textclip shortens text that callers supply and the engine stores
// or repeats (progress messages, error texts, echoed input), so that one
// long string cannot break a document, a payload or a reply.
package textclip

import (
	"fmt"
	"unicode/utf8"
)

// Clip returns s when it is at most max bytes long, and otherwise its first
// max bytes or fewer (cut at a rune boundary) followed by a note of its
// full length: "... (N bytes in all, cut to M)".
func Clip(s string, max int) string {
	if len(s) <= max {
		return s
	}
	cut := max
	for cut > 0 && !utf8.RuneStart(s[cut]) {
		cut--
	}
	return fmt.Sprintf("%s... (%d bytes in all, cut to %d)", s[:cut], len(s), cut)
}
