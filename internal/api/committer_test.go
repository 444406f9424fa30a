package api_test

import (
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"corebridge/internal/api"
	"corebridge/internal/bridge"
)

// Many producers over real HTTP: every acknowledged record is stored once,
// and they share commits.
func TestConcurrentIngest(t *testing.T) {
	const producers, each = 64, 50
	f := newFixture(t, api.Config{})
	hs := httptest.NewServer(f.srv)
	t.Cleanup(hs.Close)
	client := &http.Client{
		Transport: &http.Transport{MaxIdleConnsPerHost: producers},
		Timeout:   time.Minute,
	}
	t.Cleanup(client.CloseIdleConnections)

	ids := make([][]string, producers)
	errs := make(chan error, producers)
	var wg sync.WaitGroup
	for g := range producers {
		wg.Go(func() {
			for i := range each {
				body := fmt.Sprintf(`{"module":"mod%d","session_id":"g%d","data":{"i":%d}}`, g%8, g, i)
				resp, err := client.Post(hs.URL+"/core/update", "application/json", bytes.NewBufferString(body))
				if err != nil {
					errs <- err
					return
				}
				b, _ := io.ReadAll(resp.Body)
				resp.Body.Close()
				if resp.StatusCode != http.StatusOK {
					errs <- fmt.Errorf("producer %d item %d: status %d: %s", g, i, resp.StatusCode, b)
					return
				}
				var a struct {
					RecordID  string `json:"record_id"`
					Duplicate bool   `json:"duplicate"`
				}
				if err := json.Unmarshal(b, &a); err != nil || a.RecordID == "" || a.Duplicate {
					errs <- fmt.Errorf("producer %d item %d: answer %s (%v)", g, i, b, err)
					return
				}
				ids[g] = append(ids[g], a.RecordID)
			}
		})
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Fatal(err)
	}

	distinct := map[string]bool{}
	for _, g := range ids {
		for _, id := range g {
			distinct[id] = true
		}
	}
	if len(distinct) != producers*each {
		t.Errorf("%d distinct record ids, want %d", len(distinct), producers*each)
	}
	if st := f.stats(t); st.Received != producers*each || st.Pending != producers*each {
		t.Errorf("stats = %+v, want %d received and pending", st, producers*each)
	}
	commits, records := f.commitStats()
	if records != producers*each {
		t.Errorf("committed %d records, want %d", records, producers*each)
	}
	if commits >= records {
		t.Errorf("%d commits for %d records: no group commit happened", commits, records)
	}
	t.Logf("%d records in %d commits (%.1f per commit)", records, commits, float64(records)/float64(commits))
}

// Stop while producers are submitting: each one is either committed (and
// then stored) or refused as unavailable, and none waits forever.
func TestStopWhileSubmitting(t *testing.T) {
	const producers = 32
	f := newFixture(t, api.Config{})

	type outcome struct {
		code int
		body []byte
		hdr  http.Header
	}
	var (
		mu       sync.Mutex
		outcomes []outcome
		accepted atomic.Int64
	)
	var wg sync.WaitGroup
	for g := range producers {
		wg.Go(func() {
			// Each producer keeps sending until it is refused.
			for i := range 10000 {
				r := serve(t, f.srv, "POST", "/core/update", fmt.Sprintf(`{"module":"m","data":{"g":%d,"i":%d}}`, g, i))
				mu.Lock()
				outcomes = append(outcomes, outcome{r.code, r.body, r.header})
				mu.Unlock()
				if r.code != http.StatusOK {
					return
				}
				accepted.Add(1)
			}
		})
	}

	// Let the writer get busy, then stop it under load.
	deadline := time.After(30 * time.Second)
	for accepted.Load() < 100 {
		select {
		case <-deadline:
			t.Fatal("producers made no progress")
		case <-time.After(time.Millisecond):
		}
	}
	stopped := make(chan struct{})
	go func() { f.stop(t); close(stopped) }()
	done := make(chan struct{})
	go func() { wg.Wait(); close(done) }()
	for _, ch := range []chan struct{}{stopped, done} {
		select {
		case <-ch:
		case <-deadline:
			t.Fatal("Stop or a submit hung")
		}
	}

	var ok, refused int
	for _, o := range outcomes {
		switch o.code {
		case http.StatusOK:
			ok++
			var a struct {
				RecordID string `json:"record_id"`
			}
			if err := json.Unmarshal(o.body, &a); err != nil {
				t.Fatal(err)
			}
			if _, err := f.store.Get(t.Context(), a.RecordID); err != nil {
				t.Errorf("acknowledged record %s is not stored: %v", a.RecordID, err)
			}
		case http.StatusServiceUnavailable:
			refused++
			var e struct {
				Error struct{ Code string } `json:"error"`
			}
			if err := json.Unmarshal(o.body, &e); err != nil || e.Error.Code != bridge.EUNAVAILABLE {
				t.Errorf("refusal %s, want code unavailable", o.body)
			}
			if o.hdr.Get("Retry-After") == "" {
				t.Error("refusal without Retry-After")
			}
		default:
			t.Errorf("status %d: %s", o.code, o.body)
		}
	}
	if refused != producers {
		t.Errorf("%d refusals, want one per producer (%d)", refused, producers)
	}
	if st := f.stats(t); st.Received != int64(ok) {
		t.Errorf("stored %d records, acknowledged %d", st.Received, ok)
	}
	if _, records := f.commitStats(); records != int64(ok) {
		t.Errorf("committed %d records, acknowledged %d", records, ok)
	}

	t.Run("after stop", func(t *testing.T) {
		r := f.do(t, "POST", "/core/update", `{"module":"m","data":{}}`)
		r.want(t, http.StatusServiceUnavailable)
		r = f.do(t, "POST", "/core/updates", `[{"module":"m","data":{}}]`)
		r.want(t, http.StatusServiceUnavailable)
		f.stop(t) // a second stop returns at once
	})
}
