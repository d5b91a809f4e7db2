package engineservice

import (
	"testing"

	"github.com/stretchr/testify/require"
)

// materializeUpload's reasons are worded as Python's repr of optio-core's
// exceptions.
func TestPyRepr(t *testing.T) {
	for _, tt := range []struct{ in, want string }{
		{"plain", `'plain'`},
		{"for process 'p1'", `"for process 'p1'"`},
		{`both ' and "`, `'both \' and "'`},
		{`say "hi"`, `'say "hi"'`},
		{"back\\slash", `'back\\slash'`},
		{"line\nbreak\ttab\x01", `'line\nbreak\ttab\x01'`},
		{"ünïcode", `'ünïcode'`},
	} {
		require.Equal(t, tt.want, pyRepr(tt.in), tt.in)
	}
	require.Equal(t, `NoUploadWriter("no upload writer registered for process 'p1'")`,
		pyException("NoUploadWriter", "no upload writer registered for process 'p1'"))
}
