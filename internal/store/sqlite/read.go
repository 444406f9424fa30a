package sqlite

import (
	"context"
	"database/sql"
	"fmt"
	"time"

	"corebridge/internal/bridge"
)

// Get returns one record by id.
func (s *Store) Get(ctx context.Context, id string) (bridge.Record, error) {
	rows, err := s.rs.queryDB(ctx, qGet, id)
	if err != nil {
		return bridge.Record{}, fmt.Errorf("get record: %w", err)
	}
	recs, err := scanRecords(rows)
	if err != nil {
		return bridge.Record{}, fmt.Errorf("get record: %w", err)
	}
	if len(recs) == 0 {
		return bridge.Record{}, bridge.Errorf(bridge.ENOTFOUND, "record %q not found", id)
	}
	return recs[0], nil
}

// Stats sums the module counters and reads the oldest pending record.
func (s *Store) Stats(ctx context.Context) (bridge.Stats, error) {
	var st bridge.Stats
	var lastSync int64
	err := s.rs.queryRow(ctx, qStats, nil, &st.Received, &st.Pending, &st.Synced, &st.Dead, &lastSync)
	if err != nil {
		return st, fmt.Errorf("stats: %w", err)
	}
	st.LastSyncAt = fromMicros(lastSync)
	var oldest int64
	// The oldest pending record is the oldest of the modules' heads: one
	// index seek per module, at any table size.
	err = s.rs.queryRow(ctx, qOldestPending, nil, &oldest)
	if err != nil && err != sql.ErrNoRows {
		return st, fmt.Errorf("stats: oldest pending: %w", err)
	}
	st.OldestPendingAt = fromMicros(oldest)
	return st, nil
}

// Modules returns every module's counters, sorted by name.
func (s *Store) Modules(ctx context.Context) ([]bridge.ModuleSummary, error) {
	rows, err := s.rs.queryDB(ctx, qModules)
	if err != nil {
		return nil, fmt.Errorf("modules: %w", err)
	}
	defer rows.Close()
	var out []bridge.ModuleSummary
	for rows.Next() {
		var m bridge.ModuleSummary
		var seen, sync, interval int64
		if err := rows.Scan(&m.Module, &m.Received, &m.Pending, &m.Synced, &m.Dead, &seen, &sync,
			&m.DeadTotal, &m.Replayed, &interval, &m.Intervals, &m.OldestDead, &m.DeadFirst); err != nil {
			return nil, err
		}
		m.Interval = time.Duration(interval) * time.Microsecond
		m.LastSeenAt, m.LastSyncAt = fromMicros(seen), fromMicros(sync)
		out = append(out, m)
	}
	return out, rows.Err()
}

// Attempts returns the attempts whose batch held the record: those of its
// module whose seq range covers the record's seq.
func (s *Store) Attempts(ctx context.Context, recordID string) ([]bridge.Attempt, error) {
	var module string
	var seq int64
	err := s.r.QueryRowContext(ctx, `SELECT module, seq FROM records WHERE id = ?`, recordID).Scan(&module, &seq)
	if err == sql.ErrNoRows {
		return nil, bridge.Errorf(bridge.ENOTFOUND, "record %q not found", recordID)
	} else if err != nil {
		return nil, fmt.Errorf("attempts: %w", err)
	}
	rows, err := s.r.QueryContext(ctx, `SELECT at, module, lease_id, first_seq, last_seq, records, outcome,
		http_status, error, latency_us FROM attempts
		WHERE module = ? AND last_seq >= ? AND first_seq <= ? ORDER BY id`, module, seq, seq)
	if err != nil {
		return nil, fmt.Errorf("attempts: %w", err)
	}
	defer rows.Close()
	var out []bridge.Attempt
	for rows.Next() {
		var a bridge.Attempt
		var at, lat int64
		if err := rows.Scan(&at, &a.Module, &a.LeaseID, &a.FirstSeq, &a.LastSeq, &a.Records, &a.Outcome,
			&a.HTTPStatus, &a.Error, &lat); err != nil {
			return nil, err
		}
		a.At, a.Latency = fromMicros(at), time.Duration(lat)*time.Microsecond
		out = append(out, a)
	}
	return out, rows.Err()
}

// AttemptCounts counts attempts since t by outcome.
func (s *Store) AttemptCounts(ctx context.Context, since time.Time) (map[string]int64, error) {
	rows, err := s.r.QueryContext(ctx, `SELECT outcome, count(*) FROM attempts WHERE at >= ? GROUP BY outcome`, micros(since))
	if err != nil {
		return nil, fmt.Errorf("attempt counts: %w", err)
	}
	defer rows.Close()
	out := map[string]int64{}
	for rows.Next() {
		var o string
		var n int64
		if err := rows.Scan(&o, &n); err != nil {
			return nil, err
		}
		out[o] = n
	}
	return out, rows.Err()
}
