package ingest

import (
	"context"
	"encoding/json"
	"errors"
	"log/slog"
	"sync"
	"testing"

	"corebridge/internal/bridge"
	"corebridge/internal/logtest"
	"corebridge/internal/store/storetest"
)

// stubStore is an in-memory store whose pending count and Append failures
// the test sets.
type stubStore struct {
	*storetest.Mem
	mu      sync.Mutex
	pending int64
	fail    error
}

func (s *stubStore) Stats(ctx context.Context) (bridge.Stats, error) {
	st, err := s.Mem.Stats(ctx)
	s.mu.Lock()
	defer s.mu.Unlock()
	st.Pending = s.pending
	return st, err
}

func (s *stubStore) Append(ctx context.Context, recs []bridge.NewRecord) ([]bridge.Appended, error) {
	s.mu.Lock()
	err := s.fail
	if err == nil {
		s.pending += int64(len(recs))
	}
	s.mu.Unlock()
	if err != nil {
		return nil, err
	}
	return s.Mem.Append(ctx, recs)
}

func (s *stubStore) set(pending int64, fail error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.pending, s.fail = pending, fail
}

func startLogged(t *testing.T, st bridge.Store, logs *logtest.Buffer, maxPending int64) *Writer {
	t.Helper()
	w := New(st, slog.New(slog.NewJSONHandler(logs, nil)), Config{MaxPending: maxPending})
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- w.Run(ctx) }()
	t.Cleanup(func() {
		cancel()
		if err := <-done; err != nil {
			t.Error(err)
		}
	})
	return w
}

func submit(w *Writer, id string) error {
	_, err := w.Submit(context.Background(), []bridge.NewRecord{{ID: id, Module: "m", SessionID: "s", Data: json.RawMessage(`{}`)}})
	return err
}

// A full queue logs one WARN when ingest starts refusing, however many
// requests it refuses, and one INFO when it accepts again.
func TestWriterLogsRefusingAndAcceptingAgain(t *testing.T) {
	st := &stubStore{Mem: storetest.NewMem()}
	var logs logtest.Buffer
	w := startLogged(t, st, &logs, 2)
	const refusing, accepting = "ingest refusing: queue is full", "ingest accepts again"

	for i, id := range []string{"a", "b", "c", "d"} {
		err := submit(w, id)
		if i < 2 && err != nil {
			t.Fatalf("submit %s: %v", id, err)
		}
		if i >= 2 && err == nil {
			t.Fatalf("submit %s past MaxPending 2 was accepted", id)
		}
	}
	warns := logs.Lines(t, "WARN", refusing)
	if len(warns) != 1 {
		t.Fatalf("%d WARN %q lines after two refusals, want 1", len(warns), refusing)
	}
	if warns[0]["pending"] != float64(2) || warns[0]["max_pending"] != float64(2) {
		t.Errorf("refusing line %v, want pending 2, max_pending 2", warns[0])
	}
	if n := len(logs.Lines(t, "INFO", accepting)); n != 0 {
		t.Fatalf("%d %q lines while refusing", n, accepting)
	}

	st.set(0, nil) // delivered
	if err := submit(w, "e"); err != nil {
		t.Fatalf("submit after the queue drained: %v", err)
	}
	if err := submit(w, "f"); err != nil {
		t.Fatal(err)
	}
	infos := logs.Lines(t, "INFO", accepting)
	if len(infos) != 1 {
		t.Fatalf("%d INFO %q lines, want 1", len(infos), accepting)
	}
	if infos[0]["refused"] != float64(2) {
		t.Errorf("accepting line %v, want refused 2 (records)", infos[0])
	}
	if n := len(logs.Lines(t, "WARN", refusing)); n != 1 {
		t.Errorf("%d refusing lines, want still 1", n)
	}
}

// Every failed commit is logged at ERROR; the first good commit after them
// says so at INFO, once.
func TestWriterLogsCommitsSucceedAgain(t *testing.T) {
	st := &stubStore{Mem: storetest.NewMem()}
	var logs logtest.Buffer
	w := startLogged(t, st, &logs, -1)
	const failed, ok = "commit failed", "commits succeed again"

	st.set(0, errors.New("disk I/O error"))
	for _, id := range []string{"a", "b"} {
		if err := submit(w, id); err == nil {
			t.Fatalf("submit %s: no error from a failing store", id)
		}
	}
	if n := len(logs.Lines(t, "ERROR", failed)); n != 2 {
		t.Fatalf("%d ERROR %q lines, want one per failed commit (2)", n, failed)
	}
	st.set(0, nil)
	for _, id := range []string{"c", "d"} {
		if err := submit(w, id); err != nil {
			t.Fatal(err)
		}
	}
	infos := logs.Lines(t, "INFO", ok)
	if len(infos) != 1 {
		t.Fatalf("%d INFO %q lines, want 1", len(infos), ok)
	}
	if infos[0]["failed_commits"] != float64(2) {
		t.Errorf("recovery line %v, want failed_commits 2", infos[0])
	}
}

// A storage fault (a full disk: EUNAVAILABLE from the store) is logged at
// WARN when commits start failing, not once per refused commit (producers
// retry every few seconds while the disk stays full), and at INFO when
// they succeed again.
func TestWriterLogsStorageFaultOnce(t *testing.T) {
	st := &stubStore{Mem: storetest.NewMem()}
	var logs logtest.Buffer
	w := startLogged(t, st, &logs, -1)
	const failed, ok = "commit failed: storage unavailable", "commits succeed again"

	st.set(0, &bridge.Error{Code: bridge.EUNAVAILABLE, Message: "storage is full", Err: errors.New("database or disk is full")})
	for _, id := range []string{"a", "b", "c"} {
		if err := submit(w, id); bridge.ErrorCode(err) != bridge.EUNAVAILABLE {
			t.Fatalf("submit %s on a full store: %v, want an unavailable error", id, err)
		}
	}
	if n := len(logs.Lines(t, "WARN", failed)); n != 1 {
		t.Fatalf("%d WARN %q lines after three failed commits, want 1", n, failed)
	}
	if n := len(logs.Lines(t, "ERROR", "commit failed")); n != 0 {
		t.Fatalf("%d ERROR lines for a storage fault, want none", n)
	}
	st.set(0, nil)
	if err := submit(w, "d"); err != nil {
		t.Fatal(err)
	}
	infos := logs.Lines(t, "INFO", ok)
	if len(infos) != 1 || infos[0]["failed_commits"] != float64(3) {
		t.Fatalf("recovery lines %v, want one with failed_commits 3", infos)
	}
}
