package insight

import (
	"context"
	"fmt"
	"slices"
	"strings"
	"sync"
	"time"

	"corebridge/internal/bridge"
)

// DefaultDegradedSuccessPct is the 24 h sync success rate (in percent)
// below which health says degraded.
const DefaultDegradedSuccessPct = 90

// minSuccessSample is the fewest records judged in 24 h (synced, failed
// or gone dead) for the success rate to make health degraded: on a quiet
// bridge, one failed attempt next to three synced records is 75% and
// would otherwise keep health degraded for a day.
const minSuccessSample = 20

// maxDeadMarks bounds what recentDead keeps of one module: beyond it, new
// dead letters are added to the latest mark.
const maxDeadMarks = 64

// recentDead is what health needs of the dead letters of the last
// StaleAfter, per module: how many, when, and the latest reason. It is
// small and bounded (maxDeadMarks per module, modules with nothing recent
// dropped). A restart reseeds it from the rollups, which count dead
// letters per minute and module; their reasons stay with the dead records.
type recentDead struct {
	mu      sync.Mutex
	modules map[string]*moduleDead
}

type moduleDead struct {
	marks  []deadMark
	reason string // the latest's; "" when only seeded from the rollups
}

type deadMark struct {
	at time.Time
	n  int64
}

func newRecentDead() *recentDead { return &recentDead{modules: map[string]*moduleDead{}} }

// add counts n records of module dead at at, the latest for reason.
func (d *recentDead) add(module string, n int64, reason string, at time.Time) {
	if n <= 0 {
		return
	}
	d.mu.Lock()
	defer d.mu.Unlock()
	m := d.modules[module]
	if m == nil {
		m = &moduleDead{}
		d.modules[module] = m
	}
	if k := len(m.marks); k > 0 && (k >= maxDeadMarks || m.marks[k-1].at.Equal(at)) {
		m.marks[k-1].n += n
		m.marks[k-1].at = later(m.marks[k-1].at, at)
	} else {
		m.marks = append(m.marks, deadMark{at: at, n: n})
	}
	if reason != "" {
		m.reason = reason
	}
}

func later(a, b time.Time) time.Time {
	if b.After(a) {
		return b
	}
	return a
}

// reasons forgets what is older than window and returns one health
// reason per module with dead letters within it that still has dead
// letters now (deadNow), sorted by module.
func (d *recentDead) reasons(now time.Time, window time.Duration, deadNow func(module string) bool) []string {
	d.mu.Lock()
	defer d.mu.Unlock()
	var out []string
	for name, m := range d.modules {
		m.marks = slices.DeleteFunc(m.marks, func(k deadMark) bool { return now.Sub(k.at) > window })
		if len(m.marks) == 0 || !deadNow(name) {
			delete(d.modules, name)
			continue
		}
		var n int64
		for _, k := range m.marks {
			n += k.n
		}
		what := "records"
		if n == 1 {
			what = "record"
		}
		why := m.reason
		if why == "" {
			why = "see the dead letters for why (counted before a restart)"
		}
		out = append(out, fmt.Sprintf("%d %s of %s went dead in the last %s: %s", n, what, name, shortDuration(window), why))
	}
	slices.Sort(out)
	return out
}

// seedDead counts the dead letters of the last StaleAfter from the
// rollups, for a hub that starts after a restart. The forwarder has not
// run yet, so every dead letter in them is from before.
func (h *Hub) seedDead(ctx context.Context) error {
	now := h.cfg.Now()
	from := bridge.Minute(now.Add(-h.cfg.StaleAfter))
	rs, err := h.cfg.Store.Rollups(ctx, bridge.RollupQuery{From: from, To: bridge.Minute(now).Add(time.Minute)})
	if err != nil {
		return err
	}
	for _, r := range rs {
		// The end of its minute, or now: the window is not cut short.
		at := r.Minute.Add(time.Minute)
		if at.After(now) {
			at = now
		}
		h.dead.add(r.Module, r.Dead, "", at)
	}
	return nil
}

// shortDuration writes 5m rather than 5m0s.
func shortDuration(d time.Duration) string {
	s := d.String()
	if strings.HasSuffix(s, "m0s") {
		s = strings.TrimSuffix(s, "0s")
	}
	if strings.HasSuffix(s, "h0m") {
		s = strings.TrimSuffix(s, "0m")
	}
	return s
}
