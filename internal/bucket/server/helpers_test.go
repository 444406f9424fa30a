package server_test

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"path/filepath"
	"testing"

	"corebridge/internal/bucket"
	"corebridge/internal/bucket/server"
)

// openStore opens a Bucket store in a fresh directory, closed at the end.
func openStore(t testing.TB) *server.Store {
	t.Helper()
	s, err := server.OpenStore(filepath.Join(t.TempDir(), "bucket.db"))
	if err != nil {
		t.Fatalf("OpenStore: %v", err)
	}
	t.Cleanup(func() {
		if err := s.Close(); err != nil {
			t.Errorf("close store: %v", err)
		}
	})
	return s
}

// rec returns a valid wire record.
func rec(id, module string) bucket.Record {
	return bucket.Record{ID: id, Module: module, SessionID: "s-" + id,
		Data: json.RawMessage(fmt.Sprintf(`{"id":%q,"n":1}`, id)), ReceivedAt: "2026-11-29T14:00:00.000000Z"}
}

// recs returns n valid records with ids prefix-0 … prefix-(n-1).
func recs(prefix, module string, n int) []bucket.Record {
	out := make([]bucket.Record, n)
	for i := range out {
		out[i] = rec(fmt.Sprintf("%s-%d", prefix, i), module)
	}
	return out
}

// post sends body to url and returns the status, the Retry-After header and
// the body of the answer.
func post(t testing.TB, url string, body []byte) (int, string, []byte) {
	t.Helper()
	resp, err := http.Post(url, "application/json", bytes.NewReader(body))
	if err != nil {
		t.Fatalf("POST %s: %v", url, err)
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatalf("read answer: %v", err)
	}
	return resp.StatusCode, resp.Header.Get("Retry-After"), b
}

func get(t testing.TB, url string) (int, []byte) {
	t.Helper()
	resp, err := http.Get(url)
	if err != nil {
		t.Fatalf("GET %s: %v", url, err)
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatalf("read answer: %v", err)
	}
	return resp.StatusCode, b
}

func mustJSON(t testing.TB, v any) []byte {
	t.Helper()
	b, err := json.Marshal(v)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// allRecords pages through everything the store holds (of module, if given).
func allRecords(t testing.TB, s *server.Store, module string, limit int) []bucket.StoredRecord {
	t.Helper()
	var out []bucket.StoredRecord
	after := ""
	for {
		page, err := s.List(context.Background(), module, after, limit)
		if err != nil {
			t.Fatalf("List(%q, %q, %d): %v", module, after, limit, err)
		}
		if len(page) == 0 {
			return out
		}
		out = append(out, page...)
		after = page[len(page)-1].ID
	}
}
