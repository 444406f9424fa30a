package postgres

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"slices"
	"time"

	"corebridge/internal/bridge"

	"github.com/jackc/pgx/v5"
)

// The tamper-evident chain (bridge/chain.go) on PostgreSQL: records.hash
// and prev_hash, modules.chain_head, and chain_skips, one row per run of
// deleted records (migration 0003). The SQLite store notes a skip on the
// record after the run; here a run is found from the deleted rows alone,
// by their hashes, so a deletion never looks for a module's next record
// (no index leads there for every state).

// goneRec is a deleted record as its chain needs it.
type goneRec struct {
	id         string
	hash, prev []byte // nil: accepted before the chain
}

// skipOver records the runs of deleted records per module in
// chain_skips, merged with the rows of runs next to them, so that Verify
// steps over them. It locks the modules' rows first (in name order, as
// appends do), so two deletions of one module merge one after the other.
// With floor, the modules' pruned_id moves up to the greatest id deleted.
func skipOver(ctx context.Context, tx pgx.Tx, deleted map[string][]goneRec, floor bool) error {
	mods := make([]string, 0, len(deleted))
	for m := range deleted {
		mods = append(mods, m)
	}
	slices.Sort(mods)
	if _, err := tx.Exec(ctx, `SELECT 1 FROM modules WHERE module = ANY($1) ORDER BY module FOR UPDATE`, mods); err != nil {
		return fmt.Errorf("chain: lock modules: %w", err)
	}
	for _, m := range mods {
		g := deleted[m]
		if floor {
			top := ""
			for _, r := range g {
				top = max(top, r.id)
			}
			if _, err := tx.Exec(ctx, `UPDATE modules SET pruned_id = $2
				WHERE module = $1 AND pruned_id COLLATE "C" < $2 COLLATE "C"`, m, top); err != nil {
				return fmt.Errorf("prune floor: %w", err)
			}
		}
		// The runs: a deleted record whose predecessor was not deleted
		// with it starts one; each record's successor in the run is the
		// deleted record that names its hash.
		byPrev := map[string]goneRec{}
		hashes := map[string]bool{}
		for _, r := range g {
			if r.hash == nil {
				continue
			}
			byPrev[string(r.prev)] = r
			hashes[string(r.hash)] = true
		}
		for _, r := range g {
			if r.hash == nil || hashes[string(r.prev)] {
				continue
			}
			from, to := r.prev, r.hash
			for next, ok := byPrev[string(to)]; ok; next, ok = byPrev[string(to)] {
				to = next.hash
			}
			var f, t []byte
			err := tx.QueryRow(ctx, `DELETE FROM chain_skips WHERE module = $1 AND to_hash = $2 RETURNING from_hash`, m, from).Scan(&f)
			if err == nil {
				from = f
			} else if !errors.Is(err, pgx.ErrNoRows) {
				return fmt.Errorf("chain: merge: %w", err)
			}
			err = tx.QueryRow(ctx, `DELETE FROM chain_skips WHERE module = $1 AND from_hash = $2 RETURNING to_hash`, m, to).Scan(&t)
			if err == nil {
				to = t
			} else if !errors.Is(err, pgx.ErrNoRows) {
				return fmt.Errorf("chain: merge: %w", err)
			}
			if _, err := tx.Exec(ctx, `INSERT INTO chain_skips (module, from_hash, to_hash) VALUES ($1, $2, $3)`, m, from, to); err != nil {
				return fmt.Errorf("chain: skip: %w", err)
			}
		}
	}
	return nil
}

// collectGone reads rows of (id, module, hash, prev_hash).
func collectGone(rows pgx.Rows) (ids []string, per map[string]int64, gone map[string][]goneRec, err error) {
	defer rows.Close()
	per, gone = map[string]int64{}, map[string][]goneRec{}
	for rows.Next() {
		var m string
		var g goneRec
		if err := rows.Scan(&g.id, &m, &g.hash, &g.prev); err != nil {
			return nil, nil, nil, err
		}
		ids = append(ids, g.id)
		per[m]++
		gone[m] = append(gone[m], g)
	}
	return ids, per, gone, rows.Err()
}

// Verify walks the chain of module ("" for all) in one repeatable-read
// transaction; see bridge.Verifier.
func (s *Store) Verify(ctx context.Context, module string, progress func(int64)) (bridge.VerifyReport, error) {
	rep := bridge.VerifyReport{Breaks: []bridge.ChainBreak{}}
	err := pgx.BeginTxFunc(ctx, s.pool, pgx.TxOptions{IsoLevel: pgx.RepeatableRead, AccessMode: pgx.ReadOnly}, func(tx pgx.Tx) error {
		rep = bridge.VerifyReport{Breaks: []bridge.ChainBreak{}}
		return verifyTx(ctx, tx, module, progress, &rep)
	})
	if err != nil {
		return rep, unavailable("verify", err)
	}
	return rep, nil
}

func verifyTx(ctx context.Context, tx pgx.Tx, module string, progress func(int64), rep *bridge.VerifyReport) error {
	edits := map[string][]bridge.ChainEdit{}
	rows, err := tx.Query(ctx, `SELECT record_id, old_data, new_data FROM edits ORDER BY n`)
	if err != nil {
		return fmt.Errorf("edits: %w", err)
	}
	for rows.Next() {
		var id string
		var e bridge.ChainEdit
		if err := rows.Scan(&id, &e.Old, &e.New); err != nil {
			rows.Close()
			return err
		}
		edits[id] = append(edits[id], e)
	}
	rows.Close()
	if err := rows.Err(); err != nil {
		return err
	}
	skips := map[string]map[string][]byte{} // module → from → to
	rows, err = tx.Query(ctx, `SELECT module, from_hash, to_hash FROM chain_skips`)
	if err != nil {
		return fmt.Errorf("skips: %w", err)
	}
	for rows.Next() {
		var m string
		var f, t []byte
		if err := rows.Scan(&m, &f, &t); err != nil {
			rows.Close()
			return err
		}
		if skips[m] == nil {
			skips[m] = map[string][]byte{}
		}
		skips[m][string(f)] = t
	}
	rows.Close()
	if err := rows.Err(); err != nil {
		return err
	}
	q, args := `SELECT seq, id, module, session_id, data, received_at, hash, prev_hash FROM records`, []any{}
	if module != "" {
		q, args = q+` WHERE module = $1`, append(args, module)
	}
	rows, err = tx.Query(ctx, q+` ORDER BY seq`, args...)
	if err != nil {
		return err
	}
	defer rows.Close()
	w := bridge.NewChainWalk(progress)
	for rows.Next() {
		var r bridge.ChainRow
		var recv int64
		if err := rows.Scan(&r.Seq, &r.ID, &r.Module, &r.SessionID, &r.Data, &recv, &r.Hash, &r.PrevHash); err != nil {
			return err
		}
		r.ReceivedAt, r.Edits = fromMicros(recv), edits[r.ID]
		w.Record(r, func(from, to []byte) bool { return bytes.Equal(skips[r.Module][string(from)], to) })
	}
	if err := rows.Err(); err != nil {
		return err
	}
	rows.Close()
	mq, margs := `SELECT module, chain_head FROM modules WHERE chain_head IS NOT NULL`, []any{}
	if module != "" {
		mq, margs = mq+` AND module = $1`, append(margs, module)
	}
	mrows, err := tx.Query(ctx, mq, margs...)
	if err != nil {
		return err
	}
	defer mrows.Close()
	for mrows.Next() {
		var mod string
		var head []byte
		if err := mrows.Scan(&mod, &head); err != nil {
			return err
		}
		w.Head(mod, head, func(from, to []byte) bool { return bytes.Equal(skips[mod][string(from)], to) })
	}
	if err := mrows.Err(); err != nil {
		return err
	}
	*rep = w.Report()
	return nil
}

// ReconcileFloor is the greatest id pruning removed from module.
func (s *Store) ReconcileFloor(ctx context.Context, module string) (string, error) {
	var floor string
	err := s.pool.QueryRow(ctx, `SELECT pruned_id FROM modules WHERE module = $1`, module).Scan(&floor)
	if errors.Is(err, pgx.ErrNoRows) {
		return "", nil
	} else if err != nil {
		return "", unavailable("reconcile floor", err)
	}
	return floor, nil
}

// ScanIDs reads module's records with from <= id < to in id order (byte
// order: COLLATE "C"); see bridge.Reconcilable.
func (s *Store) ScanIDs(ctx context.Context, module, from, to string, fn func(bridge.HeldRecord) error) error {
	q := `SELECT r.id, r.state, r.received_at, r.hash,
		CASE WHEN r.hash IS NULL OR EXISTS (SELECT 1 FROM edits e WHERE e.record_id = r.id) THEN r.data END, r.session_id
		FROM records r WHERE r.module = $1 AND r.id COLLATE "C" >= $2 COLLATE "C"`
	args := []any{module, from}
	if to != "" {
		q, args = q+` AND r.id COLLATE "C" < $3 COLLATE "C"`, append(args, to)
	}
	rows, err := s.pool.Query(ctx, q+` ORDER BY r.module, r.id COLLATE "C"`, args...)
	if err != nil {
		return unavailable("scan ids", err)
	}
	defer rows.Close()
	for rows.Next() {
		var h bridge.HeldRecord
		var state int16
		var recv int64
		var hash, data []byte
		var session string
		if err := rows.Scan(&h.ID, &state, &recv, &hash, &data, &session); err != nil {
			return unavailable("scan ids", err)
		}
		h.State = bridge.State(state)
		h.ReceivedAt = fromMicros(recv)
		if data != nil {
			h.Hash = bridge.ContentSum(module, session, data, bridge.FormatTime(h.ReceivedAt), h.ID)
		} else {
			copy(h.Hash[:], hash)
		}
		if err := fn(h); err != nil {
			return err
		}
	}
	if err := rows.Err(); err != nil {
		return unavailable("scan ids", err)
	}
	return nil
}

// Requeue makes synced records of module pending again, due at now,
// keeping their ids, and wakes every replica's forwarder.
func (s *Store) Requeue(ctx context.Context, module string, ids []string, now time.Time) (int, error) {
	if len(ids) == 0 {
		return 0, nil
	}
	n := 0
	err := pgx.BeginFunc(ctx, s.pool, func(tx pgx.Tx) error {
		if _, err := tx.Exec(ctx, `SELECT 1 FROM modules WHERE module = $1 FOR UPDATE`, module); err != nil {
			return err
		}
		rows, err := tx.Query(ctx, `UPDATE records SET state = 0, attempts = 0, next_attempt_at = $3, last_error = ''
			WHERE id = ANY($1) AND module = $2 AND state = 1 RETURNING seq`, ids, module, micros(now))
		if err != nil {
			return err
		}
		seqs, err := pgx.CollectRows(rows, pgx.RowTo[int64])
		if err != nil || len(seqs) == 0 {
			return err
		}
		n = len(seqs)
		if _, err := tx.Exec(ctx, `UPDATE modules SET synced = synced - $2, pending = pending + $2,
			pos = least(pos, $3) WHERE module = $1`, module, n, slices.Min(seqs)-1); err != nil {
			return err
		}
		_, err = tx.Exec(ctx, `SELECT pg_notify($1, '')`, notifyChannel)
		return err
	})
	if err != nil {
		return 0, unavailable("requeue", err)
	}
	return n, nil
}

var (
	_ bridge.Verifier     = (*Store)(nil)
	_ bridge.Reconcilable = (*Store)(nil)
)
