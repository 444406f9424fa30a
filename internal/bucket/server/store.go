package server

import (
	"bytes"
	"context"
	"database/sql"
	"embed"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"log/slog"
	"strings"
	"time"

	"corebridge/internal/bridge"
	"corebridge/internal/bucket"
	"corebridge/internal/sqlitedb"
)

// Store is the Bucket's own database: one SQLite file in WAL mode with
// synchronous=FULL, so a record answered "stored" survives a crash. Writes
// go through one connection; reads use a small pool. All of the Bucket's
// SQL lives in this file.
type Store struct {
	db *sqlitedb.DB
	w  *sql.DB // db.W: one connection, every write
	r  *sql.DB // db.R: read-only pool
	// Now stamps stored_at; tests may replace it before the first Put.
	Now func() time.Time
}

//go:embed migrations/*.sql
var migrationFS embed.FS

// OpenStore opens (creating if needed) the database at path, refuses to run
// if journal or sync mode are not WAL and FULL, and applies migrations.
func OpenStore(path string) (*Store, error) { return OpenStoreLog(path, nil) }

// OpenStoreLog is OpenStore logging each migration it applies to log (nil:
// none).
func OpenStoreLog(path string, log *slog.Logger) (*Store, error) {
	migrations, err := fs.Sub(migrationFS, "migrations")
	if err != nil {
		return nil, err
	}
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	// Durable as FULL, but the fsync is taken after the commit, off the
	// write connection, and shared by the batches that commit meanwhile
	// (sqlitedb.Options.SyncByCaller): the next batch is written while
	// the previous one's fsync runs. Checkpoints run beside the writer.
	db, err := sqlitedb.Open(ctx, path, sqlitedb.Options{Synchronous: "FULL", Migrations: migrations,
		SyncByCaller: true, BackgroundCheckpoint: true, Log: log})
	if err != nil {
		return nil, fmt.Errorf("bucket db: %w", err)
	}
	return &Store{db: db, w: db.W, r: db.R, Now: time.Now}, nil
}

// Path returns the database file's path.
func (s *Store) Path() string { return s.db.Path }

// Close closes the store; a checkpoint folds the WAL into the main file.
func (s *Store) Close() error { return s.db.Close() }

// Put stores recs in one transaction and returns one Result per record, in
// order: stored if its id is new; duplicate if the Bucket (or an earlier
// record of recs) already holds it with the same content hash, or either
// has none; conflict if it holds it with another hash (what it holds
// stays); rejected if it lacks an id or a module, its data is not a JSON
// object, its hash does not match its content, or its prev_hash or
// first_hash is not 64 hex digits. Put returns once the
// batch is on the disk. On error nothing is stored, except when the fsync
// after the commit fails: then the batch may or may not have reached the
// disk, the bridge sends it again, and every later Put fails until the
// Bucket is restarted (its recovery reads what the disk holds).
func (s *Store) Put(ctx context.Context, recs []bucket.Record) ([]bucket.Result, error) {
	return s.put(ctx, recs, isObject)
}

// putDecoded is Put for records decoded from a request body, whose data
// is known to be JSON already: only its first byte is looked at, not the
// whole of it a second time.
func (s *Store) putDecoded(ctx context.Context, recs []bucket.Record) ([]bucket.Result, error) {
	return s.put(ctx, recs, startsObject)
}

func (s *Store) put(ctx context.Context, recs []bucket.Record, object func(json.RawMessage) bool) ([]bucket.Result, error) {
	out := make([]bucket.Result, len(recs))
	if len(recs) == 0 {
		return out, nil
	}
	now := s.Now().UnixMicro()
	tx, err := s.w.BeginTx(ctx, nil)
	if err != nil {
		return nil, fmt.Errorf("put: begin: %w", err)
	}
	defer tx.Rollback()
	ins, err := tx.PrepareContext(ctx, `INSERT INTO records (id, module, session_id, data, received_at, stored_at, hash, prev_hash, first_hash)
		VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?) ON CONFLICT (id) DO NOTHING`)
	if err != nil {
		return nil, fmt.Errorf("put: prepare: %w", err)
	}
	defer ins.Close()
	var dups []heldCheck // duplicates sent with a hash: compared below
	perModule := map[string]int64{}
	sums := batchSums{}
	for i, r := range recs {
		out[i].ID = r.ID
		if msg := validate(r, object); msg != "" {
			out[i].Status, out[i].Error = bucket.StatusRejected, msg
			continue
		}
		sum, msg := verifyHash(r)
		if msg != "" {
			out[i].Status, out[i].Error = bucket.StatusRejected, msg
			continue
		}
		prev, first, msg := chainHashes(r)
		if msg != "" {
			out[i].Status, out[i].Error = bucket.StatusRejected, msg
			continue
		}
		res, err := ins.ExecContext(ctx, r.ID, r.Module, r.SessionID, []byte(r.Data), r.ReceivedAt, now, sum, prev, first)
		if err != nil {
			return nil, fmt.Errorf("put: insert: %w", err)
		}
		n, err := res.RowsAffected()
		if err != nil {
			return nil, fmt.Errorf("put: insert: %w", err)
		}
		if n == 0 {
			out[i].Status = bucket.StatusDuplicate
			if sum != nil {
				dups = append(dups, heldCheck{i, sum})
			}
			continue
		}
		out[i].Status = bucket.StatusStored
		perModule[r.Module]++
		sums.add(r.Module, r.ID, sum)
	}
	if err := s.checkHeld(ctx, tx, recs, dups, out); err != nil {
		return nil, err
	}
	for m, n := range perModule {
		if _, err := tx.ExecContext(ctx, `INSERT INTO module_counts (module, n) VALUES (?, ?)
			ON CONFLICT (module) DO UPDATE SET n = n + excluded.n`, m, n); err != nil {
			return nil, fmt.Errorf("put: count module: %w", err)
		}
	}
	if err := sums.write(ctx, tx); err != nil {
		return nil, err
	}
	if err := tx.Commit(); err != nil {
		return nil, fmt.Errorf("put: commit: %w", err)
	}
	if err := s.db.SyncWAL(); err != nil {
		return nil, fmt.Errorf("put: %w", err)
	}
	return out, nil
}

// heldCheck is a record of a Put whose id the Bucket already held: its
// place in the batch and the hash it came with.
type heldCheck struct {
	i   int
	sum []byte
}

// checkHeld turns into conflicts the duplicates of dups whose held record
// has another hash. One query per chunk of ids (a redelivered batch is all
// duplicates) returns only the records that differ: usually none.
func (s *Store) checkHeld(ctx context.Context, tx *sql.Tx, recs []bucket.Record, dups []heldCheck, out []bucket.Result) error {
	const chunk = 500
	for len(dups) > 0 {
		part := dups[:min(chunk, len(dups))]
		dups = dups[len(part):]
		args := make([]any, 0, 2*len(part))
		for _, d := range part {
			args = append(args, recs[d.i].ID, d.sum)
		}
		q := `SELECT v.column1, r.hash FROM (VALUES (?, ?)` + strings.Repeat(", (?, ?)", len(part)-1) + `) AS v
			JOIN records r ON r.id = v.column1 WHERE r.hash IS NOT NULL AND r.hash <> v.column2`
		rows, err := tx.QueryContext(ctx, q, args...)
		if err != nil {
			return fmt.Errorf("put: compare held hashes: %w", err)
		}
		differ := map[string][]byte{}
		for rows.Next() {
			var id string
			var h []byte
			if err := rows.Scan(&id, &h); err != nil {
				rows.Close()
				return fmt.Errorf("put: compare held hashes: %w", err)
			}
			differ[id] = h
		}
		rows.Close()
		if err := rows.Err(); err != nil {
			return fmt.Errorf("put: compare held hashes: %w", err)
		}
		for _, d := range part {
			if h, ok := differ[recs[d.i].ID]; ok && !bytes.Equal(h, d.sum) {
				out[d.i].Status = bucket.StatusConflict
				out[d.i].Error = fmt.Sprintf("this id is held with other content (hash %x); the record arrived with hash %x and was not stored", h, d.sum)
			}
		}
	}
	return nil
}

// List returns up to limit records in the order they were stored, those of
// module only if module is not "". afterID is the last id of the previous
// page ("" starts from the beginning); an id the Bucket does not hold is an
// EINVALID error. limit <= 0 means DefaultListLimit; it is capped at
// MaxListLimit.
func (s *Store) List(ctx context.Context, module, afterID string, limit int) ([]bucket.StoredRecord, error) {
	if limit <= 0 {
		limit = DefaultListLimit
	}
	limit = min(limit, MaxListLimit)
	var after int64
	if afterID != "" {
		err := s.r.QueryRowContext(ctx, `SELECT seq FROM records WHERE id = ?`, afterID).Scan(&after)
		if errors.Is(err, sql.ErrNoRows) {
			return nil, bridge.Errorf(bridge.EINVALID, "after: no record with id %q", afterID)
		} else if err != nil {
			return nil, fmt.Errorf("list: find after: %w", err)
		}
	}
	const cols = `SELECT id, module, session_id, data, received_at, stored_at, hash, prev_hash, first_hash FROM records`
	var rows *sql.Rows
	var err error
	if module != "" {
		rows, err = s.r.QueryContext(ctx, cols+` WHERE module = ? AND seq > ? ORDER BY seq LIMIT ?`, module, after, limit)
	} else {
		rows, err = s.r.QueryContext(ctx, cols+` WHERE seq > ? ORDER BY seq LIMIT ?`, after, limit)
	}
	if err != nil {
		return nil, fmt.Errorf("list: %w", err)
	}
	defer rows.Close()
	out := []bucket.StoredRecord{}
	for rows.Next() {
		var r bucket.StoredRecord
		var data []byte
		var storedAt int64
		var sum, prev, first []byte
		if err := rows.Scan(&r.ID, &r.Module, &r.SessionID, &data, &r.ReceivedAt, &storedAt, &sum, &prev, &first); err != nil {
			return nil, fmt.Errorf("list: scan: %w", err)
		}
		r.Hash, r.PrevHash, r.FirstHash = hex.EncodeToString(sum), hex.EncodeToString(prev), hex.EncodeToString(first)
		r.Data = data
		r.StoredAt = bridge.FormatTime(time.UnixMicro(storedAt))
		out = append(out, r)
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("list: %w", err)
	}
	return out, nil
}

// Stats returns how many records the Bucket holds, in all and per module,
// from the counters Put keeps.
func (s *Store) Stats(ctx context.Context) (bucket.Stats, error) {
	st := bucket.Stats{Modules: map[string]int64{}}
	rows, err := s.r.QueryContext(ctx, `SELECT module, n FROM module_counts`)
	if err != nil {
		return st, fmt.Errorf("stats: %w", err)
	}
	defer rows.Close()
	for rows.Next() {
		var m string
		var n int64
		if err := rows.Scan(&m, &n); err != nil {
			return st, fmt.Errorf("stats: scan: %w", err)
		}
		st.Modules[m] = n
		st.Total += n
	}
	if err := rows.Err(); err != nil {
		return st, fmt.Errorf("stats: %w", err)
	}
	return st, nil
}
