package dashboard

import (
	"bufio"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"time"

	"corebridge/internal/insight"
)

// maxBurst bounds how many queued events are written before one flush, so
// that a busy feed is sent in few large writes and a summary or a ping is
// never starved for long.
const maxBurst = 256

// Events serves the live stream (mount at GET /api/events) as server-sent
// events:
//
//	event: record   data: an insight.Event, one per feed event
//	event: lost     data: {"lost":N}, events this stream skipped
//	event: summary  data: the body of /api/summary, every SummaryEvery
//	: ping          a comment every PingEvery, so idle streams stay open
//
// It ends when the client goes away or Close is called.
func (d *Dashboard) Events() http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if n := d.clients.Add(1); d.cfg.MaxClients > 0 && n > int64(d.cfg.MaxClients) {
			d.clients.Add(-1)
			d.refuse(w)
			return
		}
		defer d.clients.Add(-1)
		rc := http.NewResponseController(w)
		// The server's read and write timeouts are for requests that end;
		// this one does not. Recorders in tests do not support deadlines.
		_ = rc.SetWriteDeadline(time.Time{})
		_ = rc.SetReadDeadline(time.Time{})
		h := w.Header()
		h.Set("Content-Type", "text/event-stream")
		h.Set("Cache-Control", "no-cache")
		h.Set("X-Accel-Buffering", "no") // a proxy in front must not buffer the stream
		w.WriteHeader(http.StatusOK)

		s := &stream{d: d, bw: bufio.NewWriterSize(w, 16<<10), rc: rc}
		err := s.run(r.Context())
		switch {
		case errors.Is(err, http.ErrNotSupported):
			// A middleware wrapped the ResponseWriter without Unwrap: the
			// stream cannot work, and nobody would know why.
			d.cfg.Log.Error("event stream: the response cannot be flushed", "err", err)
		case err != nil && r.Context().Err() == nil:
			d.cfg.Log.Debug("event stream ended", "err", err, "remote", r.RemoteAddr)
		}
	})
}

// stream is one client's event stream.
type stream struct {
	d  *Dashboard
	bw *bufio.Writer
	rc *http.ResponseController

	windowStart time.Time // start of the current MaxEventsPerSecond window
	sentInWin   int
	skipped     uint64 // events over the rate limit, not yet reported as lost
}

func (s *stream) run(ctx context.Context) error {
	cfg := s.d.cfg
	fmt.Fprint(s.bw, "retry: 2000\n\n")
	var events <-chan insight.Event
	var sub *insight.Subscription
	if cfg.Feed != nil {
		sub = cfg.Feed.Subscribe(0)
		defer sub.Unsubscribe()
		events = sub.C()
	}
	if err := s.summary(ctx); err != nil {
		return err
	}
	if err := s.flush(); err != nil {
		return err
	}
	summaryT := time.NewTicker(cfg.SummaryEvery)
	defer summaryT.Stop()
	pingT := time.NewTicker(cfg.PingEvery)
	defer pingT.Stop()
	for {
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-s.d.closed:
			return nil
		case ev, ok := <-events:
			if !ok {
				return nil
			}
			if err := s.record(ev); err != nil {
				return err
			}
			// Send what else is queued with the same flush.
		burst:
			for range maxBurst - 1 {
				select {
				case ev, ok := <-events:
					if !ok {
						break burst
					}
					if err := s.record(ev); err != nil {
						return err
					}
				default:
					break burst
				}
			}
		case <-summaryT.C:
			if err := s.summary(ctx); err != nil {
				return err
			}
		case <-pingT.C:
			fmt.Fprint(s.bw, ": ping\n\n")
		}
		if sub != nil {
			if err := s.lost(sub.TakeLost()); err != nil {
				return err
			}
		}
		if err := s.flush(); err != nil {
			return err
		}
	}
}

// record writes one feed event, or counts it as skipped when this second's
// allowance is spent.
func (s *stream) record(ev insight.Event) error {
	now := time.Now()
	if now.Sub(s.windowStart) >= time.Second {
		s.windowStart, s.sentInWin = now, 0
	}
	if s.sentInWin >= s.d.cfg.MaxEventsPerSecond {
		s.skipped++
		return nil
	}
	s.sentInWin++
	return s.write("record", ev)
}

// lost reports the events the feed dropped for this stream (its buffer was
// full) plus those skipped by the rate limit.
func (s *stream) lost(fromFeed uint64) error {
	n := fromFeed + s.skipped
	if n == 0 {
		return nil
	}
	s.skipped = 0
	return s.write("lost", map[string]uint64{"lost": n})
}

func (s *stream) summary(ctx context.Context) error {
	if s.d.cfg.Summary == nil {
		return nil
	}
	v, err := s.d.shared.get(ctx)
	if err != nil {
		// The page keeps its last figures; the next tick tries again.
		s.d.cfg.Log.Warn("event stream: summary", "err", err)
		return nil
	}
	return s.write("summary", v)
}

// write writes one event; JSON has no raw newlines, so data is one line.
func (s *stream) write(event string, v any) error {
	b, err := json.Marshal(v)
	if err != nil {
		return fmt.Errorf("encode %s event: %w", event, err)
	}
	s.bw.WriteString("event: ")
	s.bw.WriteString(event)
	s.bw.WriteString("\ndata: ")
	s.bw.Write(b)
	_, err = s.bw.WriteString("\n\n")
	return err
}

func (s *stream) flush() error {
	if err := s.bw.Flush(); err != nil {
		return err
	}
	return s.rc.Flush()
}
