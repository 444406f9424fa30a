package sqlite

import (
	"bytes"
	"context"
	"crypto/sha256"
	"database/sql"
	"encoding/json"
	"fmt"
	"sort"
	"time"

	"corebridge/internal/bridge"
)

// The tamper-evident chain (bridge/chain.go): records.hash, prev_hash and
// skip_from; modules.chain_head and chain_skip (migration 0011).

// chainState is a module's chain as committed: the hash of its last
// accepted record, and the skip its next record inherits (nil: none).
type chainState struct {
	head [sha256.Size]byte
	skip []byte
}

// loadChains reads every module's chain head. Callers hold keys.mu, or
// are Open.
func (s *Store) loadChains(ctx context.Context) error {
	rows, err := s.w.QueryContext(ctx, `SELECT module, chain_head, chain_skip FROM modules`)
	if err != nil {
		return fmt.Errorf("chain heads: %w", err)
	}
	defer rows.Close()
	m := map[string]chainState{}
	for rows.Next() {
		var mod string
		var head, skip []byte
		if err := rows.Scan(&mod, &head, &skip); err != nil {
			return fmt.Errorf("chain heads: %w", err)
		}
		var c chainState
		copy(c.head[:], head) // NULL: no chained record yet, zeros
		c.skip = skip
		m[mod] = c
	}
	if err := rows.Err(); err != nil {
		return fmt.Errorf("chain heads: %w", err)
	}
	s.chains = m
	return nil
}

// headTx is one append's view of the chain heads: the committed ones
// with this transaction's records on top, kept only if it commits.
type headTx struct {
	s *Store
	m map[string]chainState
}

func (s *Store) chainHeads() *headTx { return &headTx{s: s, m: map[string]chainState{}} }

// link is one new record's place in its chain.
type link struct {
	hash, prev [sha256.Size]byte
	skip       []byte
}

func (l link) skipArg() any {
	if l.skip == nil {
		return nil
	}
	return l.skip
}

// next hashes r and chains it after its module's head.
func (h *headTx) next(r bridge.NewRecord) link {
	c, ok := h.m[r.Module]
	if !ok {
		c = h.s.chains[r.Module]
	}
	l := link{prev: c.head, skip: c.skip}
	l.hash = bridge.ContentSum(r.Module, r.SessionID, r.Data, bridge.FormatTime(r.ReceivedAt), r.ID)
	h.m[r.Module] = chainState{head: l.hash}
	return l
}

func (h *headTx) head(module string) [sha256.Size]byte { return h.m[module].head }

func (h *headTx) commit() {
	for m, c := range h.m {
		h.s.chains[m] = c
	}
}

// goneRec is a record a deletion removed, as its chain needs it.
type goneRec struct {
	seq        int64
	id         string
	prev, skip []byte // prev nil: accepted before the chain
}

// qNextSeq is the first record of a module after a seq, in any state: a
// seek in the (module, state, seq) index per state.
const qNextSeq = `SELECT min(s) FROM (
	SELECT (SELECT seq FROM records WHERE module = ?1 AND state = 0 AND seq > ?2 ORDER BY seq LIMIT 1) AS s
	UNION ALL SELECT (SELECT seq FROM records WHERE module = ?1 AND state = 1 AND seq > ?2 ORDER BY seq LIMIT 1)
	UNION ALL SELECT (SELECT seq FROM records WHERE module = ?1 AND state = 2 AND seq > ?2 ORDER BY seq LIMIT 1)
	UNION ALL SELECT (SELECT seq FROM records WHERE module = ?1 AND state = 3 AND seq > ?2 ORDER BY seq LIMIT 1))`

// stepOver keeps the chains whole across records just deleted in tx:
// each run of deleted records (no record left between them) hands the
// prev_hash of its first (or the skip that first held) to the record
// after the run, as skip_from, or to its module, as chain_skip, when none
// follows. Verify then steps over the run. With floor, the modules'
// pruned_id moves up to the greatest id deleted.
func stepOver(ctx context.Context, tx *sql.Tx, deleted map[string][]goneRec, floor bool) error {
	for m, g := range deleted {
		sort.Slice(g, func(i, j int) bool { return g[i].seq < g[j].seq })
		if floor {
			top := ""
			for _, r := range g {
				top = max(top, r.id)
			}
			if _, err := tx.ExecContext(ctx, `UPDATE modules SET pruned_id = max(pruned_id, ?) WHERE module = ?`, top, m); err != nil {
				return fmt.Errorf("prune floor: %w", err)
			}
		}
		for i := 0; i < len(g); {
			first := g[i]
			if first.prev == nil { // not chained
				i++
				continue
			}
			from := first.prev
			if first.skip != nil {
				from = first.skip
			}
			var next sql.NullInt64
			if err := tx.QueryRowContext(ctx, qNextSeq, m, first.seq).Scan(&next); err != nil {
				return fmt.Errorf("chain: next record: %w", err)
			}
			j := i + 1
			for j < len(g) && (!next.Valid || g[j].seq < next.Int64) {
				j++
			}
			var err error
			if next.Valid {
				_, err = tx.ExecContext(ctx, `UPDATE records SET skip_from = ? WHERE seq = ?`, from, next.Int64)
			} else {
				_, err = tx.ExecContext(ctx, `UPDATE modules SET chain_skip = ? WHERE module = ?`, from, m)
			}
			if err != nil {
				return fmt.Errorf("chain: step over: %w", err)
			}
			i = j
		}
	}
	return nil
}

// Verify walks the chain of module ("" for all) in one read transaction;
// see bridge.Verifier.
func (s *Store) Verify(ctx context.Context, module string, progress func(int64)) (bridge.VerifyReport, error) {
	return verifyDB(ctx, s.r, module, progress)
}

// VerifyFile verifies the store at path without opening it as a Store: it
// reads the file while a serve holds it (a WAL reader does not disturb
// the writer) and writes nothing.
func VerifyFile(ctx context.Context, path, module string, progress func(int64)) (bridge.VerifyReport, error) {
	db, err := sql.Open("sqlite", "file:"+path+"?mode=ro&_pragma=busy_timeout(10000)&_pragma=query_only(1)")
	if err != nil {
		return bridge.VerifyReport{}, err
	}
	defer db.Close()
	db.SetMaxOpenConns(1)
	var n int
	if err := db.QueryRowContext(ctx, `SELECT count(*) FROM pragma_table_info('records') WHERE name = 'prev_hash'`).Scan(&n); err != nil {
		return bridge.VerifyReport{}, fmt.Errorf("verify %s: %w", path, err)
	}
	if n == 0 {
		return bridge.VerifyReport{}, bridge.Errorf(bridge.EINVALID, "verify %s: this store has no chain yet (written by an older corebridge): open it once with this one", path)
	}
	return verifyDB(ctx, db, module, progress)
}

func verifyDB(ctx context.Context, db *sql.DB, module string, progress func(int64)) (bridge.VerifyReport, error) {
	tx, err := db.BeginTx(ctx, &sql.TxOptions{ReadOnly: true})
	if err != nil {
		return bridge.VerifyReport{}, fmt.Errorf("verify: %w", err)
	}
	defer tx.Rollback()
	edits := map[string][]bridge.ChainEdit{}
	erows, err := tx.QueryContext(ctx, `SELECT record, old_data, new_data FROM edits ORDER BY id`)
	if err != nil {
		return bridge.VerifyReport{}, fmt.Errorf("verify: edits: %w", err)
	}
	for erows.Next() {
		var id string
		var e bridge.ChainEdit
		if err := erows.Scan(&id, &e.Old, &e.New); err != nil {
			erows.Close()
			return bridge.VerifyReport{}, fmt.Errorf("verify: edits: %w", err)
		}
		edits[id] = append(edits[id], e)
	}
	erows.Close()
	if err := erows.Err(); err != nil {
		return bridge.VerifyReport{}, fmt.Errorf("verify: edits: %w", err)
	}
	q := `SELECT seq, id, module, session_id, data, received_at, hash, prev_hash, skip_from FROM records`
	var args []any
	if module != "" {
		q += ` WHERE module = ?`
		args = append(args, module)
	}
	rows, err := tx.QueryContext(ctx, q+` ORDER BY seq`, args...)
	if err != nil {
		return bridge.VerifyReport{}, fmt.Errorf("verify: %w", err)
	}
	w := bridge.NewChainWalk(progress)
	for rows.Next() {
		var r bridge.ChainRow
		var recv int64
		var skip []byte
		if err := rows.Scan(&r.Seq, &r.ID, &r.Module, &r.SessionID, &r.Data, &recv, &r.Hash, &r.PrevHash, &skip); err != nil {
			rows.Close()
			return bridge.VerifyReport{}, fmt.Errorf("verify: %w", err)
		}
		r.ReceivedAt, r.Edits = fromMicros(recv), edits[r.ID]
		// A run deleted just before this record: skip_from is where it began.
		w.Record(r, func(from, _ []byte) bool { return skip != nil && bytes.Equal(skip, from) })
	}
	rows.Close()
	if err := rows.Err(); err != nil {
		return bridge.VerifyReport{}, fmt.Errorf("verify: %w", err)
	}
	// Each module's head: its last records must all be there, or their
	// deletion noted (chain_skip: where the deleted tail began).
	mq := `SELECT module, chain_head, chain_skip FROM modules WHERE chain_head IS NOT NULL`
	args = nil
	if module != "" {
		mq += ` AND module = ?`
		args = append(args, module)
	}
	mrows, err := tx.QueryContext(ctx, mq, args...)
	if err != nil {
		return bridge.VerifyReport{}, fmt.Errorf("verify: modules: %w", err)
	}
	defer mrows.Close()
	for mrows.Next() {
		var mod string
		var head, skip []byte
		if err := mrows.Scan(&mod, &head, &skip); err != nil {
			return bridge.VerifyReport{}, fmt.Errorf("verify: modules: %w", err)
		}
		w.Head(mod, head, func(from, _ []byte) bool { return skip != nil && bytes.Equal(skip, from) })
	}
	if err := mrows.Err(); err != nil {
		return bridge.VerifyReport{}, fmt.Errorf("verify: modules: %w", err)
	}
	return w.Report(), nil
}

// ReconcileFloor is the greatest id pruning removed from module.
func (s *Store) ReconcileFloor(ctx context.Context, module string) (string, error) {
	var floor string
	err := s.r.QueryRowContext(ctx, `SELECT pruned_id FROM modules WHERE module = ?`, module).Scan(&floor)
	if err == sql.ErrNoRows {
		return "", nil
	}
	return floor, err
}

// qScanIDs reads a module's records in an id range, in id order.
const qScanIDs = `SELECT r.id, r.state, r.seq <= m.synced_seq, r.received_at, r.hash,
	CASE WHEN r.hash IS NULL OR EXISTS (SELECT 1 FROM edits e WHERE e.record = r.id) THEN r.data END, r.session_id
	FROM records r JOIN modules m ON m.module = r.module
	WHERE +r.module = ? AND r.id >= ? AND r.id < ? ORDER BY r.id`

// ScanIDs reads module's records with from <= id < to in id order; see
// bridge.Reconcilable. It walks the id index over the range, past the
// other modules' records (+module keeps the planner off the module
// indexes, which would sort): no index on (module, id) costs ingest. Data is read only for the records whose hash as
// sent is not the stored one (edited, or accepted before the chain).
func (s *Store) ScanIDs(ctx context.Context, module, from, to string, fn func(bridge.HeldRecord) error) error {
	if to == "" {
		to = "\U0010FFFF"
	}
	rows, err := s.r.QueryContext(ctx, qScanIDs, module, from, to)
	if err != nil {
		return fmt.Errorf("scan ids: %w", err)
	}
	defer rows.Close()
	for rows.Next() {
		var h bridge.HeldRecord
		var state int
		var below bool
		var recv int64
		var hash, data []byte
		var session string
		if err := rows.Scan(&h.ID, &state, &below, &recv, &hash, &data, &session); err != nil {
			return fmt.Errorf("scan ids: %w", err)
		}
		switch {
		case state == int(bridge.StateSynced) || state == 0 && below:
			h.State = bridge.StateSynced
		case state == int(bridge.StateDead):
			h.State = bridge.StateDead
		default:
			h.State = bridge.StatePending
		}
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
	return rows.Err()
}

// Requeue makes synced records of module pending again (as a replayed
// dead letter is: state 3, due now), keeping their ids.
func (s *Store) Requeue(ctx context.Context, module string, ids []string, now time.Time) (int, error) {
	if len(ids) == 0 {
		return 0, nil
	}
	list, _ := json.Marshal(ids)
	return s.deadTx(ctx, "requeue", func(tx *sql.Tx) (int, error) {
		res, err := tx.ExecContext(ctx, `UPDATE records SET state = 3, attempts = 0, next_attempt_at = ?, last_error = ''
			WHERE id IN (SELECT value FROM json_each(?)) AND +module = ?
			AND (state = 1 OR state = 0 AND seq <= (SELECT synced_seq FROM modules WHERE module = ?))`,
			micros(now), string(list), module, module)
		if err != nil {
			return 0, err
		}
		n, err := res.RowsAffected()
		if err != nil || n == 0 {
			return 0, err
		}
		if _, err := tx.ExecContext(ctx, `UPDATE modules SET synced = synced - ?1, pending = pending + ?1 WHERE module = ?2`, n, module); err != nil {
			return 0, fmt.Errorf("count: %w", err)
		}
		return int(n), nil
	})
}

var (
	_ bridge.Verifier     = (*Store)(nil)
	_ bridge.Reconcilable = (*Store)(nil)
)
