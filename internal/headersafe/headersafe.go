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

func printable(c byte) bool { return c >= 0x20 && c <= 0x7e }
