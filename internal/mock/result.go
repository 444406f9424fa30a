package mock

import (
	"cmp"
	"encoding/json"
	"fmt"
	"io"
	"math"
	"slices"
	"strconv"
	"strings"
	"time"
)

// LoadResult is what a Load run measured.
type LoadResult struct {
	URL         string
	Connections int
	Modules     []string
	// Requests counts every request that was answered or failed; requests
	// cut off by cancelling the run are left out.
	Requests      int64
	OK            int64         // answered 2xx
	StatusErrors  map[int]int64 // other answers, by HTTP status
	NetworkErrors int64         // no answer: refused, reset, …
	Timeouts      int64         // no answer within LoadConfig.Timeout
	BadResponses  int64         // a 2xx answer that did not decode
	Duration      time.Duration // from the first request to the last answer
	Latency       Latency       // over the requests that got an answer
	Interrupted   bool          // the run was cancelled before its bound
}

// Latency summarises request latencies.
type Latency struct {
	P50, P95, P99, Max, Mean time.Duration
}

// Errors returns the number of requests that did not get a 2xx answer.
func (r LoadResult) Errors() int64 { return r.Requests - r.OK }

// RPS returns the requests completed per second, failed ones included.
func (r LoadResult) RPS() float64 { return r.perSecond(r.Requests) }

// OKRPS returns the requests answered 2xx per second: the throughput.
func (r LoadResult) OKRPS() float64 { return r.perSecond(r.OK) }

func (r LoadResult) perSecond(n int64) float64 {
	if r.Duration <= 0 {
		return 0
	}
	return float64(n) / r.Duration.Seconds()
}

// ErrorPct returns the percentage of requests that did not get a 2xx
// answer; 0 with no requests.
func (r LoadResult) ErrorPct() float64 {
	if r.Requests == 0 {
		return 0
	}
	return float64(r.Errors()) * 100 / float64(r.Requests)
}

// latencyOf summarises sorted latencies with nearest-rank percentiles.
func latencyOf(sorted []time.Duration) Latency {
	n := len(sorted)
	if n == 0 {
		return Latency{}
	}
	rank := func(p float64) time.Duration {
		i := int(math.Ceil(p/100*float64(n))) - 1
		return sorted[min(max(i, 0), n-1)]
	}
	var sum time.Duration
	for _, d := range sorted {
		sum += d
	}
	return Latency{P50: rank(50), P95: rank(95), P99: rank(99), Max: sorted[n-1], Mean: sum / time.Duration(n)}
}

// ms renders d in milliseconds, rounded to the microsecond.
func ms(d time.Duration) float64 { return math.Round(float64(d)/1e3) / 1e3 }

type latencyJSON struct {
	P50  float64 `json:"p50"`
	P95  float64 `json:"p95"`
	P99  float64 `json:"p99"`
	Max  float64 `json:"max"`
	Mean float64 `json:"mean"`
}

type resultJSON struct {
	URL           string           `json:"url"`
	Connections   int              `json:"connections"`
	Modules       []string         `json:"modules"`
	Requests      int64            `json:"requests"`
	OK            int64            `json:"ok"`
	Errors        int64            `json:"errors"`
	DurationS     float64          `json:"duration_s"`
	RPS           float64          `json:"rps"`    // all requests, failed ones included
	OKRPS         float64          `json:"ok_rps"` // 2xx answers only
	LatencyMs     latencyJSON      `json:"latency_ms"`
	StatusErrors  map[string]int64 `json:"status_errors"`
	NetworkErrors int64            `json:"network_errors"`
	Timeouts      int64            `json:"timeouts"`
	BadResponses  int64            `json:"bad_responses"`
	Interrupted   bool             `json:"interrupted"`
}

// MarshalJSON gives the result as flat numbers: durations in seconds,
// latencies in milliseconds, error statuses keyed by code.
func (r LoadResult) MarshalJSON() ([]byte, error) {
	st := make(map[string]int64, len(r.StatusErrors))
	for code, n := range r.StatusErrors {
		st[strconv.Itoa(code)] = n
	}
	return json.Marshal(resultJSON{
		URL:         r.URL,
		Connections: r.Connections,
		Modules:     r.Modules,
		Requests:    r.Requests,
		OK:          r.OK,
		Errors:      r.Errors(),
		DurationS:   math.Round(r.Duration.Seconds()*1000) / 1000,
		RPS:         math.Round(r.RPS()*10) / 10,
		OKRPS:       math.Round(r.OKRPS()*10) / 10,
		LatencyMs: latencyJSON{P50: ms(r.Latency.P50), P95: ms(r.Latency.P95), P99: ms(r.Latency.P99),
			Max: ms(r.Latency.Max), Mean: ms(r.Latency.Mean)},
		StatusErrors:  st,
		NetworkErrors: r.NetworkErrors,
		Timeouts:      r.Timeouts,
		BadResponses:  r.BadResponses,
		Interrupted:   r.Interrupted,
	})
}

// WriteSummary writes the result for a human, e.g. (the rate counts the
// requests answered 2xx only)
//
//	load:     http://127.0.0.1:8000/core/update, 64 connections, modules education,finance
//	requests: 200000 in 10.02s, ok 199990 = 19959.1 req/s
//	latency:  p50 2.104 ms  p95 5.320 ms  p99 8.911 ms  max 31.400 ms  (mean 2.500 ms)
//	errors:   10 (503: 8, timeout: 2)
func (r LoadResult) WriteSummary(w io.Writer) {
	note := ""
	if r.Interrupted {
		note = " (interrupted)"
	}
	fmt.Fprintf(w, "load:     %s/core/update, %d connections, modules %s%s\n",
		strings.TrimRight(r.URL, "/"), r.Connections, strings.Join(r.Modules, ","), note)
	fmt.Fprintf(w, "requests: %d in %.2fs, ok %d = %.1f req/s\n", r.Requests, r.Duration.Seconds(), r.OK, r.OKRPS())
	l := r.Latency
	fmt.Fprintf(w, "latency:  p50 %.3f ms  p95 %.3f ms  p99 %.3f ms  max %.3f ms  (mean %.3f ms)\n",
		ms(l.P50), ms(l.P95), ms(l.P99), ms(l.Max), ms(l.Mean))
	fmt.Fprintf(w, "errors:   %s\n", r.errorKinds())
}

// errorKinds lists the errors by kind, most frequent status first.
func (r LoadResult) errorKinds() string {
	if r.Errors() == 0 {
		return "none"
	}
	codes := make([]int, 0, len(r.StatusErrors))
	for code := range r.StatusErrors {
		codes = append(codes, code)
	}
	slices.SortFunc(codes, func(a, b int) int {
		if c := cmp.Compare(r.StatusErrors[b], r.StatusErrors[a]); c != 0 {
			return c
		}
		return cmp.Compare(a, b)
	})
	var kinds []string
	for _, code := range codes {
		kinds = append(kinds, fmt.Sprintf("%d: %d", code, r.StatusErrors[code]))
	}
	for _, k := range []struct {
		name string
		n    int64
	}{{"timeout", r.Timeouts}, {"network", r.NetworkErrors}, {"bad response", r.BadResponses}} {
		if k.n > 0 {
			kinds = append(kinds, fmt.Sprintf("%s: %d", k.name, k.n))
		}
	}
	return fmt.Sprintf("%d (%s)", r.Errors(), strings.Join(kinds, ", "))
}
