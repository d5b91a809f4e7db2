package devstack

import (
	"modernc.org/libc"
)

// The pure-Go SQLite under FerretDB and the Temporal server allocates
// through modernc.org/libc's process-wide allocator. It hands out slots of
// up to 16 KiB from 64 KiB mappings, one size class per mapping, and
// returns a mapping to the OS as soon as its last slot is freed. A write
// statement allocates and frees its memory cells, JSON texts and
// sub-journal within the statement, so on a quiet size class every
// statement mapped fresh regions (and page-faulted them in) and unmapped
// them again: in a profile of FerretDB's findAndModify, about a quarter of
// its CPU.

// allocatorPins holds a slot in each of a few mappings of every size
// class, so that those mappings stay while the server that took them runs
// and the slots freed in them are reused.
type allocatorPins struct {
	tls   *libc.TLS
	slots []uintptr
}

// pinAllocator fills pinnedPages(class) mappings of every size class, then
// frees every slot but the last of each mapping. About 1 MiB is resident
// while it is held.
func pinAllocator() *allocatorPins {
	p := &allocatorPins{tls: libc.NewTLS()}
	for log := minSlotLog; log <= maxSlotLog; log++ {
		size := 1 << log
		slots := make([]uintptr, pinnedPages(log)*(mappingSize/size))
		for i := range slots {
			slots[i] = libc.Xmalloc(p.tls, libc.Tsize_t(size))
		}
		for i, s := range slots {
			if s == 0 {
				continue
			}
			if i == len(slots)-1 || mapping(slots[i+1]) != mapping(s) {
				p.slots = append(p.slots, s)
				continue
			}
			libc.Xfree(p.tls, s)
		}
	}
	return p
}

// release frees the pinned slots; the allocator then unmaps the mappings
// nothing else uses. Calling it again does nothing.
func (p *allocatorPins) release() {
	if p == nil || p.tls == nil {
		return
	}
	for _, s := range p.slots {
		libc.Xfree(p.tls, s)
	}
	p.slots = nil
	p.tls.Close()
	p.tls = nil
}

// mapping is the start of the allocator's mapping that holds p.
func mapping(p uintptr) uintptr { return p &^ (mappingSize - 1) }

// pinnedPages is how many mappings of the size class of 1<<log bytes are
// kept. A write statement's sub-journal takes about 50 slots of the 2 KiB
// class, two mappings' worth; the small classes serve dozens of slots from
// one.
func pinnedPages(log int) int {
	if log >= 11 {
		return 4
	}
	return 1
}

const (
	// minSlotLog and maxSlotLog bound the allocator's size classes: 16 B
	// to 16 KiB. Larger allocations get a mapping each.
	minSlotLog = 4
	maxSlotLog = 14
	// mappingSize is the size and alignment of the allocator's mappings.
	mappingSize = 64 << 10
)
