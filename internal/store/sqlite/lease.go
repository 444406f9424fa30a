package sqlite

import (
	"cmp"
	"context"
	"database/sql"
	"encoding/json"
	"fmt"
	"slices"
	"time"

	"corebridge/internal/bridge"

	"github.com/google/uuid"
)

// Lease claims the due head of one module; see bridge.Store. Among modules
// with a due head and no live lease, the one with the oldest head goes first.
//
// Leases live in memory, not in the database: one process owns a SQLite
// store (Open locks the file), so the lease needs no write transaction and
// no fsync, and never holds the write connection that group commits wait
// on. Reads go through the read pool; a settle commits before it releases
// its lease, so the next lease of the module reads what it wrote.
func (s *Store) Lease(ctx context.Context, p bridge.LeaseParams) (*bridge.Lease, error) {
	if p.MaxRecords <= 0 {
		return nil, bridge.Errorf(bridge.EINVALID, "lease: MaxRecords must be positive")
	}
	s.leaseMu.Lock()
	defer s.leaseMu.Unlock()

	// Each module's head: the index on (module, state, seq) makes each a
	// single seek, so this costs one row per module at any table size.
	rows, err := s.rs.queryDB(ctx, qFreeHeads)
	if err != nil {
		return nil, fmt.Errorf("lease: modules: %w", err)
	}
	var heads []moduleHead
	for rows.Next() {
		var m string
		var seq, due sql.NullInt64
		if err := rows.Scan(&m, &seq, &due); err != nil {
			rows.Close()
			return nil, err
		}
		if l, held := s.leases[m]; held && l.live() || s.held[m] > 0 {
			continue
		}
		if !seq.Valid || !p.Due(fromMicros(due.Int64)) {
			continue
		}
		heads = append(heads, moduleHead{m, seq.Int64})
	}
	rows.Close()
	if err := rows.Err(); err != nil {
		return nil, err
	}
	best, stop, err := s.pickHead(ctx, heads, p.Strict)
	if err != nil || best == "" {
		return nil, err
	}
	rows, err = s.rs.queryDB(ctx, qLeaseBatch, best, p.MaxRecords)
	if err != nil {
		return nil, fmt.Errorf("lease: batch of %s: %w", best, err)
	}
	recs, err := scanRecords(rows)
	if err != nil {
		return nil, fmt.Errorf("lease: batch of %s: %w", best, err)
	}
	if len(recs) == 0 {
		return nil, nil
	}
	size := 0
	for i, r := range recs {
		size += len(r.Data)
		if i > 0 && (!p.Due(r.NextAttemptAt) || p.MaxBytes > 0 && size > p.MaxBytes || stop > 0 && r.Seq > stop) {
			recs = recs[:i]
			break
		}
	}
	l := &bridge.Lease{ID: uuid.NewString(), Module: best, Records: recs, Expires: p.Now.Add(p.TTL)}
	seqs := make(map[string]int64, len(recs))
	for _, r := range recs {
		seqs[r.ID] = r.Seq
	}
	// The deadline is on the monotonic clock (time.Now's reading), not
	// p.Now's wall time: a step of the wall clock must not hand a batch in
	// flight to a second worker.
	s.leases[best] = memLease{id: l.ID, owner: p.Owner, deadline: time.Now().Add(p.TTL), seqs: seqs}
	return l, nil
}

// moduleHead is a module's oldest pending record, due and not leased.
type moduleHead struct {
	module string
	seq    int64
}

// pickHead returns the module with the oldest head among heads, skipping
// those of strict modules blocked by an older dead record, and, for a
// strict module, the seq of its oldest dead record (newer than the head)
// where its lease must stop (0: none). The check costs one seek in the
// (module, state, seq) index per strict module looked at.
func (s *Store) pickHead(ctx context.Context, heads []moduleHead, strict bridge.StrictOrder) (string, int64, error) {
	slices.SortFunc(heads, func(a, b moduleHead) int { return cmp.Compare(a.seq, b.seq) })
	for _, h := range heads {
		if !strict.Has(h.module) {
			return h.module, 0, nil
		}
		var dead int64
		err := s.rs.queryRow(ctx, qDeadHead, []any{h.module}, &dead)
		if err != nil && err != sql.ErrNoRows {
			return "", 0, fmt.Errorf("lease: dead head of %s: %w", h.module, err)
		}
		if dead == 0 || dead > h.seq {
			return h.module, dead, nil
		}
	}
	return "", 0, nil
}

// memLease is a module's live lease.
type memLease struct {
	id, owner string
	deadline  time.Time        // from time.Now: compared on the monotonic clock
	seqs      map[string]int64 // the leased records' seqs by id
}

// live reports whether the lease still holds its module.
func (l memLease) live() bool { return time.Now().Before(l.deadline) }

// Settle applies a delivery outcome and releases the lease; see bridge.Store.
// Transitions apply only to records still pending, so settling twice (or
// after the lease was lost and the batch redelivered) changes nothing more.
// Each kind of outcome is one statement over the ids as a JSON array, so
// settling 500 records costs a few statements, not 500. A settle that
// fails (a full disk) releases the lease too: its records stay as they
// were, so the batch is leased and sent again at once rather than after
// the lease's TTL, and the Bucket answers duplicate for what it holds.
func (s *Store) Settle(ctx context.Context, st bridge.Settlement) (err error) {
	defer func() {
		if err != nil {
			s.releaseLease(st)
		}
	}()
	now := micros(st.Now)
	tx, err := s.w.BeginTx(ctx, nil)
	if err != nil {
		return fmt.Errorf("settle: begin: %w", err)
	}
	defer tx.Rollback()

	exec := func(q string, args ...any) (int64, error) {
		res, err := s.ws.exec(ctx, tx, q, args...)
		if err != nil {
			return 0, err
		}
		return res.RowsAffected()
	}
	var synced, dead int64
	rollup := &bridge.Rollup{Minute: bridge.Minute(st.Now), Module: st.Module}
	if len(st.Synced) > 0 {
		q, keys := s.settleKeys(st, qSettleSynced, qSettleSyncedSeq, st.Synced)
		rows, err := s.ws.query(ctx, tx, q, now, keys, st.Module)
		if err != nil {
			return fmt.Errorf("settle: synced: %w", err)
		}
		r := rollup
		for rows.Next() {
			var recv int64
			if err := rows.Scan(&recv); err != nil {
				rows.Close()
				return fmt.Errorf("settle: synced: %w", err)
			}
			synced++
			r.ObserveLatency(time.Duration(now-recv) * time.Microsecond)
		}
		rows.Close()
		if err := rows.Err(); err != nil {
			return fmt.Errorf("settle: synced: %w", err)
		}
	}
	byReason := map[string][]string{}
	var reasons []string
	for _, d := range st.Dead {
		if _, ok := byReason[d.Reason]; !ok {
			reasons = append(reasons, d.Reason)
		}
		byReason[d.Reason] = append(byReason[d.Reason], d.ID)
	}
	for _, reason := range reasons {
		q, keys := s.settleKeys(st, qSettleDead, qSettleDeadSeq, byReason[reason])
		n, err := exec(q, reason, keys, st.Module)
		if err != nil {
			return fmt.Errorf("settle: dead: %w", err)
		}
		dead += n
	}
	if len(st.Retry) > 0 {
		q, keys := s.settleKeys(st, qSettleRetry, qSettleRetrySeq, st.Retry)
		n, err := exec(q, micros(st.RetryAt), st.Error, keys, st.Module)
		if err != nil {
			return fmt.Errorf("settle: retry: %w", err)
		}
		rollup.Failed = n
	}
	rollup.Synced, rollup.Dead = synced, dead
	if err := s.addRollup(ctx, tx, rollup); err != nil {
		return fmt.Errorf("settle: %w", err)
	}
	lastSync := int64(0)
	if synced > 0 {
		lastSync = now
	}
	if _, err := exec(qSettleCount, synced+dead, synced, dead, lastSync, st.Module); err != nil {
		return fmt.Errorf("settle: count: %w", err)
	}
	if a := st.Attempt; a != nil {
		if _, err := exec(qInsertAttempt,
			micros(a.At), a.Module, a.LeaseID, a.FirstSeq, a.LastSeq, a.Records, a.Outcome,
			a.HTTPStatus, a.Error, a.Latency.Microseconds()); err != nil {
			return fmt.Errorf("settle: record attempt: %w", err)
		}
	}
	if err := tx.Commit(); err != nil {
		return fmt.Errorf("settle: commit: %w", err)
	}
	s.releaseLease(st)
	return nil
}

// releaseLease frees st's lease if it still holds its module.
func (s *Store) releaseLease(st bridge.Settlement) {
	s.leaseMu.Lock()
	defer s.leaseMu.Unlock()
	if l, ok := s.leases[st.Module]; ok && l.id == st.LeaseID {
		delete(s.leases, st.Module)
	}
}

// settleKeys picks how a settle statement finds its records: by seq (the
// table's own key: one B-tree search per record instead of two) when the
// lease is still held here and knows every id's seq, else by id.
func (s *Store) settleKeys(st bridge.Settlement, byID, bySeq string, ids []string) (string, string) {
	s.leaseMu.Lock()
	l, ok := s.leases[st.Module]
	s.leaseMu.Unlock()
	if ok && l.id == st.LeaseID {
		seqs := make([]int64, 0, len(ids))
		for _, id := range ids {
			seq, ok := l.seqs[id]
			if !ok {
				return byID, idsJSON(ids)
			}
			seqs = append(seqs, seq)
		}
		b, _ := json.Marshal(seqs)
		return bySeq, string(b)
	}
	return byID, idsJSON(ids)
}

// idsJSON encodes ids as a JSON array for json_each.
func idsJSON(ids []string) string {
	b, _ := json.Marshal(ids)
	return string(b)
}

// ReleaseLeases frees the leases owner holds.
func (s *Store) ReleaseLeases(ctx context.Context, owner string) (int, error) {
	s.leaseMu.Lock()
	defer s.leaseMu.Unlock()
	n := 0
	for m, l := range s.leases {
		if l.owner == owner {
			delete(s.leases, m)
			n++
		}
	}
	return n, nil
}
