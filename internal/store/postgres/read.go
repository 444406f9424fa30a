package postgres

import (
	"context"
	"errors"
	"time"

	"corebridge/internal/bridge"

	"github.com/jackc/pgx/v5"
)

// Get returns one record by id.
func (s *Store) Get(ctx context.Context, id string) (bridge.Record, error) {
	r, err := scanRecord(s.pool.QueryRow(ctx, `SELECT `+recordCols+` FROM records WHERE id = $1`, id))
	if errors.Is(err, pgx.ErrNoRows) {
		return bridge.Record{}, notFound(id)
	} else if err != nil {
		return bridge.Record{}, unavailable("get record", err)
	}
	return r, nil
}

// Attempts returns the attempts whose batch held the record: those of its
// module whose seq range covers the record's seq, oldest first.
func (s *Store) Attempts(ctx context.Context, recordID string) ([]bridge.Attempt, error) {
	var module string
	var seq int64
	err := s.pool.QueryRow(ctx, `SELECT module, seq FROM records WHERE id = $1`, recordID).Scan(&module, &seq)
	if errors.Is(err, pgx.ErrNoRows) {
		return nil, notFound(recordID)
	} else if err != nil {
		return nil, unavailable("attempts", err)
	}
	rows, err := s.pool.Query(ctx, `SELECT at, module, lease_id, first_seq, last_seq, records, outcome,
		http_status, error, latency_us FROM attempts
		WHERE module = $1 AND first_seq <= $2 AND last_seq >= $2 ORDER BY at, n`, module, seq)
	if err != nil {
		return nil, unavailable("attempts", err)
	}
	defer rows.Close()
	var out []bridge.Attempt
	for rows.Next() {
		var a bridge.Attempt
		var at, lat int64
		if err := rows.Scan(&at, &a.Module, &a.LeaseID, &a.FirstSeq, &a.LastSeq, &a.Records, &a.Outcome,
			&a.HTTPStatus, &a.Error, &lat); err != nil {
			return nil, unavailable("attempts", err)
		}
		a.At, a.Latency = fromMicros(at), time.Duration(lat)*time.Microsecond
		out = append(out, a)
	}
	return out, unavailable("attempts", rows.Err())
}

// AttemptCounts counts attempts made at or after since, by outcome.
func (s *Store) AttemptCounts(ctx context.Context, since time.Time) (map[string]int64, error) {
	rows, err := s.pool.Query(ctx, `SELECT outcome, count(*) FROM attempts WHERE at >= $1 GROUP BY outcome`, micros(since))
	if err != nil {
		return nil, unavailable("attempt counts", err)
	}
	defer rows.Close()
	out := map[string]int64{}
	for rows.Next() {
		var o string
		var n int64
		if err := rows.Scan(&o, &n); err != nil {
			return nil, unavailable("attempt counts", err)
		}
		out[o] = n
	}
	return out, unavailable("attempt counts", rows.Err())
}

// qStats sums the module counters and finds the oldest pending record
// among the modules' pending heads: one seek in records_pending per
// module, at any table size. One statement, so one snapshot.
const qStats = `SELECT coalesce(sum(received), 0)::bigint, coalesce(sum(pending), 0)::bigint,
	coalesce(sum(synced), 0)::bigint, coalesce(sum(dead), 0)::bigint, coalesce(max(last_sync_at), 0),
	coalesce((SELECT min(h.received_at) FROM modules m CROSS JOIN LATERAL
		(SELECT received_at FROM records r WHERE r.module = m.module AND r.state = 0 AND r.seq > m.pos
			ORDER BY r.module, r.seq LIMIT 1) h), 0)
	FROM modules`

// Stats sums the module counters and reads the oldest pending record.
func (s *Store) Stats(ctx context.Context) (bridge.Stats, error) {
	var st bridge.Stats
	var lastSync, oldest int64
	if err := s.pool.QueryRow(ctx, qStats).Scan(&st.Received, &st.Pending, &st.Synced, &st.Dead, &lastSync, &oldest); err != nil {
		return bridge.Stats{}, unavailable("stats", err)
	}
	st.LastSyncAt, st.OldestPendingAt = fromMicros(lastSync), fromMicros(oldest)
	return st, nil
}

// qModules reads every module's counters in name order (byte order, as
// Go sorts), with its oldest dead record (a seek in records_dead) and,
// for a module that has one, whether it precedes the oldest pending
// record (a seek in records_pending; false when none is pending).
const qModules = `SELECT m.module, m.received, m.pending, m.synced, m.dead, m.last_seen_at, m.last_sync_at,
	m.dead_total, m.replayed, m.interval_us, m.intervals, coalesce(d.id, ''),
	CASE WHEN d.seq IS NULL THEN false ELSE coalesce(d.seq <
		(SELECT seq FROM records r WHERE r.module = m.module AND r.state = 0 AND r.seq > m.pos
			ORDER BY r.module, r.seq LIMIT 1), false) END
	FROM modules m LEFT JOIN LATERAL
		(SELECT id, seq FROM records r WHERE r.module = m.module AND r.state = 2 ORDER BY r.module, r.seq LIMIT 1) d ON true
	ORDER BY m.module COLLATE "C"`

// Modules returns every module's counters, sorted by name.
func (s *Store) Modules(ctx context.Context) ([]bridge.ModuleSummary, error) {
	rows, err := s.pool.Query(ctx, qModules)
	if err != nil {
		return nil, unavailable("modules", err)
	}
	defer rows.Close()
	var out []bridge.ModuleSummary
	for rows.Next() {
		var m bridge.ModuleSummary
		var seen, sync, interval int64
		if err := rows.Scan(&m.Module, &m.Received, &m.Pending, &m.Synced, &m.Dead, &seen, &sync,
			&m.DeadTotal, &m.Replayed, &interval, &m.Intervals, &m.OldestDead, &m.DeadFirst); err != nil {
			return nil, unavailable("modules", err)
		}
		m.Interval = time.Duration(interval) * time.Microsecond
		m.LastSeenAt, m.LastSyncAt = fromMicros(seen), fromMicros(sync)
		out = append(out, m)
	}
	return out, unavailable("modules", rows.Err())
}
