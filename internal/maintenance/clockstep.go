package maintenance

import (
	"log/slog"
	"sync"
	"time"

	"corebridge/internal/bridge"
)

// stepSlack is how far the wall clock may run ahead of the monotonic
// clock between two passes before the janitor calls it a jump (NTP slews
// at most 0.5 ms a second: ~30 ms a minute).
const stepSlack = 10 * time.Second

// stepGuard keeps the janitor's sense of "now" from jumping forward with
// the wall clock. A pass's now is the wall clock's, but never more than
// the last pass's now plus the monotonic time elapsed since: a forward
// step of the wall clock (longer than the retention, it would make every
// synced record, and with it its dedupe key, look expired) moves the
// cutoff only as fast as real time. The first pass of a process has no
// reference and trusts the wall clock.
type stepGuard struct {
	mu      sync.Mutex
	started bool
	last    time.Time     // the last pass's now
	mono    time.Duration // the monotonic clock at the last pass
	ahead   bool          // the wall clock is ahead: logged at WARN
}

// now returns the time a pass may prune up to, given the wall clock and
// the monotonic clock now, and logs when the wall clock jumps ahead (WARN)
// and when it is back in step (INFO).
func (g *stepGuard) now(log *slog.Logger, wall time.Time, mono time.Duration) time.Time {
	g.mu.Lock()
	defer g.mu.Unlock()
	now := wall
	if g.started {
		bound := g.last.Add(mono - g.mono)
		switch ahead := wall.Sub(bound); {
		case ahead > stepSlack:
			now = bound
			if !g.ahead {
				g.ahead = true
				log.Warn("janitor: the wall clock jumped forward: pruning by monotonic time",
					"ahead", ahead.Round(time.Second), "wall", bridge.FormatTime(wall), "prunes_as_of", bridge.FormatTime(bound))
			}
		case g.ahead:
			g.ahead = false
			log.Info("janitor: the wall clock is back in step: pruning by it again", "wall", bridge.FormatTime(wall))
		}
	}
	g.started, g.last, g.mono = true, now, mono
	return now
}
