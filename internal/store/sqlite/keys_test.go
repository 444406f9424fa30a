package sqlite

import (
	"context"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"io/fs"
	"path/filepath"
	"strings"
	"testing"
	"testing/fstest"
	"time"

	"corebridge/internal/bridge"
	"corebridge/internal/ingest"
	"corebridge/internal/sqlitedb"
)

func keyedRecord(id, key string, at time.Time) bridge.NewRecord {
	return bridge.NewRecord{ID: id, Module: "m", SessionID: "s", Data: json.RawMessage(`{"n":1}`),
		ReceivedAt: at, DedupeKey: key} // one session: a resend of the same key is the same update
}

func openTest(t *testing.T, path string) *Store {
	t.Helper()
	s, err := Open(path, Options{})
	if err != nil {
		t.Fatal(err)
	}
	return s
}

// TestKeydirFollowsDeletes: pruned and purged records leave memory too, so
// the keydir does not grow with records that are gone.
func TestKeydirFollowsDeletes(t *testing.T) {
	ctx := context.Background()
	s := openTest(t, filepath.Join(t.TempDir(), "k.db"))
	defer s.Close()
	at := time.Now().UTC().Truncate(time.Microsecond)
	if _, err := s.Append(ctx, []bridge.NewRecord{
		keyedRecord("a", "ka", at), keyedRecord("b", "kb", at), keyedRecord("c", "kc", at), keyedRecord("d", "", at),
	}); err != nil {
		t.Fatal(err)
	}
	if n := len(s.keys.mem.keys); n != 3 {
		t.Fatalf("keydir holds %d keys after appending 3 keyed records, want 3", n)
	}
	if _, err := s.w.ExecContext(ctx, `UPDATE records SET state = 1, synced_at = 1 WHERE id IN ('a', 'd')`); err != nil {
		t.Fatal(err)
	}
	if _, err := s.w.ExecContext(ctx, `UPDATE records SET state = 2 WHERE id = 'b'`); err != nil {
		t.Fatal(err)
	}
	if n, err := s.Prune(ctx, bridge.PruneParams{SyncedBefore: at, Limit: 10}); err != nil || n != 2 {
		t.Fatalf("prune = %d, %v; want 2", n, err)
	}
	if _, ok := s.keys.mem.keys[digestOf("ka")]; ok || len(s.keys.mem.keys) != 2 {
		t.Fatalf("after pruning a: keydir %v, want kb and kc only", s.keys.mem.keys)
	}
	if _, err := s.PurgeDead(ctx, bridge.ReplayParams{IDs: []string{"b"}}); err != nil {
		t.Fatal(err)
	}
	if _, ok := s.keys.mem.keys[digestOf("kc")]; !ok || len(s.keys.mem.keys) != 1 {
		t.Fatalf("after purging b: keydir %v, want kc only", s.keys.mem.keys)
	}
}

// TestKeydirNeverInventsDuplicates: should memory ever point a key at the
// wrong record, the record is stored, not acknowledged as somebody else's.
func TestKeydirNeverInventsDuplicates(t *testing.T) {
	ctx := context.Background()
	s := openTest(t, filepath.Join(t.TempDir(), "k.db"))
	defer s.Close()
	at := time.Now().UTC()
	if _, err := s.Append(ctx, []bridge.NewRecord{keyedRecord("a", "ka", at)}); err != nil {
		t.Fatal(err)
	}
	s.keys.mem.keys[digestOf("kb")] = s.keys.mem.keys[digestOf("ka")]
	got, err := s.Append(ctx, []bridge.NewRecord{keyedRecord("b", "kb", at)})
	if err != nil {
		t.Fatal(err)
	}
	if got[0].Duplicate || got[0].ID != "b" {
		t.Fatalf("Append = %+v, want b stored", got[0])
	}
	if got, _ := s.Append(ctx, []bridge.NewRecord{keyedRecord("b2", "kb", at)}); !got[0].Duplicate || got[0].ID != "b" {
		t.Fatalf("Append = %+v, want a duplicate of b", got[0])
	}
}

func TestDigest(t *testing.T) {
	u := bridge.Update{Module: "m", SessionID: "s", Data: json.RawMessage(`{}`)}
	hexKey := ingest.DedupeKey(u, "")
	d := digestOf(hexKey)
	if got := hex.EncodeToString(d[:]); got != hexKey {
		t.Fatalf("digest of the 32-hex key %s is %s, want its bytes", hexKey, got)
	}
	if digestOf("k") == digestOf("k ") || digestOf(strings.ToUpper(hexKey)) == d {
		t.Fatal("different keys share a digest")
	}
}

// TestDedupeQueryPlans: opening reads only the records after the last
// run (a range of the primary key), a run's block by (run, first), and
// whether a run can go is a range of the primary key too.
func TestDedupeQueryPlans(t *testing.T) {
	s := openTest(t, filepath.Join(t.TempDir(), "k.db"))
	defer s.Close()
	for q, want := range map[string]string{
		qLoadTail: "SEARCH records USING INTEGER PRIMARY KEY (rowid>?)",
		qRunBlock: "SEARCH dedupe_blocks USING INDEX dedupe_blocks_run_first (run=? AND first<?)",
		qRunLive:  "SEARCH records USING INTEGER PRIMARY KEY (rowid>? AND rowid<?)",
	} {
		if plan := queryPlan(t, s.r, q); !strings.Contains(plan, want) {
			t.Fatalf("plan of %q is %q, want %q", q, plan, want)
		}
	}
}

// TestMigrationFromUniqueIndex: a store whose keys were kept in the unique
// index records_dedupe (migrations 0001-0004) opens with that index gone
// and every stored key still deduping.
func TestMigrationFromUniqueIndex(t *testing.T) {
	ctx := context.Background()
	path := filepath.Join(t.TempDir(), "old.db")
	old := fstest.MapFS{}
	entries, err := fs.ReadDir(migrationFS, "migrations")
	if err != nil {
		t.Fatal(err)
	}
	for _, e := range entries {
		if e.Name() < "0005" {
			b, _ := fs.ReadFile(migrationFS, "migrations/"+e.Name())
			old[e.Name()] = &fstest.MapFile{Data: b}
		}
	}
	db, err := sqlitedb.Open(ctx, path, sqlitedb.Options{Synchronous: "FULL", Migrations: old})
	if err != nil {
		t.Fatal(err)
	}
	u := bridge.Update{Module: "m", SessionID: "s", Data: json.RawMessage(`{"n":1}`)}
	if _, err := db.W.ExecContext(ctx, `INSERT INTO records (id, module, session_id, data, received_at, next_attempt_at, dedupe_key)
		VALUES ('old-1', 'm', 's', '{"n":1}', 1, 1, ?), ('old-2', 'm', 's', '{"n":1}', 2, 2, 'a-test-key'), ('old-3', 'm', 'u', '{}', 3, 3, NULL)`,
		ingest.DedupeKey(u, "")); err != nil {
		t.Fatal(err)
	}
	if err := db.Close(); err != nil {
		t.Fatal(err)
	}

	s := openTest(t, path)
	defer s.Close()
	var n int
	if err := s.r.QueryRowContext(ctx, `SELECT count(*) FROM sqlite_schema WHERE name = 'records_dedupe'`).Scan(&n); err != nil || n != 0 {
		t.Fatalf("records_dedupe still there (%d, %v)", n, err)
	}
	at := time.Now().UTC()
	got, err := s.Append(ctx, []bridge.NewRecord{keyedRecord("new-1", ingest.DedupeKey(u, ""), at), keyedRecord("new-2", "a-test-key", at)})
	if err != nil {
		t.Fatal(err)
	}
	if !got[0].Duplicate || got[0].ID != "old-1" || !got[1].Duplicate || got[1].ID != "old-2" {
		t.Fatalf("Append after the migration = %+v, want duplicates of old-1 and old-2", got)
	}
}

// TestKeydirUnderConcurrentWrites: producers appending overlapping keys
// while records are synced, die, are pruned and purged: each stored key is
// in one record, and memory ends up holding exactly the stored keys. Run
// with -race.
func TestKeydirUnderConcurrentWrites(t *testing.T) {
	ctx := context.Background()
	s := openTest(t, filepath.Join(t.TempDir(), "k.db"))
	defer s.Close()
	const producers, perProducer, distinct = 4, 150, 200
	at := time.Now().UTC()
	done := make(chan struct{})
	janitor := make(chan error, 1)
	go func() {
		for {
			select {
			case <-done:
				janitor <- nil
				return
			default:
			}
			// Some records go out and some die, so that both deletes find
			// something to delete.
			if _, err := s.w.ExecContext(ctx, `UPDATE records SET state = 1, synced_at = 1
				WHERE state = 0 AND seq % 3 = 0`); err != nil {
				janitor <- err
				return
			}
			if _, err := s.w.ExecContext(ctx, `UPDATE records SET state = 2 WHERE state = 0 AND seq % 3 = 1`); err != nil {
				janitor <- err
				return
			}
			if _, err := s.Prune(ctx, bridge.PruneParams{SyncedBefore: at, Limit: 50}); err != nil {
				janitor <- err
				return
			}
			if _, err := s.PurgeDead(ctx, bridge.ReplayParams{All: true}); err != nil {
				janitor <- err
				return
			}
			_ = s.DedupeKeys()
		}
	}()
	errs := make(chan error, producers)
	for p := range producers {
		go func() {
			for i := range perProducer {
				k := (p*perProducer + i*7) % distinct // producers overlap
				id := fmt.Sprintf("p%d-%d", p, i)
				if _, err := s.Append(ctx, []bridge.NewRecord{keyedRecord(id, fmt.Sprintf("key-%d", k), at)}); err != nil {
					errs <- err
					return
				}
			}
			errs <- nil
		}()
	}
	for range producers {
		if err := <-errs; err != nil {
			t.Fatal(err)
		}
	}
	close(done)
	if err := <-janitor; err != nil {
		t.Fatal(err)
	}
	var stored, keys int
	if err := s.r.QueryRowContext(ctx, `SELECT count(*), count(DISTINCT dedupe_key) FROM records`).Scan(&stored, &keys); err != nil {
		t.Fatal(err)
	}
	if stored != keys || keys != s.DedupeKeys() {
		t.Fatalf("%d records, %d distinct keys, %d keys in memory: want all equal", stored, keys, s.DedupeKeys())
	}
	if keys == 0 || keys > distinct {
		t.Fatalf("%d distinct keys stored, want 1..%d", keys, distinct)
	}
	var deleted int
	if err := s.r.QueryRowContext(ctx, `SELECT max(seq) - count(*) FROM records`).Scan(&deleted); err != nil || deleted == 0 {
		t.Fatalf("prune and purge deleted %d records (%v): the test did not exercise them", deleted, err)
	}
}
