package deliver

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"net/http/httptest"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"corebridge/internal/bridge"
	"corebridge/internal/bucket"
	"corebridge/internal/bucket/server"
)

// startLimitedBucket runs a reference Bucket whose POST /v1/records takes
// bodies of at most limit bytes (413 above).
func startLimitedBucket(t *testing.T, limit int64) (*bucket.Client, *server.Store) {
	t.Helper()
	bs, err := server.OpenStore(filepath.Join(t.TempDir(), "bucket.db"))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { bs.Close() })
	hs := httptest.NewServer(server.NewServer(bs, nil, server.ServerConfig{MaxBody: limit}))
	t.Cleanup(hs.Close)
	return bucket.NewClient(hs.URL), bs
}

// appendSized appends n records of module with data of about size bytes;
// big (an index, or -1) gets data of bigSize bytes. It returns the ids.
func appendSized(t *testing.T, st bridge.Store, clk *clock, prefix, module string, n, size, big, bigSize int) []string {
	t.Helper()
	recs := make([]bridge.NewRecord, n)
	ids := make([]string, n)
	for i := range recs {
		sz := size
		if i == big {
			sz = bigSize
		}
		ids[i] = fmt.Sprintf("%s-%04d", prefix, i)
		data, _ := json.Marshal(map[string]string{"pad": strings.Repeat("x", sz)})
		recs[i] = bridge.NewRecord{ID: ids[i], Module: module, SessionID: "s", Data: data, ReceivedAt: bridge.Truncate(clk.Now())}
	}
	if _, err := st.Append(context.Background(), recs); err != nil {
		t.Fatal(err)
	}
	return ids
}

// A Bucket that refuses a batch as too large (413) gets it in halves, down
// to one record; only a record too large on its own is dead, with that
// reason. Order holds, every send is an attempt, and later batches are
// sized by what went through instead of being split again.
func TestTooLargeSplitsTheBatch(t *testing.T) {
	client, bs := startLimitedBucket(t, 4000)
	st, clk := newSQLiteStore(t), newClock()
	ids := appendSized(t, st, clk, "a", "m", 40, 100, 17, 5000)
	f := newForwarder(st, client, clk, Config{MaxAttempts: 3})
	drain(t, f)

	ctx := context.Background()
	big := get(t, st, ids[17])
	if big.State != bridge.StateDead || !strings.Contains(big.LastError, "too large (HTTP 413)") {
		t.Errorf("the big record is %s (%q), want dead as too large (HTTP 413)", big.State, big.LastError)
	}
	var want []string
	for i, id := range ids {
		if i == 17 {
			continue
		}
		want = append(want, id)
		if r := get(t, st, id); r.State != bridge.StateSynced || r.Attempts != 1 {
			t.Errorf("%s is %s after %d attempts (%q), want synced at its one counted attempt", id, r.State, r.Attempts, r.LastError)
		}
	}
	var got []string
	recs, err := bs.List(ctx, "m", "", 1000)
	if err != nil {
		t.Fatal(err)
	}
	for _, r := range recs {
		got = append(got, r.ID)
	}
	if !slices.Equal(got, want) {
		t.Errorf("the Bucket holds %v,\nwant every record but the big one, in order: %v", got, want)
	}
	// The head was in the refused batches: each send is in its history.
	hist := attempts(t, st, ids[0])
	var refused int
	for _, a := range hist {
		if a.HTTPStatus == http.StatusRequestEntityTooLarge {
			refused++
		}
	}
	if refused == 0 || hist[len(hist)-1].Outcome != bridge.AttemptOK {
		t.Errorf("head's attempts %+v, want the 413s and then the ok", hist)
	}

	// Later batches are sized by what went through: no new 413.
	more := appendSized(t, st, clk, "b", "m", 40, 100, -1, 0)
	drain(t, f)
	for _, id := range more {
		r := get(t, st, id)
		a := attempts(t, st, id)
		if r.State != bridge.StateSynced || len(a) != 1 || a[0].Outcome != bridge.AttemptOK {
			t.Errorf("%s is %s with attempts %+v, want synced at its first send", id, r.State, a)
		}
	}
}

// The budget halves on a 413 and grows back slowly, staying below the
// size refused until that is forgotten.
func TestSizerRecoversSlowly(t *testing.T) {
	clk := newClock()
	s := newSizer(4000)
	s.TooLarge(1000, clk.Now())
	if got := s.Budget(); got != 500 {
		t.Fatalf("budget after a 413 of 1000 bytes: %d, want 500", got)
	}
	for range growEvery - 1 {
		s.Through(clk.Now())
	}
	if got := s.Budget(); got != 500 {
		t.Fatalf("budget grew before %d batches went through: %d", growEvery, got)
	}
	s.Through(clk.Now())
	if got := s.Budget(); got != 625 {
		t.Fatalf("budget after %d batches through: %d, want 625", growEvery, got)
	}
	for range 10 * growEvery {
		s.Through(clk.Now())
	}
	if got := s.Budget(); got != 999 {
		t.Fatalf("budget %d, want it held just below the 1000 bytes refused", got)
	}
	clk.Add(forgetRefusal)
	for range 20 * growEvery {
		s.Through(clk.Now())
	}
	if got := s.Budget(); got != 4000 {
		t.Fatalf("budget %d long after the refusal, want back to --batch-bytes (4000)", got)
	}
}
