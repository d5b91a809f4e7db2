package headersafe

import (
	"strings"
	"testing"

	"github.com/stretchr/testify/require"
)

func TestEscape(t *testing.T) {
	for in, want := range map[string]string{
		"plain/id:1":        "plain/id:1",
		"100%":              "100%25",
		"münchen":           "m%C3%BCnchen",
		"🚀":                 "%F0%9F%9A%80",
		"tab\there\x7f\x00": "tab%09here%7F%00",
		"a\xffb":            "a%FFb",
		"":                  "",
	} {
		got := Escape(in)
		require.Equal(t, want, got, "%q", in)
		back, ok := Unescape(got)
		require.True(t, ok)
		require.Equal(t, in, back, "Unescape undoes Escape")
		require.True(t, Printable(got), "%q is printable", got)
		require.Equal(t, in == want, Printable(in) && !strings.Contains(in, "%"), "%q", in)
	}
	require.NotEqual(t, Escape("münchen"), Escape("m%C3%BCnchen"), "escapes differ as the texts do")
}

func TestUnescapeRefusesWhatEscapeNeverWrites(t *testing.T) {
	for _, bad := range []string{"%", "a%4", "%zz", "100%!"} {
		_, ok := Unescape(bad)
		require.False(t, ok, "%q", bad)
	}
	got, ok := Unescape("m%c3%bcnchen")
	require.True(t, ok)
	require.Equal(t, "münchen", got, "lower-case hex too")
}
