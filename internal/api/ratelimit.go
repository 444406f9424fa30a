package api

import (
	"fmt"
	"math"
	"strconv"
	"strings"
	"sync"
	"time"

	"corebridge/internal/auth"
	"corebridge/internal/bridge"
)

// RateLimit bounds the records one principal may send: Rate records a
// second on average, Burst at once. Key names whom it applies to: a token
// name, a role, or "*" (everyone); the most specific one applies.
type RateLimit struct {
	Key   string
	Rate  float64
	Burst int
}

// ParseRateLimits reads the --rate-limit form: comma-separated
// [KEY=]RATE[/BURST], e.g. "producer=500/1000,edu-lab-1=50". A missing
// key is "*"; a missing burst is the rate, rounded up.
func ParseRateLimits(s string) ([]RateLimit, error) {
	var out []RateLimit
	for _, part := range strings.Split(s, ",") {
		part = strings.TrimSpace(part)
		if part == "" {
			continue
		}
		key, spec, ok := strings.Cut(part, "=")
		if !ok {
			key, spec = "*", part
		}
		rs, bs, hasBurst := strings.Cut(spec, "/")
		rate, err := strconv.ParseFloat(rs, 64)
		if err != nil || rate <= 0 || math.IsInf(rate, 0) || math.IsNaN(rate) {
			return nil, fmt.Errorf("%q: the rate must be a positive number of records a second, e.g. producer=500/1000", part)
		}
		burst := int(math.Ceil(rate))
		if hasBurst {
			if burst, err = strconv.Atoi(bs); err != nil || burst < 1 {
				return nil, fmt.Errorf("%q: the burst must be a whole number of records, at least 1", part)
			}
		}
		if key = strings.TrimSpace(key); key == "" {
			return nil, fmt.Errorf("%q: empty key before '='", part)
		}
		out = append(out, RateLimit{Key: key, Rate: rate, Burst: burst})
	}
	return out, nil
}

// limiter keeps one token bucket per principal.
type limiter struct {
	limits  map[string]RateLimit
	mu      sync.Mutex
	buckets map[string]*bucketState
}

type bucketState struct {
	tokens float64
	at     time.Time
}

func newLimiter(ls []RateLimit) *limiter {
	if len(ls) == 0 {
		return nil
	}
	l := &limiter{limits: map[string]RateLimit{}, buckets: map[string]*bucketState{}}
	for _, r := range ls {
		l.limits[r.Key] = r
	}
	return l
}

// limitFor is the most specific limit for p: its name, its role, "*".
func (l *limiter) limitFor(p *auth.Principal) (RateLimit, bool) {
	for _, k := range []string{p.Name, string(p.Role), "*"} {
		if r, ok := l.limits[k]; ok {
			return r, true
		}
	}
	return RateLimit{}, false
}

// take takes n records from p's bucket at now, or says how long to wait.
func (l *limiter) take(p *auth.Principal, n int, now time.Time) error {
	if l == nil || p == nil {
		return nil
	}
	r, ok := l.limitFor(p)
	if !ok {
		return nil
	}
	if n > r.Burst {
		return bridge.Errorf(bridge.ERATELIMITED, "%d records in one request is over the burst of %d allowed to %q: send smaller batches", n, r.Burst, p.Name)
	}
	l.mu.Lock()
	defer l.mu.Unlock()
	b := l.buckets[p.Name]
	if b == nil {
		b = &bucketState{tokens: float64(r.Burst), at: now}
		l.buckets[p.Name] = b
	}
	if dt := now.Sub(b.at).Seconds(); dt > 0 {
		b.tokens = min(float64(r.Burst), b.tokens+dt*r.Rate)
		b.at = now
	}
	if b.tokens < float64(n) {
		wait := time.Duration((float64(n) - b.tokens) / r.Rate * float64(time.Second))
		return &rateLimited{wait: wait, err: bridge.Errorf(bridge.ERATELIMITED,
			"rate limit of %g records/s (burst %d) for %q reached; retry later", r.Rate, r.Burst, p.Name)}
	}
	b.tokens -= float64(n)
	return nil
}

// rateLimited is a 429 that knows how long to wait.
type rateLimited struct {
	wait time.Duration
	err  *bridge.Error
}

func (e *rateLimited) Error() string { return e.err.Error() }
func (e *rateLimited) Unwrap() error { return e.err }

// retryAfter is the wait in whole seconds, at least 1.
func (e *rateLimited) retryAfter() int { return max(1, int(math.Ceil(e.wait.Seconds()))) }
