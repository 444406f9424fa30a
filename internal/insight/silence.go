package insight

import (
	"fmt"
	"time"

	"corebridge/internal/bridge"
)

// SilenceConfig says when a producer counts as gone quiet. The store
// learns each module's usual interval (bridge.ModuleSummary.Interval) from
// the gaps between the distinct seconds in which its records were
// committed, leaning towards the longer gaps, and not from records marked
// as load tests (bridge.NewRecord.LoadTest): so a burst teaches no
// millisecond rhythm.
type SilenceConfig struct {
	// Factor: silent after Factor × the module's usual interval (default 5).
	Factor float64
	// Min: never silent before this long without a record, however often
	// the module usually sends (default 1 min), so that a busy producer's
	// millisecond gaps do not make every pause an alarm.
	Min time.Duration
	// MaxGap: per module, silent past this gap whatever its history.
	MaxGap map[string]time.Duration
	// Learn: gaps seen before a module counts as sending regularly
	// (default 3). They must also add up to Min at least (Intervals ×
	// Interval ≥ Min): a 2.5 s burst has at most three one-second gaps.
	Learn int64
}

// Silence defaults.
const (
	DefaultSilenceFactor = 5
	DefaultSilenceMin    = time.Minute
)

func (c *SilenceConfig) defaults() {
	if c.Factor <= 0 {
		c.Factor = DefaultSilenceFactor
	}
	if c.Min <= 0 {
		c.Min = DefaultSilenceMin
	}
	if c.Learn <= 0 {
		c.Learn = 3
	}
}

// Silent says whether module m has gone quiet at now, and why.
func (c SilenceConfig) Silent(m bridge.ModuleSummary, now time.Time) (bool, string) {
	return c.SilentAt(m, time.Time{}, now)
}

// SilentAt is Silent for a module whose last heartbeat (POST
// /core/heartbeat) was at heartbeat (zero: none): a heartbeat is a sign
// of life as much as a record, so the gap runs from the later of the
// two. The usual interval is still the one learnt from records; a module
// that only heartbeats has none, and is silent only past its MaxGap.
func (c SilenceConfig) SilentAt(m bridge.ModuleSummary, heartbeat, now time.Time) (bool, string) {
	c.defaults()
	last, what := m.LastSeenAt, "no record"
	if !heartbeat.IsZero() {
		what = "no record or heartbeat"
		if heartbeat.After(last) {
			last = heartbeat
		}
	}
	if last.IsZero() {
		return false, ""
	}
	gap := now.Sub(last)
	if max, ok := c.MaxGap[m.Module]; ok && gap > max {
		return true, fmt.Sprintf("module %s silent: %s for %s (max gap %s)", m.Module, what, round(gap), max)
	}
	if m.Intervals < c.Learn || m.Interval < time.Second {
		// Too little history, or a sub-second interval, which only the
		// rule before gaps between distinct seconds could learn.
		return false, ""
	}
	limit := time.Duration(c.Factor * float64(m.Interval))
	if limit < c.Min {
		limit = c.Min
	}
	if time.Duration(m.Intervals)*m.Interval < c.Min {
		// Its learnt gaps cover less than the shortest silence: a burst
		// of a few seconds, then quiet, is no rhythm that stopped.
		return false, ""
	}
	if gap > limit {
		return true, fmt.Sprintf("module %s silent: %s for %s, usually every %s (silent after %s)",
			m.Module, what, round(gap), round(m.Interval), round(limit))
	}
	return false, ""
}

func round(d time.Duration) time.Duration {
	switch {
	case d >= time.Minute:
		return d.Round(time.Second)
	case d >= time.Second:
		return d.Round(100 * time.Millisecond)
	}
	return d.Round(time.Millisecond)
}
