package sqlite

import (
	"context"
	"database/sql"
	"fmt"
	"time"

	"corebridge/internal/bridge"
)

// ListDead pages dead records in acceptance order.
func (s *Store) ListDead(ctx context.Context, q bridge.DeadQuery) ([]bridge.Record, error) {
	if q.Limit <= 0 {
		q.Limit = 100
	}
	var recs []bridge.Record
	var err error
	if q.Module != "" {
		recs, err = queryRecords(ctx, s.r, `SELECT `+recordCols+` FROM records
			WHERE module = ? AND state = 2 AND seq > ? ORDER BY seq LIMIT ?`, q.Module, q.AfterSeq, q.Limit)
	} else {
		recs, err = queryRecords(ctx, s.r, `SELECT `+recordCols+` FROM records
			WHERE state = 2 AND seq > ? ORDER BY seq LIMIT ?`, q.AfterSeq, q.Limit)
	}
	if err != nil {
		return nil, fmt.Errorf("list dead: %w", err)
	}
	return recs, nil
}

// ReplayDead makes the selected dead records pending and due at p.Now.
// A selection by module or all goes in pages of deadPage records, one
// transaction each (see bridge.Store), while Lease leaves the modules it
// selects alone.
func (s *Store) ReplayDead(ctx context.Context, p bridge.ReplayParams) (int, error) {
	now := micros(p.Now)
	if len(p.IDs) > 0 {
		return s.deadTx(ctx, "replay", func(tx *sql.Tx) (int, error) {
			moved := map[string]int64{}
			for _, id := range p.IDs {
				var m string
				err := tx.QueryRowContext(ctx, `UPDATE records SET state = 3, attempts = 0, next_attempt_at = ?
					WHERE id = ? AND state = 2 RETURNING module`, now, id).Scan(&m)
				if err == sql.ErrNoRows {
					continue
				} else if err != nil {
					return 0, fmt.Errorf("replay %s: %w", id, err)
				}
				moved[m]++
			}
			return s.countReplayed(ctx, tx, moved, p.Now)
		})
	}
	if p.Module == "" && !p.All {
		return 0, bridge.Errorf(bridge.EINVALID, "replay: give ids, a module, or all")
	}
	release, err := s.holdModules(ctx, p.Module)
	if err != nil {
		return 0, fmt.Errorf("replay: %w", err)
	}
	defer release()
	page, args := deadPageQuery(p.Module)
	return s.deadPages(func(after int64) (int, int64, error) {
		last := after
		n, err := s.deadTx(ctx, "replay", func(tx *sql.Tx) (int, error) {
			rows, err := tx.QueryContext(ctx, `UPDATE records SET state = 3, attempts = 0, next_attempt_at = ?
				WHERE seq IN (`+page+`) RETURNING module, seq`, append([]any{now}, args(after, s.deadPage)...)...)
			if err != nil {
				return 0, err
			}
			defer rows.Close()
			moved := map[string]int64{}
			for rows.Next() {
				var m string
				var seq int64
				if err := rows.Scan(&m, &seq); err != nil {
					return 0, err
				}
				moved[m]++
				last = max(last, seq)
			}
			if err := rows.Err(); err != nil {
				return 0, err
			}
			return s.countReplayed(ctx, tx, moved, p.Now)
		})
		return n, last, err
	})
}

// countReplayed moves the replayed records' counts from dead to pending.
func (s *Store) countReplayed(ctx context.Context, tx *sql.Tx, moved map[string]int64, at time.Time) (int, error) {
	total := 0
	for m, n := range moved {
		if _, err := tx.ExecContext(ctx, `UPDATE modules SET dead = dead - ?1, pending = pending + ?1,
			replayed = replayed + ?1 WHERE module = ?2`, n, m); err != nil {
			return 0, fmt.Errorf("count: %w", err)
		}
		if err := s.addRollup(ctx, tx, &bridge.Rollup{Minute: bridge.Minute(at), Module: m, Replayed: n}); err != nil {
			return 0, err
		}
		total += int(n)
	}
	return total, nil
}

// PurgeDead deletes dead records for good; by module or all, in pages as
// ReplayDead.
func (s *Store) PurgeDead(ctx context.Context, p bridge.ReplayParams) (int, error) {
	if len(p.IDs) > 0 {
		return s.purgeTx(ctx, func(tx *sql.Tx, gone map[string]int64) ([]keyAt, error) {
			var keys []keyAt
			for _, id := range p.IDs {
				k, err := deleteRecords(ctx, tx, gone, false, `DELETE FROM records WHERE id = ? AND state = 2`, id)
				if err != nil {
					return nil, fmt.Errorf("purge %s: %w", id, err)
				}
				keys = append(keys, k...)
			}
			return keys, nil
		})
	}
	if p.Module == "" && !p.All {
		return 0, bridge.Errorf(bridge.EINVALID, "purge: give ids, a module, or all")
	}
	page, args := deadPageQuery(p.Module)
	return s.deadPages(func(after int64) (int, int64, error) {
		last := after
		n, err := s.purgeTx(ctx, func(tx *sql.Tx, gone map[string]int64) ([]keyAt, error) {
			keys, err := deleteRecords(ctx, tx, gone, false, `DELETE FROM records WHERE seq IN (`+page+`)`, args(after, s.deadPage)...)
			for _, k := range keys {
				last = max(last, k.seq)
			}
			return keys, err
		})
		return n, last, err
	})
}

// purgeTx deletes records in one transaction: del deletes them (adding
// their counts per module to gone, returning their dedupe keys), and
// purgeTx drops their edits, counts them and forgets their keys.
func (s *Store) purgeTx(ctx context.Context, del func(*sql.Tx, map[string]int64) ([]keyAt, error)) (int, error) {
	s.keys.mu.Lock()
	defer s.keys.mu.Unlock()
	var keys []keyAt
	n, err := s.deadTx(ctx, "purge", func(tx *sql.Tx) (int, error) {
		gone := map[string]int64{}
		var err error
		if keys, err = del(tx, gone); err != nil {
			return 0, err
		}
		if len(gone) == 0 {
			return 0, nil
		}
		// Their edit history goes with them (edits is small: only dead
		// letters edited by hand).
		if _, err := tx.ExecContext(ctx, `DELETE FROM edits WHERE NOT EXISTS
			(SELECT 1 FROM records r WHERE r.id = edits.record)`); err != nil {
			return 0, fmt.Errorf("edits: %w", err)
		}
		total := 0
		for m, n := range gone {
			if _, err := tx.ExecContext(ctx, `UPDATE modules SET dead = dead - ? WHERE module = ?`, n, m); err != nil {
				return 0, fmt.Errorf("count: %w", err)
			}
			total += int(n)
		}
		return total, nil
	})
	if err == nil {
		s.keys.drop(keys)
		if n > 0 {
			err = s.loadChains(ctx)
		}
	}
	return n, err
}

// deadTx runs fn in one write transaction and commits it.
func (s *Store) deadTx(ctx context.Context, what string, fn func(*sql.Tx) (int, error)) (int, error) {
	tx, err := s.w.BeginTx(ctx, nil)
	if err != nil {
		return 0, fmt.Errorf("%s: begin: %w", what, err)
	}
	defer tx.Rollback()
	n, err := fn(tx)
	if err != nil {
		return 0, fmt.Errorf("%s: %w", what, err)
	}
	if err := s.commit(tx); err != nil {
		return 0, fmt.Errorf("%s: commit: %w", what, err)
	}
	return n, nil
}

// deadPageQuery selects the seqs of the next page of dead records (of
// module, or of all modules when it is ""), oldest first, after a seq:
// a seek in the records_dead or the (module, state, seq) index. args
// gives its arguments for a page after seq of up to limit records.
func deadPageQuery(module string) (string, func(after int64, limit int) []any) {
	if module == "" {
		return `SELECT seq FROM records WHERE state = 2 AND seq > ? ORDER BY seq LIMIT ?`,
			func(after int64, limit int) []any { return []any{after, limit} }
	}
	return `SELECT seq FROM records WHERE module = ? AND state = 2 AND seq > ? ORDER BY seq LIMIT ?`,
		func(after int64, limit int) []any { return []any{module, after, limit} }
}

// deadPages runs page until a page changes fewer than deadPage records.
// Each page is its own transaction, so that the write connection is free
// for group commits between pages. page gets the highest seq of the pages
// before (0 first) and returns how many records it changed and its own
// highest seq. A failed page leaves the pages before it committed; the
// count says how many.
func (s *Store) deadPages(page func(after int64) (int, int64, error)) (int, error) {
	total := 0
	var after int64
	for {
		n, last, err := page(after)
		if err != nil {
			if total > 0 {
				err = fmt.Errorf("%w (%d records done in earlier pages)", err, total)
			}
			return total, err
		}
		total += n
		if n < s.deadPage {
			return total, nil
		}
		after = last
	}
}

// holdModules keeps Lease off module (every module with dead records,
// when it is "") until release is called: a paged replay's records then
// go out in their place, not after newer records leased between pages.
func (s *Store) holdModules(ctx context.Context, module string) (release func(), err error) {
	mods := []string{module}
	if module == "" {
		mods = nil
		rows, err := s.r.QueryContext(ctx, `SELECT module FROM modules WHERE dead > 0`)
		if err != nil {
			return nil, err
		}
		defer rows.Close()
		for rows.Next() {
			var m string
			if err := rows.Scan(&m); err != nil {
				return nil, err
			}
			mods = append(mods, m)
		}
		if err := rows.Err(); err != nil {
			return nil, err
		}
	}
	s.leaseMu.Lock()
	defer s.leaseMu.Unlock()
	for _, m := range mods {
		s.held[m]++
	}
	return func() {
		s.leaseMu.Lock()
		defer s.leaseMu.Unlock()
		for _, m := range mods {
			if s.held[m]--; s.held[m] <= 0 {
				delete(s.held, m)
			}
		}
	}, nil
}

// EditDead replaces a dead record's data and keeps the old data in edits.
func (s *Store) EditDead(ctx context.Context, p bridge.EditParams) error {
	tx, err := s.w.BeginTx(ctx, nil)
	if err != nil {
		return fmt.Errorf("edit: begin: %w", err)
	}
	defer tx.Rollback()
	var old []byte
	err = tx.QueryRowContext(ctx, `SELECT data FROM records WHERE id = ? AND state = 2`, p.ID).Scan(&old)
	if err == sql.ErrNoRows {
		return bridge.Errorf(bridge.ENOTFOUND, "no dead letter has id %q", p.ID)
	} else if err != nil {
		return fmt.Errorf("edit %s: %w", p.ID, err)
	}
	if _, err := tx.ExecContext(ctx, `UPDATE records SET data = ? WHERE id = ?`, []byte(p.Data), p.ID); err != nil {
		return fmt.Errorf("edit %s: %w", p.ID, err)
	}
	if _, err := tx.ExecContext(ctx, `INSERT INTO edits (record, at, old_data, new_data, note, author) VALUES (?, ?, ?, ?, ?, ?)`,
		p.ID, micros(p.Now), old, []byte(p.Data), p.Note, p.Author); err != nil {
		return fmt.Errorf("edit %s: history: %w", p.ID, err)
	}
	if err := s.commit(tx); err != nil {
		return fmt.Errorf("edit: commit: %w", err)
	}
	return nil
}

// Edits returns a record's data edits, oldest first.
func (s *Store) Edits(ctx context.Context, recordID string) ([]bridge.Edit, error) {
	rows, err := s.r.QueryContext(ctx, `SELECT at, old_data, new_data, note, author FROM edits WHERE record = ? ORDER BY id`, recordID)
	if err != nil {
		return nil, fmt.Errorf("edits: %w", err)
	}
	defer rows.Close()
	var out []bridge.Edit
	for rows.Next() {
		var e bridge.Edit
		var at int64
		var old, nw []byte
		if err := rows.Scan(&at, &old, &nw, &e.Note, &e.Author); err != nil {
			return nil, fmt.Errorf("edits: %w", err)
		}
		e.At, e.OldData, e.NewData = fromMicros(at), old, nw
		out = append(out, e)
	}
	return out, rows.Err()
}
