package main

import (
	"context"
	"errors"
	"log/slog"
	"net"
	"net/http"
	"path/filepath"
	"sync"
	"testing"
	"time"

	"corebridge/internal/bucket/server"
)

// bucketFault is what the switchable Bucket in front of the reference one
// does to the bridge's requests.
type bucketFault int

const (
	bucketOK           bucketFault = iota // pass everything to the reference Bucket
	bucketNotFound                        // 404 on every path: a wrong --bucket-url or a proxy
	bucketUnauthorized                    // 401 on every path but /healthz, as a Bucket that wants a token
	bucketSlow                            // answer every request only after bucketSlowBy
	bucketHold                            // hold POST /v1/records until the fault is cleared
)

// bucketSlowBy is how long a slow Bucket takes to answer: longer than the
// --delivery-timeout the fault test gives serve.
const bucketSlowBy = 5 * time.Second

// faultBucket is a real reference Bucket (its own SQLite store) behind a
// switchable handler, on a loopback port that can be closed (unreachable)
// and opened again at the same address.
type faultBucket struct {
	t      *testing.T
	URL    string
	Server *server.Server
	store  *server.Store
	addr   string

	mu      sync.Mutex
	fault   bucketFault
	release chan struct{} // closed when a bucketHold is cleared
	hs      *http.Server
	served  chan struct{} // closed when hs has stopped serving
}

// startFaultBucket starts one; it is stopped when the test ends.
func startFaultBucket(t *testing.T) *faultBucket {
	t.Helper()
	store, err := server.OpenStore(filepath.Join(t.TempDir(), server.DBFile))
	if err != nil {
		t.Fatal(err)
	}
	fb := &faultBucket{t: t, store: store, release: make(chan struct{}),
		Server: server.NewServer(store, slog.New(slog.DiscardHandler), server.ServerConfig{})}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	fb.addr = ln.Addr().String()
	fb.URL = "http://" + fb.addr
	fb.serve(ln)
	t.Cleanup(func() {
		fb.Set(bucketOK) // let held requests go
		fb.Close()
		if err := fb.store.Close(); err != nil {
			t.Errorf("close the Bucket's store: %v", err)
		}
	})
	return fb
}

func (fb *faultBucket) serve(ln net.Listener) {
	hs := &http.Server{Handler: fb, ReadHeaderTimeout: 10 * time.Second}
	done := make(chan struct{})
	fb.mu.Lock()
	fb.hs, fb.served = hs, done
	fb.mu.Unlock()
	go func() {
		defer close(done)
		if err := hs.Serve(ln); !errors.Is(err, http.ErrServerClosed) {
			fb.t.Errorf("fault bucket: serve: %v", err)
		}
	}()
}

// Set switches the fault; clearing a hold lets the held requests through.
func (fb *faultBucket) Set(f bucketFault) {
	fb.mu.Lock()
	defer fb.mu.Unlock()
	if fb.fault == bucketHold && f != bucketHold {
		close(fb.release)
		fb.release = make(chan struct{})
	}
	fb.fault = f
}

// Close closes the listener and every connection: the bridge's next
// request is refused (unreachable). Reopen serves again at the same address.
func (fb *faultBucket) Close() {
	fb.mu.Lock()
	hs, done := fb.hs, fb.served
	fb.hs = nil
	fb.mu.Unlock()
	if hs == nil {
		return
	}
	if err := hs.Close(); err != nil {
		fb.t.Errorf("fault bucket: close: %v", err)
	}
	<-done
}

// Reopen listens again at the address Close gave up.
func (fb *faultBucket) Reopen() {
	fb.t.Helper()
	var ln net.Listener
	var err error
	for range 100 { // the port is ours, but the kernel may take a moment
		if ln, err = net.Listen("tcp", fb.addr); err == nil {
			break
		}
		time.Sleep(20 * time.Millisecond)
	}
	if err != nil {
		fb.t.Fatalf("fault bucket: listen again on %s: %v", fb.addr, err)
	}
	fb.serve(ln)
}

func (fb *faultBucket) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	fb.mu.Lock()
	fault, release := fb.fault, fb.release
	fb.mu.Unlock()
	switch fault {
	case bucketNotFound:
		http.NotFound(w, r)
		return
	case bucketUnauthorized:
		if r.URL.Path != "/healthz" {
			w.Header().Set("WWW-Authenticate", "Bearer")
			http.Error(w, `{"detail":"a bearer token is required"}`, http.StatusUnauthorized)
			return
		}
	case bucketSlow:
		if !waitChan(r.Context(), time.After(bucketSlowBy)) {
			return // the bridge gave up first
		}
	case bucketHold:
		if r.Method == http.MethodPost && !waitChan(r.Context(), release) {
			return
		}
	}
	fb.Server.ServeHTTP(w, r)
}

// waitChan waits for c and reports whether it came before ctx ended.
func waitChan[T any](ctx context.Context, c <-chan T) bool {
	select {
	case <-c:
		return true
	case <-ctx.Done():
		return false
	}
}
