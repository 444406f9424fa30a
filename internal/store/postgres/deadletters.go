package postgres

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"

	"corebridge/internal/bridge"

	"github.com/jackc/pgx/v5"
)

// ListDead pages dead records in acceptance order: a seek in records_dead
// for a module; for all, one per module with dead records, merged (by
// the primary key, a page would read every record since AfterSeq that
// is not dead).
func (s *Store) ListDead(ctx context.Context, q bridge.DeadQuery) ([]bridge.Record, error) {
	if q.Limit <= 0 {
		q.Limit = 100
	}
	var rows pgx.Rows
	var err error
	if q.Module != "" {
		rows, err = s.pool.Query(ctx, `SELECT `+recordCols+` FROM records
			WHERE module = $1 AND state = 2 AND seq > $2 ORDER BY module, seq LIMIT $3`, q.Module, q.AfterSeq, q.Limit)
	} else {
		rows, err = s.pool.Query(ctx, `SELECT d.* FROM modules m CROSS JOIN LATERAL
			(SELECT `+recordCols+` FROM records r WHERE r.module = m.module AND r.state = 2 AND r.seq > $1
				ORDER BY r.module, r.seq LIMIT $2) d
			WHERE m.dead > 0 ORDER BY d.seq LIMIT $2`, q.AfterSeq, q.Limit)
	}
	if err != nil {
		return nil, unavailable("list dead", err)
	}
	recs, err := scanRecords(rows)
	if err != nil {
		return nil, unavailable("list dead", err)
	}
	return recs, nil
}

// EditDead replaces a dead record's data and keeps the old data in edits.
func (s *Store) EditDead(ctx context.Context, p bridge.EditParams) error {
	err := pgx.BeginFunc(ctx, s.pool, func(tx pgx.Tx) error {
		var old []byte
		err := tx.QueryRow(ctx, `SELECT data FROM records WHERE id = $1 AND state = 2 FOR UPDATE`, p.ID).Scan(&old)
		if errors.Is(err, pgx.ErrNoRows) {
			return bridge.Errorf(bridge.ENOTFOUND, "no dead letter has id %q", p.ID)
		} else if err != nil {
			return err
		}
		if _, err := tx.Exec(ctx, `UPDATE records SET data = $2 WHERE id = $1`, p.ID, []byte(p.Data)); err != nil {
			return err
		}
		_, err = tx.Exec(ctx, `INSERT INTO edits (record_id, at, old_data, new_data, note, author)
			VALUES ($1, $2, $3, $4, $5, $6)`, p.ID, micros(p.Now), old, []byte(p.Data), p.Note, p.Author)
		return err
	})
	return unavailable("edit "+p.ID, err)
}

// Edits returns a record's data edits, oldest first.
func (s *Store) Edits(ctx context.Context, recordID string) ([]bridge.Edit, error) {
	rows, err := s.pool.Query(ctx, `SELECT at, old_data, new_data, note, author FROM edits
		WHERE record_id = $1 ORDER BY n`, recordID)
	if err != nil {
		return nil, unavailable("edits", err)
	}
	defer rows.Close()
	var out []bridge.Edit
	for rows.Next() {
		var e bridge.Edit
		var at int64
		var old, nw []byte
		if err := rows.Scan(&at, &old, &nw, &e.Note, &e.Author); err != nil {
			return nil, unavailable("edits", err)
		}
		e.At, e.OldData, e.NewData = fromMicros(at), old, nw
		out = append(out, e)
	}
	return out, unavailable("edits", rows.Err())
}

// deadSelection is the WHERE clause that picks the dead records p
// selects (IDs, else Module, else All) among the locked modules, and its
// arguments, numbered from $first.
func deadSelection(p bridge.ReplayParams, locked []string, first int) (string, []any) {
	mods, sel := fmt.Sprintf("$%d", first), fmt.Sprintf("$%d", first+1)
	switch {
	case len(p.IDs) > 0:
		return `state = 2 AND module = ANY(` + mods + `) AND id = ANY(` + sel + `)`, []any{locked, p.IDs}
	case p.Module != "":
		return `state = 2 AND module = ANY(` + mods + `) AND module = ` + sel, []any{locked, p.Module}
	}
	return `state = 2 AND module = ANY(` + mods + `)`, []any{locked}
}

// lockDeadModules locks, in name order (ORDER BY module, as appends take
// them), the modules rows of the modules whose dead records p selects,
// and returns their names. Taking them before any record row keeps the
// lock order of appends (module rows, then records and keys), and keeps
// their counters still while the records change: the statements that
// follow see every dead record committed before the locks were granted,
// and touch only these modules.
func lockDeadModules(ctx context.Context, tx pgx.Tx, p bridge.ReplayParams) ([]string, error) {
	var rows pgx.Rows
	var err error
	switch {
	case len(p.IDs) > 0:
		rows, err = tx.Query(ctx, `SELECT module FROM modules WHERE module IN
			(SELECT module FROM records WHERE id = ANY($1) AND state = 2)
			ORDER BY module FOR UPDATE`, p.IDs)
	case p.Module != "":
		rows, err = tx.Query(ctx, `SELECT module FROM modules WHERE module = $1 AND dead > 0 FOR UPDATE`, p.Module)
	default:
		rows, err = tx.Query(ctx, `SELECT module FROM modules WHERE dead > 0 ORDER BY module FOR UPDATE`)
	}
	if err != nil {
		return nil, err
	}
	return pgx.CollectRows(rows, pgx.RowTo[string])
}

// noSelector is the error of a ReplayDead or PurgeDead that selects nothing.
func noSelector(what string, p bridge.ReplayParams) error {
	if len(p.IDs) == 0 && p.Module == "" && !p.All {
		return bridge.Errorf(bridge.EINVALID, "%s: give ids, a module, or all", what)
	}
	return nil
}

// moduleCounts returns per as two arrays, module names (sorted) and
// counts, for an UPDATE ... FROM unnest.
func moduleCounts(per map[string]int64) ([]string, []int64) {
	mods := make([]string, 0, len(per))
	for m := range per {
		mods = append(mods, m)
	}
	slices.Sort(mods)
	ns := make([]int64, len(mods))
	for i, m := range mods {
		ns[i] = per[m]
	}
	return mods, ns
}

// changeDead is PurgeDead's and ReplayDead's one transaction: it locks
// the modules whose dead records p selects (in name order, as appends
// do), runs stmt (a DELETE or UPDATE of records, to which the selection's
// WHERE and "RETURNING id, module, hash, prev_hash" are added; a DELETE
// keeps the chain whole (skipOver); its own arguments are
// pre, the selection's follow), then after with the ids it changed and
// their count per module. It returns how many it changed.
func (s *Store) changeDead(ctx context.Context, what string, p bridge.ReplayParams, stmt string, pre []any,
	after func(tx pgx.Tx, ids []string, mods []string, counts []int64) error) (int, error) {
	if err := noSelector(what, p); err != nil {
		return 0, err
	}
	n := 0
	err := pgx.BeginFunc(ctx, s.pool, func(tx pgx.Tx) error {
		n = 0
		locked, err := lockDeadModules(ctx, tx, p)
		if err != nil || len(locked) == 0 {
			return err
		}
		where, args := deadSelection(p, locked, len(pre)+1)
		rows, err := tx.Query(ctx, stmt+` WHERE `+where+` RETURNING id, module, hash, prev_hash`, append(pre, args...)...)
		if err != nil {
			return err
		}
		ids, per, gone, err := collectGone(rows)
		if err != nil || len(ids) == 0 {
			return err
		}
		if strings.HasPrefix(stmt, "DELETE") {
			if err := skipOver(ctx, tx, gone, false); err != nil {
				return err
			}
		}
		mods, counts := moduleCounts(per)
		if err := after(tx, ids, mods, counts); err != nil {
			return err
		}
		n = len(ids)
		return nil
	})
	if err != nil {
		return 0, unavailable(what, err)
	}
	return n, nil
}

// PurgeDead deletes the selected dead records for good, with their dedupe
// keys (a later record with the key is new) and their edits, in one
// transaction.
func (s *Store) PurgeDead(ctx context.Context, p bridge.ReplayParams) (int, error) {
	return s.changeDead(ctx, "purge", p, `DELETE FROM records`, nil, func(tx pgx.Tx, ids, mods []string, counts []int64) error {
		if _, err := tx.Exec(ctx, `DELETE FROM dedupe_keys WHERE record_id = ANY($1)`, ids); err != nil {
			return fmt.Errorf("keys: %w", err)
		}
		if _, err := tx.Exec(ctx, `DELETE FROM edits WHERE record_id = ANY($1)`, ids); err != nil {
			return fmt.Errorf("edits: %w", err)
		}
		if _, err := tx.Exec(ctx, `UPDATE modules m SET dead = m.dead - c.n
			FROM unnest($1::text[], $2::bigint[]) AS c(module, n) WHERE m.module = c.module`, mods, counts); err != nil {
			return fmt.Errorf("count: %w", err)
		}
		return nil
	})
}

// ReplayDead makes the selected dead records pending and due at p.Now,
// with their attempts reset (last_error is kept), in one transaction, and
// wakes the forwarders of every replica.
func (s *Store) ReplayDead(ctx context.Context, p bridge.ReplayParams) (int, error) {
	return s.changeDead(ctx, "replay", p, `UPDATE records SET state = 0, attempts = 0, next_attempt_at = $1`, []any{micros(p.Now)},
		func(tx pgx.Tx, ids, mods []string, counts []int64) error {
			// Replayed records are pending again below their modules'
			// settled positions: the positions go back below them.
			if _, err := tx.Exec(ctx, `UPDATE modules m SET dead = m.dead - c.n, pending = m.pending + c.n,
				replayed = m.replayed + c.n,
				pos = least(m.pos, (SELECT min(r.seq) - 1 FROM records r WHERE r.id = ANY($3) AND r.module = m.module))
				FROM unnest($1::text[], $2::bigint[]) AS c(module, n) WHERE m.module = c.module`, mods, counts, ids); err != nil {
				return fmt.Errorf("count: %w", err)
			}
			rs := make([]bridge.Rollup, len(mods))
			for i, m := range mods {
				rs[i] = bridge.Rollup{Minute: p.Now, Module: m, Replayed: counts[i]}
			}
			if err := s.addRollups(ctx, tx, rs); err != nil {
				return err
			}
			if _, err := tx.Exec(ctx, `SELECT pg_notify($1, '')`, notifyChannel); err != nil {
				return fmt.Errorf("notify: %w", err)
			}
			return nil
		})
}
