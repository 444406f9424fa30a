package api

import (
	"fmt"
	"net/http"
	"time"

	"corebridge/internal/bridge"
	"corebridge/internal/insight"
)

// DefaultMaxInflightIngest bounds the ingest requests (/core/update and
// /core/updates together) served at once. Each holds its body (up to
// --max-body, or --max-batch-body) and a goroutine; a group commit takes
// every waiting request, so more than this many waiting at once would
// not commit faster, only hold more memory. --max-pending bounds the
// records waiting for delivery; this bounds the requests waiting for a
// commit.
const DefaultMaxInflightIngest = 1024

// inflightRetryAfter is what a producer refused past the cap is told to
// wait: a commit takes milliseconds, so the crowd thins within one.
const inflightRetryAfter = time.Second

// inflight is a counting semaphore over ingest requests; nil: no bound.
type inflight struct {
	slots chan struct{}
	why   string
}

func newInflight(max int) *inflight {
	if max <= 0 {
		return nil
	}
	return &inflight{slots: make(chan struct{}, max),
		why: fmt.Sprintf("too many ingest requests in flight: --max-inflight-ingest is %d", max)}
}

// limitIngest refuses an ingest request with 503 and Retry-After when the
// cap is reached, before its body is read, and reports the refusal to the
// hub; otherwise it holds a slot while h serves the request.
func limitIngest(s *Server, h http.Handler) http.Handler {
	f := s.inflight
	if f == nil {
		return h
	}
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		select {
		case f.slots <- struct{}{}:
		default:
			s.insight.CapRefused(insight.CapIngestInflight, f.why)
			s.insight.Ingest(routeOf(r), "", http.StatusServiceUnavailable, 0)
			// The body is left unread. net/http drains up to 256 KiB of it
			// after the answer to keep the connection, and closes the
			// connection past that rather than read a large body.
			writeError(w, r, s.log, &bridge.Error{Code: bridge.EUNAVAILABLE, Message: f.why + "; retry later", RetryAfter: inflightRetryAfter})
			return
		}
		defer func() { <-f.slots }()
		h.ServeHTTP(w, r)
	})
}

// routeOf names an ingest request's route for the metrics.
func routeOf(r *http.Request) string {
	if r.URL.Path == "/core/updates" {
		return "updates"
	}
	return "update"
}

// Inflight is the number of ingest requests being served now.
func (s *Server) Inflight() int {
	if s.inflight == nil {
		return 0
	}
	return len(s.inflight.slots)
}
