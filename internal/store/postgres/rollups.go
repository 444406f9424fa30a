package postgres

import (
	"cmp"
	"context"
	"fmt"
	"slices"
	"strings"
	"time"

	"corebridge/internal/bridge"

	"github.com/jackc/pgx/v5"
)

// rollupCols are the rollups columns after minute and module, in
// bridge.Rollup's order: the counts that add up, the latency bounds, the
// histogram.
const rollupCols = `received, duplicates, rejected, ingest_errors, synced, failed, dead, replayed,
	latency_sum_us, latency_min_us, latency_max_us, hist`

// qAddRollups adds rows given as one array per column ($1 minutes, $2
// modules, $3..$13 the counts and bounds, $14 every row's histogram one
// after the other) to their minute and module, in the order given. On
// conflict the counts and histograms add up and the latency bounds widen
// as in the SQLite store (a side with no syncs has no bounds); in SET a
// rollups.column is the row's old value.
var qAddRollups = `INSERT INTO rollups (minute, module, ` + rollupCols + `)
	SELECT u.minute, u.module, u.received, u.duplicates, u.rejected, u.ingest_errors, u.synced, u.failed,
		u.dead, u.replayed, u.latency_sum_us, u.latency_min_us, u.latency_max_us,
		($14::bigint[])[(u.i - 1) * ` + fmt.Sprint(bridge.LatencyBuckets) + ` + 1 : u.i * ` + fmt.Sprint(bridge.LatencyBuckets) + `]
	FROM unnest($1::bigint[], $2::text[], $3::bigint[], $4::bigint[], $5::bigint[], $6::bigint[], $7::bigint[],
		$8::bigint[], $9::bigint[], $10::bigint[], $11::bigint[], $12::bigint[], $13::bigint[]) WITH ORDINALITY
		AS u(minute, module, received, duplicates, rejected, ingest_errors, synced, failed, dead, replayed,
			latency_sum_us, latency_min_us, latency_max_us, i)
	ORDER BY u.i
	ON CONFLICT (minute, module) DO UPDATE SET ` + addExcluded(`received, duplicates, rejected, ingest_errors,
		synced, failed, dead, replayed, latency_sum_us`) + `,
		latency_min_us = CASE WHEN excluded.synced = 0 THEN rollups.latency_min_us
			WHEN rollups.synced = 0 THEN excluded.latency_min_us
			ELSE least(rollups.latency_min_us, excluded.latency_min_us) END,
		latency_max_us = greatest(rollups.latency_max_us, excluded.latency_max_us),
		hist = ARRAY(SELECT coalesce(o, 0) + coalesce(n, 0)
			FROM unnest(rollups.hist, excluded.hist) WITH ORDINALITY AS h(o, n, i) ORDER BY i)`

// addExcluded is "c = rollups.c + excluded.c" for each of cols.
func addExcluded(cols string) string {
	var b strings.Builder
	for i, c := range strings.Split(cols, ",") {
		c = strings.TrimSpace(c)
		if i > 0 {
			b.WriteString(", ")
		}
		fmt.Fprintf(&b, "%s = rollups.%s + excluded.%s", c, c, c)
	}
	return b.String()
}

// minuteOf is the rollups key of t: unix minutes.
func minuteOf(t time.Time) int64 { return bridge.Minute(t).Unix() / 60 }

// addRollups adds rs to their rows inside tx, in one statement; rollups
// of the same minute and module are merged first.
func (s *Store) addRollups(ctx context.Context, tx pgx.Tx, rs []bridge.Rollup) error {
	set := bridge.RollupSet{}
	for i := range rs {
		set.At(rs[i].Minute, rs[i].Module).Add(&rs[i])
	}
	args := rollupArgs(set)
	if args == nil {
		return nil
	}
	if _, err := tx.Exec(ctx, qAddRollups, args...); err != nil {
		return fmt.Errorf("rollups: %w", err)
	}
	return nil
}

// queueRollups queues the statement that adds set's rollups to their
// rows on b (nothing when every one counts nothing).
func queueRollups(b *pgx.Batch, set bridge.RollupSet) {
	if args := rollupArgs(set); args != nil {
		b.Queue(qAddRollups, args...)
	}
}

// rollupArgs returns qAddRollups' arguments for the rollups of set that
// count something, or nil when none does. Rows go in key order (minute,
// then module), so that transactions adding to the same rows lock them
// in the same order; one statement updates each row once, as it must.
func rollupArgs(set bridge.RollupSet) []any {
	var keys []bridge.RollupKey
	for k, r := range set {
		if !r.IsZero() {
			keys = append(keys, k)
		}
	}
	if len(keys) == 0 {
		return nil
	}
	slices.SortFunc(keys, func(a, b bridge.RollupKey) int {
		return cmp.Or(cmp.Compare(a.Minute, b.Minute), strings.Compare(a.Module, b.Module))
	})
	n := len(keys)
	minutes, modules := make([]int64, 0, n), make([]string, 0, n)
	cols := make([][]int64, 11)
	hist := make([]int64, 0, n*bridge.LatencyBuckets)
	for _, k := range keys {
		r := set[k]
		minutes, modules = append(minutes, k.Minute), append(modules, k.Module)
		for i, v := range []int64{r.Received, r.Duplicates, r.Rejected, r.IngestErrors, r.Synced, r.Failed,
			r.Dead, r.Replayed, r.LatencySumUs, r.LatencyMinUs, r.LatencyMaxUs} {
			cols[i] = append(cols[i], v)
		}
		hist = append(hist, r.LatencyHist[:]...)
	}
	args := []any{minutes, modules}
	for _, c := range cols {
		args = append(args, c)
	}
	return append(args, hist)
}

// AddRollups adds counts the store does not see itself; see bridge.Store.
func (s *Store) AddRollups(ctx context.Context, rs []bridge.Rollup) error {
	if len(rs) == 0 {
		return nil
	}
	err := pgx.BeginFunc(ctx, s.pool, func(tx pgx.Tx) error { return s.addRollups(ctx, tx, rs) })
	return unavailable("add rollups", err)
}

// Rollups reads the rollups of the minutes that overlap [q.From, q.To)
// by the primary key.
func (s *Store) Rollups(ctx context.Context, q bridge.RollupQuery) ([]bridge.Rollup, error) {
	from, to := minuteOf(q.From), minuteOf(q.To)
	if !bridge.Minute(q.To).Equal(q.To) {
		to++ // a partial minute at the end is included
	}
	rows, err := s.pool.Query(ctx, `SELECT minute, module, `+rollupCols+` FROM rollups
		WHERE minute >= $1 AND minute < $2 ORDER BY minute, module COLLATE "C"`, from, to)
	if err != nil {
		return nil, unavailable("rollups", err)
	}
	defer rows.Close()
	var out []bridge.Rollup
	for rows.Next() {
		var r bridge.Rollup
		var minute int64
		var hist []int64
		if err := rows.Scan(&minute, &r.Module, &r.Received, &r.Duplicates, &r.Rejected, &r.IngestErrors,
			&r.Synced, &r.Failed, &r.Dead, &r.Replayed, &r.LatencySumUs, &r.LatencyMinUs, &r.LatencyMaxUs, &hist); err != nil {
			return nil, unavailable("rollups", err)
		}
		copy(r.LatencyHist[:], hist)
		r.Minute = time.Unix(minute*60, 0).UTC()
		out = append(out, r)
	}
	return out, unavailable("rollups", rows.Err())
}
