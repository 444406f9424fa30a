package automation

import (
	"context"
	"errors"
	"math/rand/v2"
	"net"
	"net/url"
	"time"

	"corebridge/client"
)

// maxRetryAfter bounds how long a Retry-After can hold a job: a server
// asking for an hour should fail the run, not silently stall the job.
const maxRetryAfter = 2 * time.Minute

// maxBackoff bounds the doubling when an action allows many attempts.
const maxBackoff = time.Minute

// Attempt is one try of an action, as the reports show it.
type Attempt struct {
	N          int       `json:"n"`
	Started    time.Time `json:"started"`
	DurationMs float64   `json:"duration_ms"`
	StatusCode int       `json:"status_code,omitempty"`
	Error      string    `json:"error,omitempty"`
	// WaitMs is the pause before the next attempt; 0 after the last.
	WaitMs float64 `json:"wait_ms,omitempty"`
}

// outcome is what one try of an action came to.
type outcome struct {
	status     int   // HTTP status, 0 when no answer came
	err        error // nil when the action did what it should
	transient  bool  // the same request may succeed later
	retryAfter time.Duration
	response   any // what the report shows as the answer
}

// backoff is the pause after failed attempt n (from 1): 1 s, 2 s, 4 s, …
func backoff(n int) time.Duration {
	return min(time.Second<<(n-1), maxBackoff)
}

// defaultJitter spreads retries of many runners over a quarter of the backoff.
func defaultJitter(d time.Duration) time.Duration {
	return rand.N(d/4 + 1)
}

// retry runs try up to attempts times while it fails transiently, waiting
// 1 s, 2 s, 4 s … (plus jitter, or the server's Retry-After when longer)
// between tries. try gets a context that shutdown does not cancel, so the
// request in flight finishes; a shutdown during a wait ends the retries.
func (r *Runner) retry(ctx context.Context, attempts int, try func(context.Context) outcome) ([]Attempt, outcome) {
	var log []Attempt
	for n := 1; ; n++ {
		start := r.clock.Now()
		actx, cancel := context.WithTimeout(context.WithoutCancel(ctx), r.opts.RequestTimeout)
		out := try(withStatus(actx))
		cancel()
		a := Attempt{N: n, Started: start.UTC(), DurationMs: ms(r.clock.Now().Sub(start)), StatusCode: out.status}
		if out.err != nil {
			a.Error = out.err.Error()
		}
		log = append(log, a)
		if out.err == nil || !out.transient || n >= attempts {
			return log, out
		}
		wait := backoff(n)
		wait += r.jitter(wait)
		if ra := min(out.retryAfter, maxRetryAfter); ra > wait {
			wait = ra
		}
		log[len(log)-1].WaitMs = ms(wait)
		if !sleep(ctx, r.clock, wait) {
			out.err = errors.Join(out.err, errors.New("no retry: the runner is stopping"))
			return log, out
		}
	}
}

// classify turns a client error into an outcome: network failures, 5xx,
// 408 and 429 are transient; other answers and undecodable 2xx are not
// (the request may have been applied, and sending it again would not fix it).
func classify(err error) outcome {
	if err == nil {
		return outcome{}
	}
	var ae *client.APIError
	if errors.As(err, &ae) {
		return outcome{status: ae.StatusCode, err: err, transient: ae.Temporary(), retryAfter: ae.RetryAfter, response: bodyOf(ae.Body)}
	}
	return outcome{err: err, transient: isNetwork(err)}
}

func isNetwork(err error) bool {
	if errors.Is(err, client.ErrBadResponse) || errors.Is(err, context.Canceled) {
		return false
	}
	var ue *url.Error
	var ne net.Error
	return errors.As(err, &ue) || errors.As(err, &ne) || errors.Is(err, context.DeadlineExceeded)
}

func ms(d time.Duration) float64 { return float64(d.Microseconds()) / 1000 }
