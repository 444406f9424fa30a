package insight

import (
	"fmt"
	"time"

	"corebridge/internal/bridge"
)

// clockSlack is how far in the future a stored time may lie before health
// calls it a clock step: less is the store's microsecond truncation or a
// slewing clock, not a step.
const clockSlack = 2 * time.Second

// clockReasons says, for health, whether the wall clock went back behind
// what the store holds: the oldest pending record received "in the
// future", or the last sync in the future. Ages would read 0 and hide it.
// It logs the first such verdict at WARN and the return to normal at INFO,
// so a dashboard polling health every second logs each step once.
func (h *Hub) clockReasons(now time.Time, st bridge.Stats) []string {
	var why []string
	ahead := func(what string, at time.Time) {
		if d := at.Sub(now); !at.IsZero() && d > clockSlack {
			why = append(why, fmt.Sprintf("the clock went back: %s is %s in the future", what, d.Round(time.Second)))
		}
	}
	ahead("oldest pending record", st.OldestPendingAt)
	ahead("last sync", st.LastSyncAt)
	switch {
	case len(why) > 0 && h.clockWarned.CompareAndSwap(false, true):
		h.log.Warn("health: the wall clock went back behind the store's times", "reasons", why, "now", bridge.FormatTime(now))
	case len(why) == 0 && h.clockWarned.CompareAndSwap(true, false):
		h.log.Info("health: the wall clock has caught up with the store's times", "now", bridge.FormatTime(now))
	}
	return why
}
