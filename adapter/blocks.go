package adapter

import (
	"context"
	"fmt"
	"strconv"
	"time"

	"github.com/optio-temporal/optio/internal/docstore"
	"github.com/optio-temporal/optio/mirror"
)

// checkBlocks returns the block that refuses a launch of a task with this
// metadata, or nil.
func (e *Engine) checkBlocks(ctx context.Context, metadata map[string]any) (*docstore.BlockedError, error) {
	e.blocksMu.Lock()
	for _, f := range e.transientBlocks {
		if docstore.MatchesFilter(metadata, f) {
			e.blocksMu.Unlock()
			return &docstore.BlockedError{Filter: f, Metadata: metadata}, nil
		}
	}
	e.blocksMu.Unlock()
	blocks, err := e.persistedBlocks(ctx)
	if err != nil {
		return nil, err
	}
	for _, b := range blocks {
		if docstore.MatchesFilter(metadata, b.Filter) {
			be := &docstore.BlockedError{Filter: b.Filter, Metadata: metadata}
			if b.Reason != nil {
				be.Reason = *b.Reason
			}
			return be, nil
		}
	}
	return nil, nil
}

// blocksTTL is how long this engine trusts its copy of the persisted launch
// blocks; blocks another engine persists take effect here within it.
const blocksTTL = time.Second

// persistedBlocks returns the persisted launch blocks, from a copy at most
// blocksTTL old (this engine's own changes drop the copy at once).
func (e *Engine) persistedBlocks(ctx context.Context) ([]mirror.LaunchBlock, error) {
	e.blocksMu.Lock()
	if time.Since(e.blocksAt) < blocksTTL {
		blocks := e.blocksCopy
		e.blocksMu.Unlock()
		return blocks, nil
	}
	gen := e.blocksGen
	e.blocksMu.Unlock()
	// A burst of launches reads the collection once, not once each; a read
	// begun before this engine changed the blocks is not shared after it.
	v, err, _ := e.blocksRead.Do(strconv.FormatUint(gen, 10), func() (any, error) {
		// Shared by callers: one caller's cancellation must not fail the rest.
		rctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 30*time.Second)
		defer cancel()
		blocks, err := e.store.Blocks(rctx)
		if err != nil {
			return nil, err
		}
		e.blocksMu.Lock()
		if e.blocksGen == gen {
			e.blocksCopy, e.blocksAt = blocks, time.Now()
		}
		e.blocksMu.Unlock()
		return blocks, nil
	})
	if err != nil {
		return nil, err
	}
	return v.([]mirror.LaunchBlock), nil
}

func (e *Engine) dropBlocksCopy() {
	e.blocksMu.Lock()
	e.blocksAt = time.Time{}
	e.blocksGen++
	e.blocksMu.Unlock()
}

// BlockLaunches persists a launch block (in {prefix}_launch_blocks): launches
// of processes whose task metadata matches filter (every key equal; an empty
// filter matches everything) are refused with ReasonLaunchBlocked until
// UnblockLaunches lifts it. Blocks survive restarts and apply to every engine
// sharing the database (other engines see a change within a second). Running
// processes are not affected.
func (e *Engine) BlockLaunches(ctx context.Context, filter map[string]any, reason string) error {
	defer e.dropBlocksCopy()
	return e.store.AddBlock(ctx, filter, reason)
}

// UnblockLaunches lifts every launch block with exactly this filter and
// returns how many were lifted.
func (e *Engine) UnblockLaunches(ctx context.Context, filter map[string]any) (int, error) {
	defer e.dropBlocksCopy()
	n, err := e.store.RemoveBlocks(ctx, filter)
	if err != nil {
		return 0, err
	}
	e.blocksMu.Lock()
	for k, f := range e.transientBlocks {
		if docstore.MatchesFilter(f, filter) && docstore.MatchesFilter(filter, f) {
			delete(e.transientBlocks, k)
			n++
		}
	}
	e.blocksMu.Unlock()
	return n, nil
}

// addTransientBlock blocks launches in this engine until the returned func runs.
func (e *Engine) addTransientBlock(filter map[string]any) func() {
	e.blocksMu.Lock()
	defer e.blocksMu.Unlock()
	e.nextBlock++
	k := e.nextBlock
	e.transientBlocks[k] = filter
	return func() {
		e.blocksMu.Lock()
		delete(e.transientBlocks, k)
		e.blocksMu.Unlock()
	}
}

// GroupCancelOptions selects and shapes a group cancel.
type GroupCancelOptions struct {
	// Filter selects processes by metadata (metadata.<key> == value, at any
	// depth). Required and non-empty: use Shutdown to stop everything.
	Filter map[string]any
	// BlockNewLaunches blocks launches matching Filter while the call runs,
	// so nothing new slips in.
	BlockNewLaunches bool
	// Persist keeps that block after the call (requires BlockNewLaunches).
	Persist bool
	// Reason is recorded with a persisted block.
	Reason string
	// PurgeRecords deletes the matching documents (with their descendants)
	// once the cancels are issued (GroupCancel) or done (GroupCancelAndWait).
	PurgeRecords bool
}

func (o GroupCancelOptions) validate() error {
	if len(o.Filter) == 0 {
		return fmt.Errorf("%w: group cancel requires a non-empty metadata filter; use Shutdown to drain everything", ErrInvalidInput)
	}
	if o.Persist && !o.BlockNewLaunches {
		return ReasonInvalidPersistWithoutBlock
	}
	return nil
}

// GroupCancel cancels every active process whose metadata matches the filter,
// children included, and returns how many cancels it issued, without waiting
// for them to take effect. It returns ReasonInvalidPersistWithoutBlock when
// Persist is set without BlockNewLaunches.
func (e *Engine) GroupCancel(ctx context.Context, opts GroupCancelOptions) (int, error) {
	n, _, err := e.groupCancel(ctx, opts, false)
	return n, err
}

// GroupCancelAndWait is GroupCancel that also waits for every cancelled
// process to reach an end state, up to Config.CancelGrace plus 25 s.
func (e *Engine) GroupCancelAndWait(ctx context.Context, opts GroupCancelOptions) (int, error) {
	n, _, err := e.groupCancel(ctx, opts, true)
	return n, err
}

func (e *Engine) groupCancel(ctx context.Context, opts GroupCancelOptions, wait bool) (int, []mirror.Process, error) {
	if err := opts.validate(); err != nil {
		return 0, nil, err
	}
	if opts.BlockNewLaunches {
		if opts.Persist {
			if err := e.BlockLaunches(ctx, opts.Filter, opts.Reason); err != nil {
				return 0, nil, err
			}
		} else {
			defer e.addTransientBlock(opts.Filter)()
		}
	}
	pending := map[string]mirror.Process{}
	sweep := func() error {
		docs, err := e.store.List(ctx, mirror.Query{Metadata: opts.Filter})
		if err != nil {
			return err
		}
		for _, p := range docs {
			if _, done := pending[p.ProcessID]; done || !p.Status.State.Active() {
				continue
			}
			if _, err := e.Cancel(ctx, p.ID.Hex()); err != nil {
				return err
			}
			pending[p.ProcessID] = p
		}
		return nil
	}
	if err := sweep(); err != nil {
		return 0, nil, err
	}
	if opts.BlockNewLaunches {
		// Launches that checked the blocks before this one was added may
		// still be claiming their documents: once they have, a second
		// sweep sees them.
		if err := e.claims.settle(ctx); err != nil {
			return 0, nil, err
		}
		if err := sweep(); err != nil {
			return 0, nil, err
		}
	}
	docs := make([]mirror.Process, 0, len(pending))
	for _, p := range pending {
		docs = append(docs, p)
	}
	if wait {
		ceiling := e.cfg.CancelGrace + 25*time.Second
		if err := e.waitInactive(ctx, docs, ceiling); err != nil {
			return len(pending), docs, fmt.Errorf("group cancel and wait (filter=%v): %w", opts.Filter, err)
		}
	}
	if opts.PurgeRecords {
		all, err := e.store.List(ctx, mirror.Query{Metadata: opts.Filter})
		if err != nil {
			return len(pending), docs, err
		}
		for _, p := range all {
			if _, err := e.store.DeleteTree(ctx, p.ID); err != nil {
				return len(pending), docs, err
			}
		}
	}
	return len(pending), docs, nil
}
