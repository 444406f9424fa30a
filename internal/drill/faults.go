package drill

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"os"
	"strings"
	"time"

	"corebridge/client"
)

// fault is one fault of the drill: inject causes it and, after it lasted
// hold, removes it and returns when it was removed (the start of the
// recovery) and what was seen while it lasted.
type fault struct {
	name, what string
	skip       string
	inject     func(ctx context.Context, hold time.Duration) (ended time.Time, observed string, err error)
}

func (d *drill) faults() []fault {
	noBucket := ""
	if d.bucketProc == nil {
		noBucket = "the Bucket is the user's own (--bucket-url): the drill does not fault it"
	}
	target := d.bridges[min(1, len(d.bridges)-1)]
	return []fault{
		{name: "kill-9 bridge", what: fmt.Sprintf("kill -9 of %s while batches are in flight, restarted after a moment", target.name),
			inject: func(ctx context.Context, hold time.Duration) (time.Time, string, error) {
				pending := d.pending(ctx)
				held := d.delivered(ctx)
				target.kill9()
				sleep(ctx, hold)
				ended := time.Now()
				if err := target.start(ctx, d.bridgeArgs[d.index(target)]...); err != nil {
					return ended, "", fmt.Errorf("restart %s after kill -9: %w", target.name, err)
				}
				return ended, fmt.Sprintf("%d pending, %d delivered at the kill", pending, held), nil
			}},
		{name: "bucket stopped", what: "the Bucket killed, restarted on the same port and database", skip: noBucket,
			inject: func(ctx context.Context, hold time.Duration) (time.Time, string, error) {
				d.bucketProc.kill9()
				sleep(ctx, hold)
				ended := time.Now()
				return ended, fmt.Sprintf("%d pending when it came back", d.pending(ctx)), d.bucketProc.start(ctx, d.bucketArgs...)
			}},
		{name: "bucket flaky", what: "the Bucket restarted with --fail-rate 0.3, then normal again", skip: noBucket,
			inject: d.bucketWith("--fail-rate", "0.3")},
		{name: "bucket slow", what: "the Bucket restarted with --latency 200ms, then normal again", skip: noBucket,
			inject: d.bucketWith("--latency", "200ms")},
		{name: "disk full", what: "the data directory's small tmpfs filled below --min-free-disk, then emptied", skip: d.diskSkip,
			inject: d.diskFull},
	}
}

func (d *drill) index(p *proc) int {
	for i, b := range d.bridges {
		if b == p {
			return i
		}
	}
	return 0
}

// bucketWith restarts the Bucket with fault flags for hold, then normal.
func (d *drill) bucketWith(flags ...string) func(ctx context.Context, hold time.Duration) (time.Time, string, error) {
	return func(ctx context.Context, hold time.Duration) (time.Time, string, error) {
		d.bucketProc.stop(5 * time.Second)
		if err := d.bucketProc.start(ctx, append(append([]string{}, d.bucketArgs...), flags...)...); err != nil {
			return time.Now(), "", err
		}
		before := d.delivered(ctx)
		sleep(ctx, hold)
		observed := fmt.Sprintf("%d records delivered meanwhile", d.delivered(ctx)-before)
		d.bucketProc.stop(5 * time.Second)
		ended := time.Now()
		return ended, observed, d.bucketProc.start(ctx, d.bucketArgs...)
	}
}

// diskFull fills the tmpfs below --min-free-disk: the bridge must refuse
// new records (503 with Retry-After, never a 500) and take them again by
// itself once the ballast is gone.
func (d *drill) diskFull(ctx context.Context, hold time.Duration) (time.Time, string, error) {
	before := d.prod.refused.Load()
	ballast, err := fillDisk(d.mounted, d.minFree/2)
	defer func() {
		if ballast != "" {
			os.Remove(ballast)
		}
	}()
	if err != nil {
		return time.Now(), "", err
	}
	deadline := time.Now().Add(10 * time.Second)
	for d.prod.refused.Load() == before && time.Now().Before(deadline) && ctx.Err() == nil {
		sleep(ctx, 20*time.Millisecond)
	}
	status, reasons := "", []string(nil)
	if h, err := d.health(ctx, d.bridges[0].url()); err == nil {
		status, reasons = h.Status, h.Reasons
	}
	sleep(ctx, hold)
	refused := d.prod.refused.Load() - before
	os.Remove(ballast)
	ballast = ""
	ended := time.Now()
	if refused == 0 {
		return ended, "", fmt.Errorf("the bridge never refused an update while the disk was full (health %s %v)", status, reasons)
	}
	return ended, fmt.Sprintf("producers got %d answers 503 with Retry-After; health said %s: %s", refused, status, strings.Join(reasons, "; ")), nil
}

// health is what the drill reads of GET /core/health.
type health struct {
	Status   string   `json:"status"`
	Reasons  []string `json:"reasons"`
	Pending  int64    `json:"pending_queue"`
	Received int64    `json:"received_total"`
	Synced   int64    `json:"synced_total"`
}

var healthClient = &http.Client{Timeout: 3 * time.Second}

func (d *drill) health(ctx context.Context, base string) (health, error) {
	h, err := client.New(base, client.WithHTTPClient(healthClient)).Health(ctx)
	if err != nil {
		return health{}, err
	}
	out := health{Status: h.Status, Pending: h.PendingQueue}
	for k, v := range h.Extra {
		switch k {
		case "reasons":
			json.Unmarshal(v, &out.Reasons)
		case "received_total":
			json.Unmarshal(v, &out.Received)
		case "synced_total":
			json.Unmarshal(v, &out.Synced)
		}
	}
	return out, nil
}

// pending is the first bridge that answers' pending queue (-1: none answers).
func (d *drill) pending(ctx context.Context) int64 {
	for _, b := range d.bridges {
		if h, err := d.health(ctx, b.url()); err == nil {
			return h.Pending
		}
	}
	return -1
}

// delivered is how many records have reached the Bucket: the reference
// Bucket's count, or else what the bridge counts as synced (-1: unknown).
func (d *drill) delivered(ctx context.Context) int64 {
	if d.bc != nil {
		if st, err := d.bc.Stats(ctx); err == nil {
			return st.Total
		}
		return -1
	}
	for _, b := range d.bridges {
		if h, err := d.health(ctx, b.url()); err == nil {
			return h.Synced
		}
	}
	return -1
}

// recovered waits until every bridge's health is ok and records flow to
// the Bucket again: its count grew past delivered0, or nothing is
// pending. It returns how long that took from from, or false and what
// was last seen after RecoveryTimeout.
func (d *drill) recovered(ctx context.Context, from time.Time, delivered0 int64) (time.Duration, string, bool) {
	deadline := from.Add(d.o.RecoveryTimeout)
	last := ""
	for ctx.Err() == nil {
		ok, allEmpty := true, true
		for _, b := range d.bridges {
			h, err := d.health(ctx, b.url())
			if err != nil {
				ok, last = false, fmt.Sprintf("%s: %v", b.name, err)
				break
			}
			if h.Status != "ok" {
				ok, last = false, fmt.Sprintf("%s health %s: %s", b.name, h.Status, strings.Join(h.Reasons, "; "))
				break
			}
			allEmpty = allEmpty && h.Pending == 0
		}
		if ok {
			n := d.delivered(ctx)
			if n > delivered0 && delivered0 >= 0 || allEmpty {
				return time.Since(from), "", true
			}
			last = fmt.Sprintf("health ok but no record delivered since (%d held)", n)
		}
		if time.Now().After(deadline) {
			return time.Since(from), last, false
		}
		sleep(ctx, 50*time.Millisecond)
	}
	return time.Since(from), "interrupted", false
}

// waitHealthy waits for every bridge to say ok, before the producers start.
func (d *drill) waitHealthy(ctx context.Context) error {
	deadline := time.Now().Add(30 * time.Second)
	for {
		ok, last := true, ""
		for _, b := range d.bridges {
			h, err := d.health(ctx, b.url())
			if err != nil || h.Status != "ok" {
				ok, last = false, fmt.Sprintf("%s: %v %s %v", b.name, err, h.Status, h.Reasons)
				break
			}
		}
		if ok {
			return nil
		}
		if time.Now().After(deadline) {
			return fmt.Errorf("the bridge is not healthy 30 s after its start: %s", last)
		}
		if ctx.Err() != nil {
			return ctx.Err()
		}
		sleep(ctx, 100*time.Millisecond)
	}
}

// exercise runs the producers for Duration and the faults in turn, spread
// over it, then stops the producers and waits for the bridge to drain.
func (d *drill) exercise(ctx context.Context) error {
	if err := d.waitHealthy(ctx); err != nil {
		return err
	}
	d.prod = newProducers(d.run, moduleNames(d.o.Modules), d.bases, d.o.Interval, d.o.Records)
	stop := make(chan struct{})
	stopped := false
	stopProducers := func() {
		if !stopped {
			stopped = true
			close(stop)
			d.prod.wait()
		}
	}
	defer func() { stopProducers(); d.collect() }()
	start := time.Now()
	d.prod.start(ctx, stop)
	d.logf("producers started: %d modules, one update every %s each", d.o.Modules, d.o.Interval)

	faults := d.faults()
	gap := d.o.Duration / time.Duration(len(faults)+1)
	hold := min(max(d.o.Duration/time.Duration(3*(len(faults)+1)), time.Second), 5*time.Second)
	for k, f := range faults {
		fr := FaultReport{Name: f.name, What: f.what}
		if f.skip != "" {
			fr.Skipped, fr.SkipReason = true, f.skip
			d.rep.Faults = append(d.rep.Faults, fr)
			d.logf("fault %q skipped: %s", f.name, f.skip)
			continue
		}
		sleep(ctx, time.Until(start.Add(time.Duration(k+1)*gap)))
		if ctx.Err() != nil {
			return ctx.Err()
		}
		at := time.Now()
		fr.AtSeconds = at.Sub(start).Round(100 * time.Millisecond).Seconds()
		d.logf("fault %q: %s", f.name, f.what)
		ended, observed, err := f.inject(ctx, hold)
		fr.LastedMs = ended.Sub(at).Milliseconds()
		fr.Observed = observed
		if ctx.Err() != nil {
			return ctx.Err()
		}
		if err != nil {
			fr.Failure = err.Error()
			d.rep.Faults = append(d.rep.Faults, fr)
			d.logf("fault %q failed: %v", f.name, err)
			if !d.allRunning() {
				return err // a child would not come back: the drill cannot go on
			}
			continue
		}
		took, last, ok := d.recovered(ctx, ended, d.deliveredAt(ctx, ended))
		fr.Recovered, fr.RecoveryMs = ok, took.Milliseconds()
		if !ok {
			fr.Failure = fmt.Sprintf("not recovered %s after the fault ended: %s", took.Round(time.Millisecond), last)
		}
		d.rep.Faults = append(d.rep.Faults, fr)
		if ok {
			d.logf("fault %q: recovered in %s", f.name, took.Round(time.Millisecond))
		} else {
			d.logf("fault %q: %s", f.name, fr.Failure)
		}
	}
	sleep(ctx, time.Until(start.Add(d.o.Duration)))
	stopProducers()
	if ctx.Err() != nil {
		return ctx.Err()
	}
	d.logf("producers stopped after %s: %d acknowledged; waiting for delivery", time.Since(start).Round(time.Millisecond), d.prod.ackedCount())
	return d.drain(ctx)
}

// deliveredAt is the delivered count right after a fault ended: what
// "flowing again" must exceed. (The Bucket may just have been restarted,
// so it is read again for a moment if it does not answer yet.)
func (d *drill) deliveredAt(ctx context.Context, ended time.Time) int64 {
	for {
		n := d.delivered(ctx)
		if n >= 0 || time.Since(ended) > 5*time.Second || ctx.Err() != nil {
			return n
		}
		sleep(ctx, 50*time.Millisecond)
	}
}

func (d *drill) allRunning() bool {
	for _, b := range d.bridges {
		if !b.running() {
			return false
		}
	}
	return d.bucketProc == nil || d.bucketProc.running()
}

// drain waits (at most DrainTimeout) until no bridge has anything pending.
func (d *drill) drain(ctx context.Context) error {
	deadline := time.Now().Add(d.o.DrainTimeout)
	for ctx.Err() == nil {
		empty := true
		for _, b := range d.bridges {
			if h, err := d.health(ctx, b.url()); err != nil || h.Pending != 0 {
				empty = false
				break
			}
		}
		if empty {
			return nil
		}
		if time.Now().After(deadline) {
			d.rep.Problems = append(d.rep.Problems, fmt.Sprintf("records still pending %s after the producers stopped (%d)", d.o.DrainTimeout, d.pending(ctx)))
			return nil
		}
		sleep(ctx, 100*time.Millisecond)
	}
	return ctx.Err()
}
