package sqlite

import (
	"fmt"
	"path/filepath"
	"sync/atomic"
	"testing"
	"time"

	"corebridge/internal/bridge"
)

// deadLetters stores n records of module m and dead-letters all of them.
func deadLetters(t *testing.T, s *Store, m string, n int) {
	t.Helper()
	ctx := t.Context()
	now := bridge.Now()
	for i := 0; i < n; i += 1000 {
		var recs []bridge.NewRecord
		for j := i; j < min(n, i+1000); j++ {
			recs = append(recs, bridge.NewRecord{ID: fmt.Sprintf("%s-%06d", m, j), Module: m, SessionID: "s",
				Data: []byte(`{"n":1}`), ReceivedAt: now})
		}
		if _, err := s.Append(ctx, recs); err != nil {
			t.Fatal(err)
		}
	}
	l, err := s.Lease(ctx, bridge.LeaseParams{Owner: "t", Now: now, TTL: time.Hour, MaxRecords: n})
	if err != nil || l == nil || len(l.Records) != n {
		t.Fatalf("lease of %d: %v, %v", n, l, err)
	}
	st := bridge.Settlement{LeaseID: l.ID, Module: m, Now: now}
	for _, r := range l.Records {
		st.Dead = append(st.Dead, bridge.DeadMark{ID: r.ID, Reason: "rejected"})
	}
	if err := s.Settle(ctx, st); err != nil {
		t.Fatal(err)
	}
}

// TestReplayAllLetsIngestIn: replaying 20,000 dead letters does not hold
// the writer for the whole operation: an Append issued once the replay is
// under way completes before the replay returns (an ordering check, no
// timing threshold), and meanwhile the module being replayed is not
// leased, so its replayed records still go out in their place.
func TestReplayAllLetsIngestIn(t *testing.T) {
	const n = 20000
	s, err := Open(filepath.Join(t.TempDir(), "page.db"), Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	ctx := t.Context()
	deadLetters(t, s, "m", n)

	var done atomic.Bool
	result := make(chan error, 1)
	go func() {
		got, err := s.ReplayDead(ctx, bridge.ReplayParams{All: true, Now: bridge.Now()})
		done.Store(true)
		if err == nil && got != n {
			err = fmt.Errorf("ReplayDead = %d, want %d", got, n)
		}
		result <- err
	}()
	// Under way: some of the replay is committed (read from the read pool).
	for {
		st, err := s.Stats(ctx)
		if err != nil {
			t.Fatal(err)
		}
		if st.Dead < n {
			break
		}
		time.Sleep(100 * time.Microsecond)
	}
	if _, err := s.Append(ctx, []bridge.NewRecord{{ID: "late", Module: "other", SessionID: "s",
		Data: []byte(`{}`), ReceivedAt: bridge.Now()}}); err != nil {
		t.Fatal(err)
	}
	appendedFirst := !done.Load()
	l, err := s.Lease(ctx, bridge.LeaseParams{Owner: "t", Now: bridge.Now().Add(time.Second), TTL: time.Hour, MaxRecords: 10})
	if err != nil {
		t.Fatal(err)
	}
	leasedBeforeEnd := l != nil && l.Module == "m" && !done.Load()
	if err := <-result; err != nil {
		t.Fatal(err)
	}
	if !appendedFirst {
		t.Errorf("an Append issued during the replay of %d dead letters returned after the replay: ingest waited for all of it", n)
	}
	if leasedBeforeEnd {
		t.Errorf("module m was leased (%s…) while its replay was still running", l.Records[0].ID)
	}
	if st, err := s.Stats(ctx); err != nil || st.Dead != 0 || st.Pending != n+1 {
		t.Errorf("after the replay: %+v, %v; want 0 dead, %d pending", st, err, n+1)
	}
}
