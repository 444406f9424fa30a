package sqlite

import (
	"context"
	"database/sql"
	"fmt"
	"strings"
	"time"

	"corebridge/internal/bridge"
)

// rollupCounts are the rollups columns that add up, after minute and
// module, in bridge.Rollup's order; the latency bounds follow, then the
// histogram as h0..h33.
const rollupCounts = `received, duplicates, rejected, ingest_errors, synced, failed, dead, replayed, latency_sum_us`

var (
	histCols  = histColumns()
	rollupAll = rollupCounts + ", latency_min_us, latency_max_us, " + histCols
	// qAddRollup adds one row's counts to its minute and module and widens
	// its latency bounds (in SET, a bare column is the row's old value).
	qAddRollup = `INSERT INTO rollups (minute, module, ` + rollupAll + `) VALUES (?, ?` +
		strings.Repeat(", ?", 11+bridge.LatencyBuckets) + `) ON CONFLICT (minute, module) DO UPDATE SET ` +
		addExcluded(rollupCounts+", "+histCols) + `,
		latency_min_us = CASE WHEN excluded.synced = 0 THEN latency_min_us WHEN synced = 0 THEN excluded.latency_min_us
			ELSE min(latency_min_us, excluded.latency_min_us) END,
		latency_max_us = max(latency_max_us, excluded.latency_max_us)`
	qRollups = `SELECT minute, module, ` + rollupAll + ` FROM rollups WHERE minute >= ? AND minute < ? ORDER BY minute, module`
	// qAddArrivals is qAddRollup for what every group commit counts: only
	// received and duplicates (2 columns to add instead of 45).
	qAddArrivals = `INSERT INTO rollups (minute, module, received, duplicates) VALUES (?, ?, ?, ?)
		ON CONFLICT (minute, module) DO UPDATE SET
		received = received + excluded.received, duplicates = duplicates + excluded.duplicates`
)

func histColumns() string {
	cols := make([]string, bridge.LatencyBuckets)
	for i := range cols {
		cols[i] = fmt.Sprintf("h%d", i)
	}
	return strings.Join(cols, ", ")
}

func addExcluded(cols string) string {
	var b strings.Builder
	for i, c := range strings.Split(cols, ", ") {
		if i > 0 {
			b.WriteString(", ")
		}
		fmt.Fprintf(&b, "%s = %s + excluded.%s", c, c, c)
	}
	return b.String()
}

// minuteOf is the rollups key of t: unix minutes.
func minuteOf(t time.Time) int64 { return t.Unix() / 60 }

// addRollup adds r to its row inside tx; a rollup that counts nothing is
// not written.
func (s *Store) addRollup(ctx context.Context, tx *sql.Tx, r *bridge.Rollup) error {
	if r.IsZero() {
		return nil
	}
	if arrivals := (bridge.Rollup{Minute: r.Minute, Module: r.Module, Received: r.Received, Duplicates: r.Duplicates}); *r == arrivals {
		if _, err := s.ws.exec(ctx, tx, qAddArrivals, minuteOf(r.Minute), r.Module, r.Received, r.Duplicates); err != nil {
			return fmt.Errorf("rollup: %w", err)
		}
		return nil
	}
	args := make([]any, 0, 13+bridge.LatencyBuckets)
	args = append(args, minuteOf(r.Minute), r.Module, r.Received, r.Duplicates, r.Rejected, r.IngestErrors,
		r.Synced, r.Failed, r.Dead, r.Replayed, r.LatencySumUs, r.LatencyMinUs, r.LatencyMaxUs)
	for _, h := range r.LatencyHist {
		args = append(args, h)
	}
	if _, err := s.ws.exec(ctx, tx, qAddRollup, args...); err != nil {
		return fmt.Errorf("rollup: %w", err)
	}
	return nil
}

// AddRollups adds counts the store does not see itself; see bridge.Store.
func (s *Store) AddRollups(ctx context.Context, rs []bridge.Rollup) error {
	if len(rs) == 0 {
		return nil
	}
	tx, err := s.w.BeginTx(ctx, nil)
	if err != nil {
		return fmt.Errorf("add rollups: begin: %w", err)
	}
	defer tx.Rollback()
	for i := range rs {
		r := rs[i]
		r.Minute = bridge.Minute(r.Minute)
		if err := s.addRollup(ctx, tx, &r); err != nil {
			return err
		}
	}
	if err := s.commit(tx); err != nil {
		return fmt.Errorf("add rollups: commit: %w", err)
	}
	return nil
}

// Rollups reads the rollups of minutes in [q.From, q.To) by the primary key.
func (s *Store) Rollups(ctx context.Context, q bridge.RollupQuery) ([]bridge.Rollup, error) {
	from := minuteOf(bridge.Minute(q.From))
	to := minuteOf(q.To)
	if bridge.Minute(q.To) != q.To.UTC() {
		to++ // a partial minute at the end is included
	}
	rows, err := s.rs.queryDB(ctx, qRollups, from, to)
	if err != nil {
		return nil, fmt.Errorf("rollups: %w", err)
	}
	defer rows.Close()
	var out []bridge.Rollup
	for rows.Next() {
		var r bridge.Rollup
		var minute int64
		dst := []any{&minute, &r.Module, &r.Received, &r.Duplicates, &r.Rejected, &r.IngestErrors,
			&r.Synced, &r.Failed, &r.Dead, &r.Replayed, &r.LatencySumUs, &r.LatencyMinUs, &r.LatencyMaxUs}
		for i := range r.LatencyHist {
			dst = append(dst, &r.LatencyHist[i])
		}
		if err := rows.Scan(dst...); err != nil {
			return nil, fmt.Errorf("rollups: %w", err)
		}
		r.Minute = time.Unix(minute*60, 0).UTC()
		out = append(out, r)
	}
	return out, rows.Err()
}
