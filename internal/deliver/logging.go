package deliver

import (
	"log/slog"
	"sync"
	"time"

	"corebridge/internal/bridge"
)

// DeadLogInterval is the least time between two dead-letter lines of one
// module; the records dead-lettered in between are counted into the next.
const DeadLogInterval = 10 * time.Second

// logState turns the forwarder's outcomes into operator log lines: one
// WARN when the breaker opens and one INFO when it closes again, and
// rate-limited WARNs for dead letters. Times come from Config.Now.
type logState struct {
	log       *slog.Logger
	threshold int
	bucketURL string

	mu        sync.Mutex
	open      bool      // a breaker-open line was logged and no recovery since
	openSince time.Time // when it was logged
	probed    bool      // a good probe of this outage was logged
	dead      map[string]*deadLog
	blocked   map[string]string // strict modules blocked since their last line: the blocking record
}

// deadLog is one module's dead letters since its last line.
type deadLog struct {
	last   time.Time // when its last line was logged
	count  int       // dead letters not yet logged
	reason string    // the latest of their reasons
}

func newLogState(log *slog.Logger, cfg Config) *logState {
	return &logState{log: log, threshold: cfg.BreakerThreshold, bucketURL: cfg.BucketURL,
		dead: map[string]*deadLog{}, blocked: map[string]string{}}
}

// breaker logs a change of the breaker between closed and not closed
// since the last call; cause is the error of the attempt just classified,
// misconfig what the Bucket's answer says of our configuration ("" when
// it did not answer). A failed trial (half-open back to open) is the same
// outage: no new line.
func (l *logState) breaker(state BreakerState, misconfig, cause string, now time.Time) {
	l.mu.Lock()
	defer l.mu.Unlock()
	switch {
	case state != BreakerClosed && !l.open:
		l.open, l.openSince, l.probed = true, now, false
		what := "bucket unreachable"
		if misconfig != "" {
			what = misconfig // it answers, as no Bucket configured for us does
		}
		l.log.Warn(what+": circuit breaker open", "cause", cause,
			"threshold", l.threshold, "bucket_url", l.bucketURL)
	case state == BreakerClosed && l.open:
		l.open = false
		l.log.Info("bucket reachable again", "open_for", now.Sub(l.openSince), "bucket_url", l.bucketURL)
	}
}

// probeAnswered logs the first good probe of an outage: later ones (a
// Bucket whose /healthz answers while it refuses our deliveries) would
// repeat it every cooldown.
func (l *logState) probeAnswered() {
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.probed {
		return
	}
	l.probed = true
	l.log.Info("bucket answers again: trying a delivery")
}

// deadLettered counts recs, dead-lettered for module, and logs them unless
// a line of that module was logged within DeadLogInterval.
func (l *logState) deadLettered(module string, recs []bridge.Record, now time.Time) {
	if len(recs) == 0 {
		return
	}
	l.mu.Lock()
	defer l.mu.Unlock()
	d := l.dead[module]
	if d == nil {
		d = &deadLog{}
		l.dead[module] = d
	}
	d.count += len(recs)
	d.reason = recs[len(recs)-1].LastError
	if d.last.IsZero() || passed(d.last, now, DeadLogInterval) {
		l.flushModule(module, d, now)
	}
}

// flush logs the dead letters held back of every module whose interval
// has passed.
func (l *logState) flush(now time.Time) {
	l.mu.Lock()
	defer l.mu.Unlock()
	for m, d := range l.dead {
		if d.count > 0 && passed(d.last, now, DeadLogInterval) {
			l.flushModule(m, d, now)
		}
	}
}

func (l *logState) flushModule(module string, d *deadLog, now time.Time) {
	l.log.Warn("records dead-lettered", "module", module, "count", d.count, "reason", d.reason)
	d.last, d.count, d.reason = now, 0, ""
}

// strict logs, for a module of --strict-order, the dead record that now
// blocks it (one WARN until it moves again) and, once a later batch of the
// module is delivered (its blocker replayed or purged), one INFO.
func (l *logState) strict(module string, out Outcome) {
	l.mu.Lock()
	defer l.mu.Unlock()
	by, was := l.blocked[module]
	switch {
	case len(out.Dead) > 0 && !was:
		by = out.Dead[0].ID
		l.blocked[module] = by
		l.log.Warn("module blocked by a dead record (--strict-order): replay or purge it",
			"module", module, "record", by, "reason", out.Dead[0].LastError)
	case len(out.Dead) == 0 && len(out.Synced) > 0 && was:
		delete(l.blocked, module)
		l.log.Info("module delivers again (--strict-order)", "module", module, "was_blocked_by", by)
	}
}
