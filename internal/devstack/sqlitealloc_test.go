package devstack

import (
	"testing"

	"github.com/stretchr/testify/require"
	"modernc.org/libc"
)

func TestAllocatorPinsKeepMappingsForReuse(t *testing.T) {
	pins := pinAllocator()
	pinned := map[uintptr]bool{}
	for _, s := range pins.slots {
		pinned[mapping(s)] = true
	}
	// Every class keeps at least its pinnedPages mappings.
	require.GreaterOrEqual(t, len(pinned), (maxSlotLog-minSlotLog+1)+3*(maxSlotLog-11+1))

	// A slot of a pinned class comes from a pinned mapping, freed or not.
	tls := libc.NewTLS()
	defer tls.Close()
	for log := minSlotLog; log <= maxSlotLog; log++ {
		p := libc.Xmalloc(tls, libc.Tsize_t(1)<<log)
		require.NotZero(t, p)
		require.True(t, pinned[mapping(p)], "a %d-byte slot outside the pinned mappings", 1<<log)
		libc.Xfree(tls, p)
	}

	pins.release()
	require.Empty(t, pins.slots)
	pins.release() // again: nothing
	var none *allocatorPins
	none.release()
}

func TestMongoReleasesItsAllocatorPins(t *testing.T) {
	m, err := StartMongo(t.Context(), MongoConfig{})
	require.NoError(t, err)
	require.NotEmpty(t, m.pins.slots)
	require.NoError(t, m.Stop())
	require.Empty(t, m.pins.slots)
}
