package devstack

import (
	"sync"

	"modernc.org/libc"
)

// The pure-Go SQLite under FerretDB and the Temporal server allocates
// through modernc.org/libc's process-wide allocator. It hands out slots of
// up to 16 KiB from 64 KiB mappings, one size class per mapping, and
// returns a mapping to the OS as soon as its last slot is freed. A write
// statement allocates and frees its memory cells, statement journal
// chunks and JSON texts within the statement, so on a quiet size class
// every statement mapped fresh regions (and page-faulted them in) and
// unmapped them again.
//
// pinAllocator keeps pinnedPages mappings of every size class for the life
// of the process: it fills them, then frees every slot but the last of
// each mapping, so the freed slots are reused and the mappings stay. That
// holds at most 44 mappings of 64 KiB, of which only the pages written
// (the slots' free-list links) take memory.
var pinAllocator = sync.OnceFunc(func() {
	tls := libc.NewTLS()
	defer tls.Close()
	for log := minSlotLog; log <= maxSlotLog; log++ {
		size := 1 << log
		slots := make([]uintptr, pinnedPages*(mappingSize/size))
		for i := range slots {
			slots[i] = libc.Xmalloc(tls, libc.Tsize_t(size))
		}
		for i, p := range slots {
			last := i == len(slots)-1 || mapping(slots[i+1]) != mapping(p)
			if !last && p != 0 {
				libc.Xfree(tls, p)
			}
		}
	}
})

// mapping is the start of the allocator's mapping that holds p.
func mapping(p uintptr) uintptr { return p &^ (mappingSize - 1) }

const (
	// minSlotLog and maxSlotLog bound the allocator's size classes: 16 B
	// to 16 KiB. Larger allocations get a mapping each.
	minSlotLog = 4
	maxSlotLog = 14
	// mappingSize is the size and alignment of the allocator's mappings.
	mappingSize = 64 << 10
	// pinnedPages is how many mappings of each class are kept. A write
	// statement's sub-journal alone takes about two of the 2 KiB class.
	pinnedPages = 4
)
