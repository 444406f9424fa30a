package deliver

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"sync"
	"time"

	"corebridge/internal/bridge"
	"corebridge/internal/bucket"
)

// Outcome is what one delivery attempt came to, for watchers (insight,
// dashboard, logs).
type Outcome struct {
	Attempt bridge.Attempt
	Synced  []bridge.Record // confirmed by the Bucket
	Dead    []bridge.Record // given up on; LastError says why
	Retried []bridge.Record // to try again at RetryAt
	RetryAt time.Time

	// misconfig, when the attempt failed for the bridge's own
	// configuration, says so (bridge.DeliveryStatus.Misconfigured).
	misconfig string
}

// Why the breaker trips on an answer, for bridge.DeliveryStatus.Misconfigured.
const (
	misconfigCredentials = "bucket refuses our credentials"
	misconfigEndpoint    = "bucket URL answers as no Bucket does"
)

// RunOnce leases one batch, sends it and settles it. It reports whether it
// found anything to deliver.
func (f *Forwarder) RunOnce(ctx context.Context) (bool, error) {
	n, err := f.runOnce(ctx)
	return n > 0, err
}

// runOnce is RunOnce reporting how many records the batch held.
func (f *Forwarder) runOnce(ctx context.Context) (int, error) {
	f.logs.flush(f.cfg.Now())
	f.check(ctx)
	if ctx.Err() != nil || !f.breaker.Allow() {
		return 0, nil
	}
	now := f.cfg.Now()
	lease, err := f.store.Lease(ctx, bridge.LeaseParams{
		Owner: f.cfg.Owner, Now: bridge.Truncate(now), TTL: f.cfg.LeaseTTL,
		MaxRecords: f.cfg.BatchSize, MaxBytes: f.sizer.Budget(), Strict: f.cfg.StrictOrder,
		MaxWait: max(f.cfg.BackoffCap, f.cfg.MaxRetryAfter) + clockMargin,
	})
	if err != nil || lease == nil {
		f.breaker.Release()
		if err != nil {
			return 0, fmt.Errorf("lease: %w", err)
		}
		return 0, nil
	}
	if len(lease.Records) == 0 {
		// Against the contract (a lease holds at least one record): give
		// it back rather than send nothing.
		f.breaker.Release()
		f.store.Settle(context.WithoutCancel(ctx), bridge.Settlement{LeaseID: lease.ID, Module: lease.Module, Now: bridge.Truncate(now)})
		return 0, fmt.Errorf("lease of %s holds no record: a store bug", lease.Module)
	}

	// The send and the settle outlive a cancelled ctx: a batch in flight at
	// shutdown is finished and recorded, not abandoned to its lease.
	sctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), f.cfg.Timeout)
	keep := f.keepLease(lease)
	start := time.Now()
	results, sendErr := f.sender.Send(sctx, lease.Records)
	latency := time.Since(start)
	keep.Stop()
	cancel()

	out := f.classify(lease, results, sendErr, bridge.Truncate(f.cfg.Now()), latency)
	state, _ := f.breaker.State()
	f.logs.breaker(state, out.misconfig, out.Attempt.Error, f.cfg.Now())
	st := bridge.Settlement{LeaseID: lease.ID, Module: lease.Module, Now: out.Attempt.At,
		RetryAt: out.RetryAt, Error: out.Attempt.Error, Attempt: &out.Attempt}
	for _, r := range out.Synced {
		st.Synced = append(st.Synced, r.ID)
	}
	for _, r := range out.Dead {
		st.Dead = append(st.Dead, bridge.DeadMark{ID: r.ID, Reason: r.LastError})
	}
	for _, r := range out.Retried {
		st.Retry = append(st.Retry, r.ID)
	}
	if len(out.Retried) > 0 {
		// Retried records share one reason, which is not the attempt's
		// error when others of the batch were rejected.
		st.Error = out.Retried[0].LastError
	}
	if err := f.store.Settle(context.WithoutCancel(ctx), st); bridge.IsLeaseLost(err) {
		// Fenced off: another worker or replica holds the module now and
		// sends these records again (the Bucket answers duplicate for
		// what it already has). Nothing of this attempt is recorded.
		return len(lease.Records), fmt.Errorf("settle %s batch: the lease was lost before the settle (the batch goes out again under the lease that holds the module now): %w", lease.Module, err)
	} else if err != nil {
		return len(lease.Records), fmt.Errorf("settle %s batch: %w", lease.Module, err)
	}
	f.note(out)
	f.logs.deadLettered(lease.Module, out.Dead, f.cfg.Now())
	if f.cfg.StrictOrder.Has(lease.Module) {
		f.logs.strict(lease.Module, out)
	}
	if f.cfg.OnOutcome != nil {
		f.cfg.OnOutcome(out)
	}
	return len(lease.Records), nil
}

// keepLease extends l every third of its TTL while its batch is in
// flight, so that a slow Bucket does not hand the batch to another worker
// mid-send; Stop ends it. An extension refused (the lease already lost)
// ends it too: the settle will be refused and say so.
func (f *Forwarder) keepLease(l *bridge.Lease) *leaseKeeper {
	k := &leaseKeeper{}
	every := f.cfg.LeaseTTL / 3
	var extend func()
	extend = func() {
		ctx, cancel := context.WithTimeout(context.Background(), every)
		err := f.store.ExtendLease(ctx, l, f.cfg.LeaseTTL)
		cancel()
		k.mu.Lock()
		defer k.mu.Unlock()
		if err != nil {
			f.log.Warn("could not extend the lease of a batch in flight", "module", l.Module, "err", err)
			return
		}
		if !k.stopped {
			k.t = time.AfterFunc(every, extend)
		}
	}
	k.mu.Lock()
	k.t = time.AfterFunc(every, extend)
	k.mu.Unlock()
	return k
}

// leaseKeeper is keepLease's timer.
type leaseKeeper struct {
	mu      sync.Mutex
	t       *time.Timer
	stopped bool
}

// Stop ends the extensions (one already running may still finish).
func (k *leaseKeeper) Stop() {
	k.mu.Lock()
	defer k.mu.Unlock()
	k.stopped = true
	k.t.Stop()
}

// ConflictReason is the last error of a record the Bucket answered
// `conflict` for: it holds the id with other content (e.g. a dead letter it
// had stored, then edited and replayed), so this content was not delivered.
const ConflictReason = "the Bucket holds different data for this id (conflict): it keeps what it stored first, " +
	"so this record's data was not delivered; purge this dead letter, or send its data again as a new update"

// classify turns the Bucket's answer (the protocol of package bucket) into
// per-record fates: stored or duplicate → synced; rejected or conflict, or
// a protocol 4xx for the batch other than 408/413/429 → dead; 413 → sent
// again in halves, dead only for a single record; 401/403/404/405 or an
// answer that is not the protocol → held, breaker open; network error, timeout,
// 5xx, 408, 429 → retry with backoff, or dead past MaxAttempts or MaxAge.
func (f *Forwarder) classify(l *bridge.Lease, results []bucket.Result, sendErr error, now time.Time, latency time.Duration) Outcome {
	recs := l.Records
	out := Outcome{Attempt: bridge.Attempt{At: now, Module: l.Module, LeaseID: l.ID,
		FirstSeq: recs[0].Seq, LastSeq: recs[len(recs)-1].Seq, Records: len(recs), Latency: latency}}
	var se *bucket.StatusError
	isStatus := errors.As(sendErr, &se)
	switch {
	case sendErr == nil:
		f.breaker.Success()
		f.sizer.Through(now)
		out.Attempt.HTTPStatus = http.StatusOK
		byID := make(map[string]bucket.Result, len(results))
		for _, r := range results {
			byID[r.ID] = r
		}
		var missing []bridge.Record
		conflicts := 0
		for _, r := range recs {
			res, ok := byID[r.ID]
			switch {
			case ok && (res.Status == bucket.StatusStored || res.Status == bucket.StatusDuplicate):
				out.Synced = append(out.Synced, r)
			case ok && res.Status == bucket.StatusRejected:
				r.LastError = "rejected by the bucket: " + res.Error
				out.Dead = append(out.Dead, r)
			case ok && res.Status == bucket.StatusConflict:
				r.LastError = ConflictReason
				out.Dead = append(out.Dead, r)
				conflicts++
			default:
				missing = append(missing, r)
			}
		}
		out.Attempt.Outcome = bridge.AttemptOK
		if len(out.Dead) > 0 {
			out.Attempt.Outcome = bridge.AttemptPartial
			if len(out.Dead) == len(recs) {
				out.Attempt.Outcome = bridge.AttemptRejected // nothing of it was stored
			}
			out.Attempt.Error = fmt.Sprintf("%d of %d records rejected: %s", len(out.Dead), len(recs), out.Dead[0].LastError)
			if conflicts > 0 {
				out.Attempt.Error = fmt.Sprintf("%d of %d records dead (%d in conflict): %s", len(out.Dead), len(recs), conflicts, out.Dead[0].LastError)
			}
		}
		if len(missing) > 0 {
			// The Bucket answered without a usable result for these: a
			// protocol fault, retried like a transient one.
			out.Attempt.Outcome = bridge.AttemptPartial
			f.retry(&out, missing, "bucket answered no result for the record", 0, now)
		}
	case isStatus && se.StatusCode == http.StatusRequestEntityTooLarge:
		f.breaker.Success() // the Bucket is up; the batch is too large for it
		out.Attempt.Outcome, out.Attempt.HTTPStatus = bridge.AttemptFailed, se.StatusCode
		if len(recs) > 1 {
			// Send it in halves: nothing is charged or dead, the records
			// stay due, and the next lease of the module takes the first
			// half (its head) under the lowered budget.
			size := dataBytes(recs)
			f.sizer.TooLarge(size, now)
			out.Attempt.Error = fmt.Sprintf("bucket refused a batch of %d records (%d data bytes) as too large (HTTP 413): sending it in halves: %s",
				len(recs), size, se.Message)
			break
		}
		out.Attempt.Outcome = bridge.AttemptRejected
		out.Attempt.Error = "the Bucket refuses the record as too large (HTTP 413): " + se.Message
		r := recs[0]
		r.LastError = out.Attempt.Error
		out.Dead = append(out.Dead, r)
	case isStatus && (refusedCredentials(se.StatusCode) || wrongEndpoint(se.StatusCode)):
		// Our configuration, not the records: hold everything back (no
		// attempt burned, nothing dead) until the operator fixes it.
		f.breaker.Trip(now)
		out.Attempt.Outcome, out.Attempt.HTTPStatus = bridge.AttemptFailed, se.StatusCode
		out.Attempt.Error, out.misconfig = credentialsError(se), misconfigCredentials
		if wrongEndpoint(se.StatusCode) {
			out.Attempt.Error, out.misconfig = endpointError(se), misconfigEndpoint
		}
	case notProtocol(sendErr, se):
		// Something answered, but not as a Bucket does (a proxy's page,
		// another service): the same as a wrong path.
		f.breaker.Trip(now)
		out.Attempt.Outcome, out.Attempt.HTTPStatus = bridge.AttemptFailed, http.StatusOK
		if isStatus {
			out.Attempt.HTTPStatus = se.StatusCode
		}
		out.Attempt.Error, out.misconfig = notProtocolError(sendErr), misconfigEndpoint
	case isStatus && permanent(se.StatusCode):
		f.breaker.Success() // the Bucket is up; it refuses this batch
		out.Attempt.Outcome, out.Attempt.HTTPStatus = bridge.AttemptRejected, se.StatusCode
		out.Attempt.Error = fmt.Sprintf("bucket refused the batch: HTTP %d: %s", se.StatusCode, se.Message)
		for _, r := range recs {
			r.LastError = out.Attempt.Error
			out.Dead = append(out.Dead, r)
		}
	default:
		f.breaker.Failure(now)
		out.Attempt.Outcome = bridge.AttemptFailed
		retryAfter := time.Duration(0)
		if isStatus {
			out.Attempt.HTTPStatus = se.StatusCode
			if se.StatusCode == http.StatusTooManyRequests || se.StatusCode == http.StatusServiceUnavailable {
				retryAfter = min(se.RetryAfter, f.cfg.MaxRetryAfter)
			}
		}
		reason := sendErr.Error()
		if errors.Is(sendErr, context.DeadlineExceeded) {
			// A slow Bucket, not a gone one: say which setting it missed.
			reason = fmt.Sprintf("no answer within --delivery-timeout %s: %s", f.cfg.Timeout, reason)
		}
		f.retry(&out, recs, reason, retryAfter, now)
	}
	return out
}

// refusedCredentials reports whether a batch-level HTTP status says the
// Bucket refuses the bridge itself (a misconfiguration), not the batch.
func refusedCredentials(code int) bool {
	return code == http.StatusUnauthorized || code == http.StatusForbidden
}

// wrongEndpoint reports whether a batch-level status means the bridge
// posts to something that is not a Bucket's /v1/records (a wrong path in
// --bucket-url, a proxy in front): no record is at fault.
func wrongEndpoint(code int) bool {
	return code == http.StatusNotFound || code == http.StatusMethodNotAllowed
}

// notProtocol reports whether sendErr is an answer that is not the
// Bucket protocol and means "wrong endpoint": a 2xx that is not the
// protocol's results, or a 4xx without the protocol's error body. A 5xx,
// 408 or 429 stays transient whatever its body (a proxy's page for a
// Bucket that is down), and 413 splits the batch whatever its body.
func notProtocol(sendErr error, se *bucket.StatusError) bool {
	if !errors.Is(sendErr, bucket.ErrNotProtocol) {
		return false
	}
	if se == nil {
		return true
	}
	return se.StatusCode < 400 || permanent(se.StatusCode) && se.StatusCode != http.StatusRequestEntityTooLarge
}

// notProtocolError is the last error of a delivery answered by something
// that is not a Bucket.
func notProtocolError(sendErr error) string {
	return fmt.Sprintf("bucket URL answers as no Bucket does: check --bucket-url (%v)", sendErr)
}

// endpointError is the last error of a delivery sent to the wrong place.
func endpointError(se *bucket.StatusError) string {
	msg := fmt.Sprintf("bucket answered %d: not a Bucket's /v1/records here: check --bucket-url", se.StatusCode)
	if se.Message != "" {
		msg += " (it says: " + se.Message + ")"
	}
	return msg
}

// credentialsError is the last error of a refused delivery: it names the cause.
func credentialsError(se *bucket.StatusError) string {
	msg := fmt.Sprintf("bucket refused our credentials (%d): check --bucket-token-file, --bucket-header and --bucket-signing-secret-file", se.StatusCode)
	if se.Message != "" {
		msg += " (bucket says: " + se.Message + ")"
	}
	return msg
}

// permanent reports whether a batch-level HTTP status dead-letters the
// batch rather than retrying it.
func permanent(code int) bool {
	return code >= 400 && code < 500 && code != http.StatusRequestTimeout && code != http.StatusTooManyRequests
}

// retry schedules recs for another attempt, or dead-letters those past
// MaxAttempts or MaxAge. All retried records of a batch share one due time
// (the head's), so the module's order holds.
func (f *Forwarder) retry(out *Outcome, recs []bridge.Record, reason string, retryAfter time.Duration, now time.Time) {
	if out.Attempt.Error == "" {
		out.Attempt.Error = reason
	}
	attempts := recs[0].Attempts + 1
	out.RetryAt = now.Add(f.backoff.Wait(attempts, retryAfter))
	for _, r := range recs {
		n := r.Attempts + 1
		switch {
		case n >= f.cfg.MaxAttempts:
			r.LastError = fmt.Sprintf("gave up after %d attempts: %s", n, reason)
			out.Dead = append(out.Dead, r)
		case now.Sub(r.ReceivedAt) >= f.cfg.MaxAge:
			r.LastError = fmt.Sprintf("gave up after %s (max age %s): %s", now.Sub(r.ReceivedAt).Round(time.Second), f.cfg.MaxAge, reason)
			out.Dead = append(out.Dead, r)
		default:
			r.LastError = reason
			out.Retried = append(out.Retried, r)
		}
	}
}

// note keeps what Status reports.
func (f *Forwarder) note(out Outcome) {
	f.mu.Lock()
	defer f.mu.Unlock()
	split := out.Attempt.HTTPStatus == http.StatusRequestEntityTooLarge // the Bucket answered
	switch {
	case out.Attempt.Outcome == bridge.AttemptFailed && !split:
		f.reachable.Store(out.Attempt.HTTPStatus != 0)
		f.lastError = out.Attempt.Error
		f.misconfig = out.misconfig
		if f.failingSince.IsZero() {
			f.failingSince = out.Attempt.At
		}
	default:
		f.reachable.Store(true)
		f.misconfig = ""
		f.failingSince = time.Time{}
		if !split {
			f.lastOK = out.Attempt.At
		}
		if out.Attempt.Error != "" {
			f.lastError = out.Attempt.Error
		}
	}
}

// check asks the Bucket's /healthz, when the breaker wants it, before a
// delivery charges records for a Bucket that may be gone: at start and
// after a transient failure. No answer at all (network error, timeout,
// 5xx, 408, 429) opens the breaker; any other answer lets the delivery
// go, which says more precisely what is wrong, if anything.
func (f *Forwarder) check(ctx context.Context) {
	if !f.breaker.CheckDue() {
		return
	}
	pctx, cancel := context.WithTimeout(ctx, f.cfg.Timeout)
	err := f.sender.Healthy(pctx)
	cancel()
	now := f.cfg.Now()
	var se *bucket.StatusError
	answered := err == nil || ctx.Err() != nil || errors.As(err, &se) && !se.Temporary()
	f.breaker.Checked(answered, now)
	if answered {
		return
	}
	cause := "bucket does not answer GET /healthz: " + err.Error()
	f.mu.Lock()
	f.reachable.Store(false)
	f.lastError, f.misconfig = cause, ""
	if f.failingSince.IsZero() {
		f.failingSince = bridge.Truncate(now)
	}
	f.mu.Unlock()
	state, _ := f.breaker.State()
	f.logs.breaker(state, "", cause, now)
}

// Status returns the forwarder's view of the Bucket.
func (f *Forwarder) Status() bridge.DeliveryStatus {
	state, opened := f.breaker.State()
	if state == BreakerClosed {
		opened = time.Time{}
	}
	f.mu.Lock()
	defer f.mu.Unlock()
	return bridge.DeliveryStatus{BucketURL: f.cfg.BucketURL, Reachable: f.reachable.Load() && state != BreakerOpen,
		Breaker: state.String(), BreakerOpened: opened, FailingSince: f.failingSince, LastError: f.lastError,
		LastOK: f.lastOK, Misconfigured: f.misconfig}
}
