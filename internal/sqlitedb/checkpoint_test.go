package sqlitedb_test

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"corebridge/internal/sqlitedb"
)

// TestBackgroundCheckpointBoundsWAL: with checkpoints moved off the
// writer, the WAL still stays bounded under continuous writes, and the
// data is all in the main file after Close.
func TestBackgroundCheckpointBoundsWAL(t *testing.T) {
	path := filepath.Join(t.TempDir(), "c.db")
	db := openCheckpointed(t, path)
	var auto int
	if err := db.W.QueryRow("PRAGMA wal_autocheckpoint").Scan(&auto); err != nil || auto != 800 {
		t.Fatalf("writer's wal_autocheckpoint = %d (%v), want the 4 x 200 safety net", auto, err)
	}
	// Bursts of 100 rows with a pause between, for the checkpointer to run.
	maxWAL := writePages(t, db, path, 3000, 100)
	// 3,000 pages went through the WAL; the safety net alone would let it
	// reach 800 pages (3.3 MB), the background passes keep it near 200-400.
	if limit := int64(600 * 4120); maxWAL > limit {
		t.Errorf("WAL reached %d bytes, want at most %d (about 600 frames)", maxWAL, limit)
	}
	t.Logf("largest WAL seen: %d bytes", maxWAL)
	if err := db.Close(); err != nil {
		t.Fatal(err)
	}
	db, err := sqlitedb.Open(t.Context(), path, sqlitedb.Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	var n int
	if err := db.R.QueryRow(`SELECT count(*) FROM t`).Scan(&n); err != nil || n != 3000 {
		t.Fatalf("rows after reopen: %d (%v), want 3000", n, err)
	}
}

// TestCheckpointRestartsUnderSteadyWrites: a writer that never pauses (and
// readers beside it) still gets its WAL started over, near MaxWALPages,
// well under the writer's own safety net (4 x MaxWALPages).
func TestCheckpointRestartsUnderSteadyWrites(t *testing.T) {
	path := filepath.Join(t.TempDir(), "s.db")
	db := openCheckpointed(t, path)
	defer db.Close()
	stop := make(chan struct{})
	readerDone := make(chan struct{})
	go func() { // short reads beside the writer, as the status routes make
		defer close(readerDone)
		for i := 0; ; i++ {
			select {
			case <-stop:
				return
			case <-time.After(time.Millisecond):
			}
			var v string
			db.R.QueryRow(`SELECT v FROM t WHERE k = ?`, i).Scan(&v)
		}
	}()
	maxWAL := writePages(t, db, path, 4000, 0)
	close(stop)
	<-readerDone
	t.Logf("largest WAL seen: %d bytes (%d pages)", maxWAL, maxWAL/4120)
	if limit := int64(2 * 200 * 4120); maxWAL > limit {
		t.Errorf("WAL reached %d bytes under steady writes, want at most %d (2 x MaxWALPages)", maxWAL, limit)
	}
}

// openCheckpointed opens path as serve does (synchronous=FULL: an fsync a
// commit) with background checkpoints every millisecond, a 200-page WAL
// bound, and a table t for writePages. With NORMAL and 5 ms passes an idle
// machine wrote ~100 pages between two passes and the WAL's high-water
// mark passed 2 x the bound without -race.
func openCheckpointed(t *testing.T, path string) *sqlitedb.DB {
	t.Helper()
	db, err := sqlitedb.Open(t.Context(), path, sqlitedb.Options{Synchronous: "FULL",
		BackgroundCheckpoint: true, CheckpointEvery: time.Millisecond, MaxWALPages: 200})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := db.W.Exec(`CREATE TABLE t (k INTEGER PRIMARY KEY, v TEXT)`); err != nil {
		t.Fatal(err)
	}
	return db
}

// writePages inserts n rows of about a page each into t, one commit each,
// pausing 10 ms after every burst rows (never if burst is 0), and returns
// the largest WAL file seen.
func writePages(t *testing.T, db *sqlitedb.DB, path string, n, burst int) int64 {
	t.Helper()
	pad := strings.Repeat("x", 3000)
	maxWAL := int64(0)
	for i := 0; i < n; i++ {
		if _, err := db.W.Exec(`INSERT INTO t (k, v) VALUES (?, ?)`, i, pad); err != nil {
			t.Fatal(err)
		}
		if fi, err := os.Stat(path + "-wal"); err == nil {
			maxWAL = max(maxWAL, fi.Size())
		}
		if burst > 0 && i%burst == 0 {
			time.Sleep(10 * time.Millisecond)
		}
	}
	return maxWAL
}
