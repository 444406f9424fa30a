package mock

import (
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"sync"
	"testing"
	"time"

	"corebridge/internal/bridge"
)

// fakeBridge answers POST /core/update in the seed's shape after checking
// the request with the bridge's own validation, and remembers what it got.
type fakeBridge struct {
	t   *testing.T
	URL string
	// status picks the answer to the nth request (from 1); 0 means 200.
	status func(n int, u bridge.Update) int

	mu       sync.Mutex
	n        int
	sessions map[string]int // session_id → times seen
	modules  map[string]int // module → requests
	auth     map[string]int // Authorization header → requests
	load     map[string]int // Corebridge-Load-Test header → requests
}

func newFakeBridge(t *testing.T, status func(n int, u bridge.Update) int) *fakeBridge {
	t.Helper()
	f := &fakeBridge{t: t, status: status, sessions: map[string]int{}, modules: map[string]int{}, auth: map[string]int{}, load: map[string]int{}}
	srv := httptest.NewServer(f)
	t.Cleanup(srv.Close)
	f.URL = srv.URL
	return f
}

func (f *fakeBridge) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	if r.Method != http.MethodPost || r.URL.Path != "/core/update" {
		f.t.Errorf("request %s %s, want POST /core/update", r.Method, r.URL.Path)
		http.NotFound(w, r)
		return
	}
	body, _ := io.ReadAll(r.Body)
	u, err := bridge.DecodeUpdate(body)
	if err != nil {
		f.t.Errorf("the producer sent an invalid update: %v: %s", err, body)
		w.WriteHeader(http.StatusUnprocessableEntity)
		io.WriteString(w, `{"detail":[{"loc":["body"],"msg":"invalid","type":"value_error"}]}`)
		return
	}
	f.mu.Lock()
	f.n++
	n := f.n
	f.sessions[u.SessionID]++
	f.modules[u.Module]++
	f.auth[r.Header.Get("Authorization")]++
	f.load[r.Header.Get("Corebridge-Load-Test")]++
	f.mu.Unlock()

	status := 0
	if f.status != nil {
		status = f.status(n, u)
	}
	w.Header().Set("Content-Type", "application/json")
	if status != 0 && status != http.StatusOK {
		w.Header().Set("Retry-After", "1")
		w.WriteHeader(status)
		io.WriteString(w, `{"error":{"code":"unavailable","message":"queue full"}}`)
		return
	}
	json.NewEncoder(w).Encode(map[string]string{
		"status":     "success",
		"timestamp":  time.Now().UTC().Format("2006-01-02T15:04:05.000000Z"),
		"session_id": u.SessionID,
		"message":    "Data received and logged for module " + u.Module,
		"record_id":  fmt.Sprintf("rec-%d", n),
	})
}

// requests returns how many valid updates the bridge received.
func (f *fakeBridge) requests() int {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.n
}

// duplicateSessions returns the session_ids that were sent more than once.
func (f *fakeBridge) duplicateSessions() []string {
	f.mu.Lock()
	defer f.mu.Unlock()
	var dups []string
	for s, n := range f.sessions {
		if n > 1 || s == "" {
			dups = append(dups, s)
		}
	}
	return dups
}
