// Package headersafe tells whether a text can travel in a gRPC header value,
// which takes printable ASCII only, and escapes it so that it can.
package headersafe

// Printable reports whether s holds bytes 0x20 to 0x7e only, the characters
// a gRPC header value may carry.
func Printable(s string) bool {
	for i := 0; i < len(s); i++ {
		if !printable(s[i]) {
			return false
		}
	}
	return true
}

// Escape writes each byte of s outside printable ASCII, and "%", as %XX
// (upper-case hex), so that "münchen 100%" gives "m%C3%BCnchen 100%25".
// Different texts give different escapes, and the result is Printable.
func Escape(s string) string {
	const hex = "0123456789ABCDEF"
	out := make([]byte, 0, len(s)+16)
	for i := 0; i < len(s); i++ {
		c := s[i]
		if printable(c) && c != '%' {
			out = append(out, c)
			continue
		}
		out = append(out, '%', hex[c>>4], hex[c&15])
	}
	return string(out)
}

// Unescape undoes Escape: it turns each %XX back into its byte. ok is
// false when s has a "%" not followed by two hex digits, which Escape
// never writes.
func Unescape(s string) (_ string, ok bool) {
	out := make([]byte, 0, len(s))
	for i := 0; i < len(s); i++ {
		if s[i] != '%' {
			out = append(out, s[i])
			continue
		}
		if i+2 >= len(s) {
			return "", false
		}
		hi, okHi := unhex(s[i+1])
		lo, okLo := unhex(s[i+2])
		if !okHi || !okLo {
			return "", false
		}
		out = append(out, hi<<4|lo)
		i += 2
	}
	return string(out), true
}

func unhex(c byte) (byte, bool) {
	switch {
	case '0' <= c && c <= '9':
		return c - '0', true
	case 'A' <= c && c <= 'F':
		return c - 'A' + 10, true
	case 'a' <= c && c <= 'f':
		return c - 'a' + 10, true
	}
	return 0, false
}

func printable(c byte) bool { return c >= 0x20 && c <= 0x7e }
