package dashboard

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"strconv"
	"sync"
	"time"
)

// sharedSummary computes the summary at most once per interval for all
// open streams: a hundred pages cost one health computation a second,
// not a hundred. The stream that finds it stale computes it while the
// others wait for that result.
type sharedSummary struct {
	compute func(ctx context.Context) (any, error)
	every   time.Duration

	mu  sync.Mutex
	at  time.Time // when v was computed (monotonic)
	v   any
	err error
}

// get returns the summary computed within the last interval, or computes
// it. An error is shared too, so a failing store is asked once a second.
func (s *sharedSummary) get(ctx context.Context) (any, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	// A little under the interval, so that a stream whose ticker fires
	// just before another's still gets this second's summary.
	if !s.at.IsZero() && time.Since(s.at) < s.every*9/10 {
		return s.v, s.err
	}
	// Not the asking stream's context: its page going away must not fail
	// the summary that the others wait for.
	cctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 10*time.Second)
	defer cancel()
	s.v, s.err = s.compute(cctx)
	s.at = time.Now()
	return s.v, s.err
}

// retryAfterSeconds is what a page refused past MaxClients is told to
// wait; its EventSource reconnects by itself.
const retryAfterSeconds = 5

// refuse answers an event stream past MaxClients: 503 with Retry-After,
// in the API's JSON error shape, and tells OnRefused.
func (d *Dashboard) refuse(w http.ResponseWriter) {
	why := fmt.Sprintf("too many event streams open: --max-sse-clients is %d", d.cfg.MaxClients)
	d.cfg.OnRefused(why)
	msg := why + "; retry later"
	b, _ := json.Marshal(map[string]any{"detail": msg, "error": map[string]string{"code": "unavailable", "message": msg}})
	h := w.Header()
	h.Set("Content-Type", "application/json")
	h.Set("Retry-After", strconv.Itoa(retryAfterSeconds))
	w.WriteHeader(http.StatusServiceUnavailable)
	w.Write(append(b, '\n'))
}
