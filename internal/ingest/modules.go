package ingest

import (
	"context"
	"fmt"
	"sync"

	"corebridge/internal/bridge"
)

// DefaultMaxModules bounds the distinct module names the bridge takes in
// (--max-modules). Every module costs a row of counters in the store, a
// label set of each per-module Prometheus metric, a sum in the 24 h window
// and a line on the dashboard: a producer that invents a name per request
// would otherwise grow all of them without end.
const DefaultMaxModules = 1000

// ModuleLister is what ModuleCap reads the known modules from.
type ModuleLister interface {
	Modules(ctx context.Context) ([]bridge.ModuleSummary, error)
}

// ModuleCap admits updates of known modules, and of new ones while fewer
// than its limit are known. The known modules are read from the store once
// (Store.Modules) and kept; a new module is known once a record of it is
// stored. Modules the store held before the limit was lowered keep working.
// Safe for concurrent use; a nil *ModuleCap admits everything.
type ModuleCap struct {
	store ModuleLister
	max   int

	mu       sync.Mutex
	known    map[string]bool // nil until loaded
	reserved map[string]int  // new modules of requests not yet committed
}

// NewModuleCap bounds the modules of store to max; max <= 0 returns nil
// (no bound).
func NewModuleCap(store ModuleLister, max int) *ModuleCap {
	if max <= 0 {
		return nil
	}
	return &ModuleCap{store: store, max: max, reserved: map[string]int{}}
}

// Max is the limit (0 for a nil cap).
func (c *ModuleCap) Max() int {
	if c == nil {
		return 0
	}
	return c.max
}

// Limit says, in words for a producer, what refused a new module.
func (c *ModuleCap) Limit() string {
	return fmt.Sprintf("too many distinct modules: --max-modules is %d and this is a new one", c.Max())
}

// Known says whether a record of module is stored (false before the
// first Reserve has read the store).
func (c *ModuleCap) Known(module string) bool {
	if c == nil {
		return true
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.known[module]
}

// Reserve admits modules (one per update of a request, all or none). New
// modules hold a place (known + reserved never pass the limit) until
// done is called with whether the request's records were stored. Past
// the limit it returns refused >= 0, the index of the first module that
// is new and has no place; done is then nil.
func (c *ModuleCap) Reserve(ctx context.Context, modules []string) (done func(stored bool), refused int, err error) {
	if c == nil {
		return func(bool) {}, -1, nil
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.known == nil {
		mods, err := c.store.Modules(ctx)
		if err != nil {
			return nil, -1, bridge.Errorf(bridge.EUNAVAILABLE, "read the known modules: %v", err)
		}
		c.known = make(map[string]bool, len(mods))
		for _, m := range mods {
			if m.Module != "" {
				c.known[m.Module] = true
			}
		}
	}
	var held []string // modules not known yet: each holds a place while the request commits
	fresh := 0        // of which no other request holds a place
	for i, m := range modules {
		if c.known[m] || contains(held, m) {
			continue
		}
		if c.reserved[m] == 0 {
			if len(c.known)+len(c.reserved)+fresh >= c.max {
				return nil, i, nil
			}
			fresh++
		}
		held = append(held, m)
	}
	if len(held) == 0 {
		return func(bool) {}, -1, nil
	}
	for _, m := range held {
		c.reserved[m]++
	}
	return func(stored bool) {
		c.mu.Lock()
		defer c.mu.Unlock()
		for _, m := range held {
			if c.reserved[m]--; c.reserved[m] <= 0 || stored {
				delete(c.reserved, m) // known now: no longer counted as reserved
			}
			if stored {
				c.known[m] = true
			}
		}
	}, -1, nil
}

func contains(ms []string, m string) bool {
	for _, x := range ms {
		if x == m {
			return true
		}
	}
	return false
}
