package sqlitedb

import (
	"context"
	"path/filepath"
	"sync"
	"testing"
	"time"
)

// TestSyncWALShared: callers that ask for a sync while one runs share the
// next one, and none returns before a sync that began after it asked.
func TestSyncWALShared(t *testing.T) {
	ctx := context.Background()
	d, err := Open(ctx, filepath.Join(t.TempDir(), "w.db"), Options{SyncByCaller: true})
	if err != nil {
		t.Fatal(err)
	}
	defer d.Close()
	if !d.SyncsByCaller() {
		t.Fatal("SyncByCaller under FULL: the caller does not sync")
	}
	var level int
	if err := d.W.QueryRowContext(ctx, "PRAGMA synchronous").Scan(&level); err != nil || level != 1 {
		t.Fatalf("write connection at synchronous %d (%v), want 1 (NORMAL)", level, err)
	}
	began := make(chan uint64, 100)
	hold := make(chan struct{})
	base := d.wal.started // Open synced once
	d.wal.beforeSync = func(n uint64) {
		began <- n
		<-hold
	}
	first := make(chan error, 1)
	go func() { first <- d.SyncWAL() }()
	if n := <-began; n != base+1 {
		t.Fatalf("first sync is number %d", n)
	}
	// Ten more ask while the first runs: none may return with it.
	var wg sync.WaitGroup
	returned := make(chan struct{}, 10)
	for range 10 {
		wg.Go(func() {
			if err := d.SyncWAL(); err != nil {
				t.Error(err)
			}
			returned <- struct{}{}
		})
	}
	time.Sleep(50 * time.Millisecond) // let them all ask
	close(hold)
	if err := <-first; err != nil {
		t.Fatal(err)
	}
	wg.Wait()
	close(began)
	var later []uint64
	for n := range began {
		later = append(later, n)
	}
	if len(later) != 1 || later[0] != base+2 {
		t.Fatalf("the ten waiting callers began syncs %v, want one (number %d) for all", later, base+2)
	}
}
