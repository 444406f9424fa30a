// Package postgres is a bridge.Store on PostgreSQL that several serve
// replicas share: dedupe through a unique key, per-module order through a
// row lock taken before sequence numbers, fenced leases on the database's
// clock, claims with FOR UPDATE SKIP LOCKED. Every method is one
// transaction; nothing that matters lives in a handle's memory, so handles
// in any number of processes see one store.
package postgres

import (
	"context"
	"embed"
	"encoding/hex"
	"errors"
	"fmt"
	"io/fs"
	"log/slog"
	"slices"
	"strconv"
	"strings"
	"sync"
	"time"

	"corebridge/internal/auth"
	"corebridge/internal/bridge"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"
	"github.com/jackc/pgx/v5/pgxpool"
)

//go:embed migrations/*.sql
var migrations embed.FS

// Options configure a Store.
type Options struct {
	// MaxConns sizes the pool (0: 8). Each group commit, lease and settle
	// takes one connection for its transaction.
	MaxConns int
	Log      *slog.Logger
}

// Store is a bridge.Store on a PostgreSQL database.
type Store struct {
	pool *pgxpool.Pool
	url  string // with its password, for the listener's own connection; never logged
	log  *slog.Logger

	mu    sync.Mutex
	known map[string]bool // modules whose rows exist (they are never deleted)
}

var _ bridge.Store = (*Store)(nil)

// Open connects to the database at url, runs the migrations it lacks
// (one replica at a time, under an advisory lock), and returns the store.
func Open(ctx context.Context, url string, o Options) (*Store, error) {
	cfg, err := pgxpool.ParseConfig(url)
	if err != nil {
		return nil, bridge.Errorf(bridge.EINVALID, "postgres URL: %s", redactErr(err))
	}
	cfg.MaxConns = int32(cmpOr(o.MaxConns, 8))
	cfg.MinConns = 1
	if cfg.ConnConfig.RuntimeParams == nil {
		cfg.ConnConfig.RuntimeParams = map[string]string{}
	}
	cfg.ConnConfig.RuntimeParams["application_name"] = "corebridge"
	// A connection cut mid-statement must not hang a request: the server
	// side gives up on idle transactions, the client on dead sockets.
	cfg.ConnConfig.RuntimeParams["idle_in_transaction_session_timeout"] = "60000"
	pool, err := pgxpool.NewWithConfig(ctx, cfg)
	if err != nil {
		return nil, fmt.Errorf("postgres: %s", redactErr(err))
	}
	log := o.Log
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	s := &Store{pool: pool, url: url, log: log, known: map[string]bool{}}
	if err := s.migrate(ctx); err != nil {
		pool.Close()
		return nil, err
	}
	return s, nil
}

func cmpOr(v, def int) int {
	if v > 0 {
		return v
	}
	return def
}

// redactErr is err's text with any URL's user information redacted (a
// driver may quote the connection URL).
func redactErr(err error) string { return auth.RedactURLsIn(err.Error()) }

// migrationLock is the advisory lock key under which one handle at a time
// migrates ("cbmigrat" as a number).
const migrationLock = 0x63626d6967726174

// migrate applies the numbered migrations not yet applied, each in its
// own transaction, and logs what it did. A database migrated by a newer
// build (a version this build does not know) is refused.
func (s *Store) migrate(ctx context.Context) error {
	conn, err := s.pool.Acquire(ctx)
	if err != nil {
		return fmt.Errorf("postgres: %s", redactErr(err))
	}
	defer conn.Release()
	if _, err := conn.Exec(ctx, `SELECT pg_advisory_lock($1)`, int64(migrationLock)); err != nil {
		return fmt.Errorf("postgres: migration lock: %w", err)
	}
	defer conn.Exec(context.WithoutCancel(ctx), `SELECT pg_advisory_unlock($1)`, int64(migrationLock))
	if _, err := conn.Exec(ctx, `CREATE TABLE IF NOT EXISTS schema_migrations (
		version integer PRIMARY KEY, name text NOT NULL, applied_at timestamptz NOT NULL DEFAULT now())`); err != nil {
		return fmt.Errorf("postgres: migrations table: %w", err)
	}
	var have int
	if err := conn.QueryRow(ctx, `SELECT coalesce(max(version), 0) FROM schema_migrations`).Scan(&have); err != nil {
		return fmt.Errorf("postgres: migrations: %w", err)
	}
	files, _ := fs.Glob(migrations, "migrations/*.sql")
	slices.Sort(files)
	latest := 0
	for _, f := range files {
		name := strings.TrimPrefix(f, "migrations/")
		v, err := strconv.Atoi(name[:4])
		if err != nil {
			return fmt.Errorf("postgres: migration %s: no number", name)
		}
		latest = v
		if v <= have {
			continue
		}
		body, _ := migrations.ReadFile(f)
		err = pgx.BeginFunc(ctx, conn, func(tx pgx.Tx) error {
			if _, err := tx.Exec(ctx, string(body)); err != nil {
				return err
			}
			_, err := tx.Exec(ctx, `INSERT INTO schema_migrations (version, name) VALUES ($1, $2)`, v, name)
			return err
		})
		if err != nil {
			return fmt.Errorf("postgres: migration %s: %w", name, err)
		}
		s.log.Info("store migrated", "migration", name)
	}
	if have > latest {
		return bridge.Errorf(bridge.EINVALID, "postgres: the database is at schema version %d, newer than this build knows (%d): it was written by a newer corebridge; run that version (no downgrade)", have, latest)
	}
	return nil
}

// Ping checks that the database takes a write.
func (s *Store) Ping(ctx context.Context) error {
	_, err := s.pool.Exec(ctx, `INSERT INTO ping (id, at) VALUES (1, now()) ON CONFLICT (id) DO UPDATE SET at = now()`)
	return unavailable("ping", err)
}

// Close closes the pool. Leases held stay until their TTL.
func (s *Store) Close() error {
	s.pool.Close()
	return nil
}

// Kill drops every connection at once, as a crash would, for tests: held
// leases stay until their TTL; nothing is released.
func (s *Store) Kill() { s.pool.Reset(); s.pool.Close() }

// unavailable wraps a database error: one that says the database cannot
// be reached (or is shutting down, or read-only) becomes EUNAVAILABLE, so
// that ingest answers 503 and health goes down; others keep their text.
func unavailable(what string, err error) error {
	if err == nil {
		return nil
	}
	var be *bridge.Error
	if errors.As(err, &be) {
		return err
	}
	var pe *pgconn.PgError
	if errors.As(err, &pe) {
		switch {
		case strings.HasPrefix(pe.Code, "08"), strings.HasPrefix(pe.Code, "57"), pe.Code == "25006", pe.Code == "53300", strings.HasPrefix(pe.Code, "53"):
		default:
			return fmt.Errorf("%s: %w", what, err)
		}
	}
	if errors.Is(err, context.Canceled) {
		return fmt.Errorf("%s: %w", what, err)
	}
	return &bridge.Error{Code: bridge.EUNAVAILABLE, Message: "the database is unavailable", Err: fmt.Errorf("%s: %s", what, redactErr(err))}
}

func micros(t time.Time) int64 {
	if t.IsZero() {
		return 0
	}
	return t.UnixMicro()
}

func fromMicros(us int64) time.Time {
	if us == 0 {
		return time.Time{}
	}
	return time.UnixMicro(us).UTC()
}

// recordCols are the columns scanRecord reads, in its order.
const recordCols = `id, seq, module, session_id, data, received_at, state, attempts, next_attempt_at, last_error, synced_at, hash, prev_hash`

// scanRecord reads one row of recordCols.
func scanRecord(row pgx.Row) (bridge.Record, error) {
	var r bridge.Record
	var data []byte
	var recv, next, synced int64
	var state int16
	var hash, prev []byte
	err := row.Scan(&r.ID, &r.Seq, &r.Module, &r.SessionID, &data, &recv, &state, &r.Attempts, &next, &r.LastError, &synced, &hash, &prev)
	if hash != nil && prev != nil {
		r.Hash, r.PrevHash = hex.EncodeToString(hash), hex.EncodeToString(prev)
	}
	r.Data, r.ReceivedAt, r.State, r.NextAttemptAt, r.SyncedAt = data, fromMicros(recv), bridge.State(state), fromMicros(next), fromMicros(synced)
	return r, err
}

// scanRecords reads every row of recordCols.
func scanRecords(rows pgx.Rows) ([]bridge.Record, error) {
	defer rows.Close()
	var out []bridge.Record
	for rows.Next() {
		r, err := scanRecord(rows)
		if err != nil {
			return nil, err
		}
		out = append(out, r)
	}
	return out, rows.Err()
}

// notFound is the ENOTFOUND error of a record id.
func notFound(id string) error { return bridge.Errorf(bridge.ENOTFOUND, "record %s not found", id) }
