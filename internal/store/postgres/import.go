package postgres

import (
	"context"
	"fmt"

	"corebridge/internal/bridge"

	"github.com/jackc/pgx/v5"
)

// Imported is a record moved in from another store: its state, attempts,
// due time and last error as they were, and its dedupe key.
type Imported struct {
	bridge.Record
	DedupeKey string
}

// Empty reports whether the database holds no module and no record, the
// only state `corebridge migrate` writes into.
func (s *Store) Empty(ctx context.Context) (bool, error) {
	var n int64
	err := s.pool.QueryRow(ctx, `SELECT (SELECT count(*) FROM modules) + (SELECT count(*) FROM (SELECT 1 FROM records LIMIT 1) r)`).Scan(&n)
	return n == 0, unavailable("empty", err)
}

// Import stores recs (in the order given, which becomes their seq order)
// with their states as they are, their dedupe keys, and adds them to
// their modules' pending and dead counts; it does not touch the other
// counters (ImportModules). One transaction.
func (s *Store) Import(ctx context.Context, recs []Imported) error {
	if len(recs) == 0 {
		return nil
	}
	n := len(recs)
	ids, mods, sess, keys, errs := make([]string, n), make([]string, n), make([]string, n), make([]string, n), make([]string, n)
	datas := make([][]byte, n)
	recv, next, synced := make([]int64, n), make([]int64, n), make([]int64, n)
	states, attempts := make([]int16, n), make([]int32, n)
	for i, r := range recs {
		ids[i], mods[i], sess[i], keys[i], errs[i] = r.ID, r.Module, r.SessionID, r.DedupeKey, r.LastError
		datas[i], recv[i], next[i], synced[i] = r.Data, micros(r.ReceivedAt), micros(r.NextAttemptAt), micros(r.SyncedAt)
		states[i], attempts[i] = int16(r.State), int32(r.Attempts)
	}
	// A key stands for its newest record (older ones with the same key
	// were out of their window when the newer came).
	last := map[string]int{}
	for i, k := range keys {
		if k != "" {
			last[k] = i
		}
	}
	var kk, kid []string
	var krecv []int64
	for i, k := range keys {
		if k != "" && last[k] == i {
			kk, kid, krecv = append(kk, k), append(kid, ids[i]), append(krecv, recv[i])
		}
	}
	err := pgx.BeginFunc(ctx, s.pool, func(tx pgx.Tx) error {
		b := &pgx.Batch{}
		b.Queue(`INSERT INTO modules (module) SELECT DISTINCT unnest($1::text[]) ON CONFLICT DO NOTHING`, mods)
		b.Queue(`INSERT INTO leases (module) SELECT DISTINCT unnest($1::text[]) ON CONFLICT DO NOTHING`, mods)
		b.Queue(`INSERT INTO records (seq, id, module, session_id, data, received_at, state, attempts, next_attempt_at, last_error, synced_at, dedupe_key)
			SELECT nextval('record_seq'), u.* FROM unnest($1::text[], $2::text[], $3::text[], $4::bytea[], $5::bigint[], $6::smallint[],
				$7::integer[], $8::bigint[], $9::text[], $10::bigint[], $11::text[])
				AS u(id, module, session_id, data, received_at, state, attempts, next_attempt_at, last_error, synced_at, dedupe_key)`,
			ids, mods, sess, datas, recv, states, attempts, next, errs, synced, keys)
		b.Queue(`INSERT INTO dedupe_keys (key, record_id, received_at)
			SELECT * FROM unnest($1::text[], $2::text[], $3::bigint[])
			ON CONFLICT (key) DO UPDATE SET record_id = excluded.record_id, received_at = excluded.received_at
			WHERE dedupe_keys.received_at < excluded.received_at`, kk, kid, krecv)
		b.Queue(`UPDATE modules m SET pending = m.pending + c.pending, dead = m.dead + c.dead
			FROM (SELECT u.module, count(*) FILTER (WHERE u.state = 0) AS pending, count(*) FILTER (WHERE u.state = 2) AS dead
				FROM unnest($1::text[], $2::smallint[]) AS u(module, state) GROUP BY u.module) c
			WHERE m.module = c.module`, mods, states)
		return tx.SendBatch(ctx, b).Close()
	})
	if err != nil {
		return unavailable("import", fmt.Errorf("%w", err))
	}
	return nil
}

// ImportModules sets the counters that records do not carry (received,
// synced and dead ever, replays, last seen and synced, the learnt
// interval) from another store's summaries.
func (s *Store) ImportModules(ctx context.Context, ms []bridge.ModuleSummary) error {
	b := &pgx.Batch{}
	for _, m := range ms {
		b.Queue(`INSERT INTO modules (module) VALUES ($1) ON CONFLICT DO NOTHING`, m.Module)
		b.Queue(`INSERT INTO leases (module) VALUES ($1) ON CONFLICT DO NOTHING`, m.Module)
		b.Queue(`UPDATE modules SET received = $2, synced = $3, dead_total = $4, replayed = $5, last_seen_at = $6,
			last_sync_at = $7, interval_us = $8, intervals = $9 WHERE module = $1`,
			m.Module, m.Received, m.Synced, m.DeadTotal, m.Replayed, micros(m.LastSeenAt), micros(m.LastSyncAt),
			m.Interval.Microseconds(), m.Intervals)
	}
	err := pgx.BeginFunc(ctx, s.pool, func(tx pgx.Tx) error { return tx.SendBatch(ctx, b).Close() })
	return unavailable("import modules", err)
}
