package dashboard

import (
	"bufio"
	"context"
	"encoding/json"
	"errors"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"corebridge/internal/insight"
)

// sseMsg is one server-sent event as a browser would dispatch it; a
// comment line comes through as a message with Comment set.
type sseMsg struct {
	Event, Data, Comment string
	Retry                string
}

// readSSE parses a stream into messages on a channel, closed at EOF.
func readSSE(body *bufio.Reader) <-chan sseMsg {
	out := make(chan sseMsg, 1024)
	go func() {
		defer close(out)
		var m sseMsg
		for {
			line, err := body.ReadString('\n')
			if err != nil {
				return
			}
			line = strings.TrimSuffix(line, "\n")
			switch {
			case line == "":
				if m != (sseMsg{}) {
					out <- m
				}
				m = sseMsg{}
			case strings.HasPrefix(line, ":"):
				m.Comment = strings.TrimSpace(line[1:])
			case strings.HasPrefix(line, "event: "):
				m.Event = line[len("event: "):]
			case strings.HasPrefix(line, "data: "):
				m.Data += line[len("data: "):]
			case strings.HasPrefix(line, "retry: "):
				m.Retry = line[len("retry: "):]
			}
		}
	}()
	return out
}

// next returns the next message that satisfies ok, failing after d.
func next(t *testing.T, c <-chan sseMsg, d time.Duration, what string, ok func(sseMsg) bool) sseMsg {
	t.Helper()
	deadline := time.After(d)
	for {
		select {
		case m, open := <-c:
			if !open {
				t.Fatalf("stream ended while waiting for %s", what)
			}
			if ok(m) {
				return m
			}
		case <-deadline:
			t.Fatalf("no %s within %s", what, d)
		}
	}
}

// openStream serves d.Events() on a real HTTP server whose read and write
// timeouts are shorter than the test, and opens the stream.
func openStream(t *testing.T, d *Dashboard) (*http.Response, <-chan sseMsg, context.CancelFunc) {
	t.Helper()
	srv := httptest.NewUnstartedServer(d.Events())
	srv.Config.ReadTimeout = 300 * time.Millisecond
	srv.Config.WriteTimeout = 300 * time.Millisecond
	srv.Start()
	t.Cleanup(srv.Close)
	ctx, cancel := context.WithCancel(context.Background())
	t.Cleanup(cancel)
	req, _ := http.NewRequestWithContext(ctx, "GET", srv.URL, nil)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { resp.Body.Close() })
	return resp, readSSE(bufio.NewReader(resp.Body)), cancel
}

func waitSubscribers(t *testing.T, f *insight.Feed, n int) {
	t.Helper()
	deadline := time.Now().Add(5 * time.Second)
	for f.Subscribers() != n {
		if time.Now().After(deadline) {
			t.Fatalf("feed has %d subscribers, want %d", f.Subscribers(), n)
		}
		time.Sleep(5 * time.Millisecond)
	}
}

// TestDashboardEventsStream: headers, the retry hint, a summary at once and
// then on every tick, each feed event as a record, pings, and a stream that
// outlives the server's read and write timeouts.
func TestDashboardEventsStream(t *testing.T) {
	feed := insight.NewFeed()
	var calls atomic.Int64
	d := New(Config{
		Feed: feed, SummaryEvery: 50 * time.Millisecond, PingEvery: 80 * time.Millisecond,
		Summary: func(ctx context.Context) (any, error) {
			n := calls.Add(1)
			if n == 2 {
				return nil, errors.New("store busy") // skipped; the stream goes on
			}
			return map[string]any{"status": "ok", "call": n}, nil
		},
	})
	resp, msgs, _ := openStream(t, d)
	if ct := resp.Header.Get("Content-Type"); ct != "text/event-stream" {
		t.Fatalf("Content-Type %q", ct)
	}
	if cc := resp.Header.Get("Cache-Control"); cc != "no-cache" {
		t.Fatalf("Cache-Control %q", cc)
	}
	first := next(t, msgs, 2*time.Second, "first message", func(sseMsg) bool { return true })
	if first.Retry != "2000" {
		t.Fatalf("first message %+v, want retry: 2000", first)
	}
	sum := next(t, msgs, 2*time.Second, "summary", func(m sseMsg) bool { return m.Event == "summary" })
	var s struct {
		Status string
		Call   int
	}
	if err := json.Unmarshal([]byte(sum.Data), &s); err != nil || s.Status != "ok" || s.Call != 1 {
		t.Fatalf("first summary %q (%v), want call 1 sent at once", sum.Data, err)
	}

	waitSubscribers(t, feed, 1)
	at := time.Date(2026, 11, 22, 8, 0, 0, 0, time.UTC)
	// insight.Event has no data field: a record's data never reaches a page.
	feed.Publish(insight.Event{Kind: insight.KindSynced, At: at, Module: "finance", RecordID: "r1", LatencyMs: 12.5,
		Error: "no secret here"})
	rec := next(t, msgs, 2*time.Second, "record", func(m sseMsg) bool { return m.Event == "record" })
	var ev insight.Event
	if err := json.Unmarshal([]byte(rec.Data), &ev); err != nil {
		t.Fatal(err)
	}
	if ev.Kind != "synced" || ev.Module != "finance" || ev.RecordID != "r1" || ev.LatencyMs != 12.5 || !ev.At.Equal(at) {
		t.Fatalf("record %s", rec.Data)
	}
	if strings.Contains(rec.Data, `"data"`) {
		t.Fatalf("record carries the data: %s", rec.Data)
	}

	// Past the server's 300 ms timeouts: summaries keep coming (call 2
	// failed and was skipped), and so do pings.
	time.Sleep(400 * time.Millisecond)
	callOf := func(m sseMsg) int {
		var v struct{ Call int }
		json.Unmarshal([]byte(m.Data), &v)
		return v.Call
	}
	later := next(t, msgs, 2*time.Second, "a later summary", func(m sseMsg) bool { return m.Event == "summary" && callOf(m) != 1 })
	if c := callOf(later); c < 3 {
		t.Fatalf("summary of call %d sent; call 2 failed and must be skipped: %s", c, later.Data)
	}
	next(t, msgs, 2*time.Second, "ping", func(m sseMsg) bool { return m.Comment == "ping" })
	feed.Publish(insight.Event{Kind: insight.KindDead, Module: "creative", RecordID: "r2", Error: "rejected"})
	next(t, msgs, 2*time.Second, "record after the timeouts", func(m sseMsg) bool {
		return m.Event == "record" && strings.Contains(m.Data, `"record_id":"r2"`)
	})
}

// TestDashboardEventsRateLimit: past MaxEventsPerSecond the stream sends no
// more records that second and says how many it skipped.
func TestDashboardEventsRateLimit(t *testing.T) {
	feed := insight.NewFeed()
	d := New(Config{Feed: feed, MaxEventsPerSecond: 5})
	_, msgs, _ := openStream(t, d)
	waitSubscribers(t, feed, 1)
	evs := make([]insight.Event, 50)
	for i := range evs {
		evs[i] = insight.Event{Kind: insight.KindAccepted, Module: "education", Count: i}
	}
	feed.Publish(evs...)
	records, lost := 0, 0
	for records+lost < 50 {
		m := next(t, msgs, 3*time.Second, "records and lost counts adding up to 50", func(m sseMsg) bool {
			return m.Event == "record" || m.Event == "lost"
		})
		if m.Event == "record" {
			records++
			continue
		}
		var l struct{ Lost int }
		if err := json.Unmarshal([]byte(m.Data), &l); err != nil || l.Lost <= 0 {
			t.Fatalf("lost event %q", m.Data)
		}
		lost += l.Lost
	}
	if records < 5 || records > 10 || records+lost != 50 {
		t.Fatalf("%d records and %d lost, want 5 (10 if the drain spanned two seconds) and the rest lost", records, lost)
	}
}

// TestDashboardEventsEnd: the stream unsubscribes when the client goes away,
// and Close ends open streams (so that http.Server.Shutdown is not held).
func TestDashboardEventsEnd(t *testing.T) {
	feed := insight.NewFeed()
	d := New(Config{Feed: feed})

	_, msgs, cancel := openStream(t, d)
	next(t, msgs, 2*time.Second, "retry", func(m sseMsg) bool { return m.Retry != "" })
	waitSubscribers(t, feed, 1)
	cancel()
	waitSubscribers(t, feed, 0)

	_, msgs, _ = openStream(t, d)
	waitSubscribers(t, feed, 1)
	d.Close()
	select {
	case <-drain(msgs):
	case <-time.After(5 * time.Second):
		t.Fatal("stream still open after Close")
	}
	waitSubscribers(t, feed, 0)

	// A stream opened after Close ends at once.
	_, msgs, _ = openStream(t, d)
	select {
	case <-drain(msgs):
	case <-time.After(5 * time.Second):
		t.Fatal("stream opened after Close did not end")
	}
}

// drain reads c until it is closed.
func drain(c <-chan sseMsg) <-chan struct{} {
	done := make(chan struct{})
	go func() {
		for range c {
		}
		close(done)
	}()
	return done
}

// plainWriter hides the Flusher of the writer it wraps, as a careless
// middleware would.
type plainWriter struct{ w http.ResponseWriter }

func (p plainWriter) Header() http.Header         { return p.w.Header() }
func (p plainWriter) Write(b []byte) (int, error) { return p.w.Write(b) }
func (p plainWriter) WriteHeader(code int)        { p.w.WriteHeader(code) }

// TestDashboardEventsUnflushable: a writer that cannot flush ends the
// stream at once with an error in the log, instead of a silent hang.
func TestDashboardEventsUnflushable(t *testing.T) {
	var logs strings.Builder
	d := New(Config{Feed: insight.NewFeed(), Log: slog.New(slog.NewTextHandler(&logs, nil))})
	done := make(chan struct{})
	go func() {
		d.Events().ServeHTTP(plainWriter{httptest.NewRecorder()}, httptest.NewRequest("GET", "/api/events", nil))
		close(done)
	}()
	select {
	case <-done:
	case <-time.After(5 * time.Second):
		t.Fatal("the stream kept going on a writer that cannot flush")
	}
	if !strings.Contains(logs.String(), "cannot be flushed") {
		t.Fatalf("no error logged: %q", logs.String())
	}
}
