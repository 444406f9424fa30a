package dashboard

import (
	"bufio"
	"context"
	"net/http"
	"net/http/httptest"
	"sync"
	"sync/atomic"
	"testing"
	"time"
)

// TestSummarySharedByStreams: twenty open pages, each getting a summary
// every tick, cost one summary computation per tick between them, not
// one each (before, each stream computed its own: at least 20 × 5 here).
func TestSummarySharedByStreams(t *testing.T) {
	var calls atomic.Int64
	d := New(Config{SummaryEvery: 50 * time.Millisecond,
		Summary: func(context.Context) (any, error) { return map[string]int64{"call": calls.Add(1)}, nil }})
	srv := httptest.NewServer(d.Events())
	t.Cleanup(srv.Close)
	const pages, each = 20, 5
	var wg sync.WaitGroup
	for range pages {
		wg.Go(func() {
			ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
			defer cancel()
			req, _ := http.NewRequestWithContext(ctx, "GET", srv.URL, nil)
			resp, err := http.DefaultClient.Do(req)
			if err != nil {
				t.Error(err)
				return
			}
			defer resp.Body.Close()
			msgs := readSSE(bufio.NewReader(resp.Body))
			for got := 0; got < each; {
				m, ok := <-msgs
				if !ok {
					t.Error("stream ended early")
					return
				}
				if m.Event == "summary" {
					got++
				}
			}
		})
	}
	wg.Wait()
	if n := calls.Load(); n >= pages*each/2 {
		t.Errorf("%d pages that got %d summaries each cost %d computations, want about one per tick (< %d)", pages, each, n, pages*each/2)
	} else {
		t.Logf("%d computations for %d pages × %d summaries", n, pages, each)
	}
}

// TestMaxClients: past MaxClients a stream is refused with 503 and
// Retry-After, and OnRefused is told why.
func TestMaxClients(t *testing.T) {
	var why atomic.Value
	d := New(Config{MaxClients: 1, OnRefused: func(w string) { why.Store(w) }})
	t.Cleanup(d.Close)
	srv := httptest.NewServer(d.Events())
	t.Cleanup(srv.Close)
	first, err := http.Get(srv.URL)
	if err != nil {
		t.Fatal(err)
	}
	defer first.Body.Close()
	bufio.NewReader(first.Body).ReadString('\n') // served
	second, err := http.Get(srv.URL)
	if err != nil {
		t.Fatal(err)
	}
	second.Body.Close()
	if second.StatusCode != http.StatusServiceUnavailable || second.Header.Get("Retry-After") == "" {
		t.Fatalf("second stream with MaxClients 1: %d, Retry-After %q", second.StatusCode, second.Header.Get("Retry-After"))
	}
	if w, _ := why.Load().(string); w != "too many event streams open: --max-sse-clients is 1" {
		t.Errorf("OnRefused got %q", w)
	}
}
