package textclip

import (
	"strings"
	"testing"

	"github.com/stretchr/testify/require"
)

func TestClip(t *testing.T) {
	require.Equal(t, "short", Clip("short", 5))
	require.Equal(t, "abc... (6 bytes in all, cut to 3)", Clip("abcdef", 3))
	// "é" is two bytes: a cut inside it moves back to its start.
	require.Equal(t, "a... (5 bytes in all, cut to 1)", Clip("aéé", 2))
	long := strings.Repeat("x", 1<<20)
	require.Len(t, Clip(long, 100), 100+len("... (1048576 bytes in all, cut to 100)"))
}
