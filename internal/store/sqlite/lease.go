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
	// Records not yet synced to disk are not delivered (durable.go).
	durable := s.durableSeq.Load()
	rows, err := s.rs.queryDB(ctx, qFreeHeads)
	if err != nil {
		return nil, fmt.Errorf("lease: modules: %w", err)
	}
	var heads []moduleHead
	again := map[string]bool{} // modules with replayed records pending
	for rows.Next() {
		var m string
		var seq, due, seqAgain, dueAgain sql.NullInt64
		if err := rows.Scan(&m, &seq, &due, &seqAgain, &dueAgain); err != nil {
			rows.Close()
			return nil, err
		}
		if l, held := s.leases[m]; held && l.live() || s.held[m] > 0 {
			continue
		}
		if seqAgain.Valid {
			again[m] = true
			if !seq.Valid || seqAgain.Int64 < seq.Int64 {
				seq, due = seqAgain, dueAgain
			}
		}
		if !seq.Valid || seq.Int64 > durable || !p.Due(fromMicros(due.Int64)) {
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
	recs, replayed, err := s.leaseBatch(ctx, best, s.synced[best], durable, p.MaxRecords, again[best])
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
	// The deadline is on the monotonic clock (time.Now's reading), not
	// p.Now's wall time: a step of the wall clock must not hand a batch in
	// flight to a second worker.
	s.epoch++
	now := time.Now()
	l := &bridge.Lease{ID: uuid.NewString(), Module: best, Owner: p.Owner, Epoch: s.epoch, Records: recs, Expires: now.Add(p.TTL)}
	held := make(map[string]leased, len(recs))
	for _, r := range recs {
		held[r.ID] = leased{seq: r.Seq, recv: micros(r.ReceivedAt), again: replayed[r.ID]}
	}
	s.leases[best] = memLease{id: l.ID, owner: p.Owner, epoch: l.Epoch, deadline: now.Add(p.TTL), recs: held}
	return l, nil
}

// leaseBatch reads up to max of module's pending records in seq order:
// those above its synced position pos up to durable and, when again,
// its replayed ones (state 3), merged by seq. replayed names the latter.
func (s *Store) leaseBatch(ctx context.Context, module string, pos, durable int64, max int, again bool) ([]bridge.Record, map[string]bool, error) {
	rows, err := s.rs.queryDB(ctx, qLeaseBatch, module, pos, durable, max)
	if err != nil {
		return nil, nil, err
	}
	recs, err := scanRecords(rows)
	if err != nil || !again {
		return recs, nil, err
	}
	rows, err = s.rs.queryDB(ctx, qLeaseAgain, module, max)
	if err != nil {
		return nil, nil, err
	}
	more, err := scanRecords(rows)
	if err != nil {
		return nil, nil, err
	}
	replayed := make(map[string]bool, len(more))
	for _, r := range more {
		replayed[r.ID] = true
	}
	recs = append(recs, more...)
	slices.SortFunc(recs, func(a, b bridge.Record) int { return cmp.Compare(a.Seq, b.Seq) })
	return recs[:min(len(recs), max)], replayed, nil
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
	epoch     int64
	deadline  time.Time         // from time.Now: compared on the monotonic clock
	settling  bool              // a Settle runs: held until it returns, whatever the deadline
	recs      map[string]leased // the leased records by id
}

// leased is what a lease remembers of one of its records.
type leased struct {
	seq, recv int64 // seq and received_at (unix microseconds)
	again     bool  // a replayed record (state 3)
}

// live reports whether the lease still holds its module.
func (l memLease) live() bool { return l.settling || time.Now().Before(l.deadline) }

// ExtendLease gives a live lease ttl more; see bridge.Leaser.
func (s *Store) ExtendLease(_ context.Context, l *bridge.Lease, ttl time.Duration) error {
	s.leaseMu.Lock()
	defer s.leaseMu.Unlock()
	m, ok := s.leases[l.Module]
	if !ok || m.id != l.ID || !m.live() {
		return bridge.LeaseLostError(l.Module, l.ID, l.Epoch)
	}
	m.deadline = time.Now().Add(ttl)
	s.leases[l.Module] = m
	l.Expires = m.deadline
	return nil
}

// Settle applies a delivery outcome and releases the lease; see bridge.Store.
//
// Records confirmed by the Bucket are not rewritten one by one: the
// forwarder delivers a module's pending records in seq order, so the
// confirmed head of the lease (its records in seq order up to the first
// that is neither synced nor dead) moves the module's synced position
// (modules.synced_seq) to its last seq, and a record in state 0 at or
// below the position is synced. That is one row per settle instead of an
// UPDATE per record that rewrote the row and moved it between index
// entries. Dead records, records to retry, replayed records (state 3),
// and synced records after one to retry are marked one by one as before
// (state 1 for synced).
//
// A settle of a lease no longer live here changes nothing (LeaseLost);
// one that is live holds its module until it returns, whatever its
// deadline, so that no other worker leases the batch while it commits.
// Transitions apply only to records still pending.
// Each kind of outcome is one statement over the ids as a JSON array. A
// settle that fails (a full disk) releases the lease too: its records stay
// as they were, so the batch is leased and sent again at once rather than
// after the lease's TTL, and the Bucket answers duplicate for what it holds.
func (s *Store) Settle(ctx context.Context, st bridge.Settlement) (err error) {
	defer func() {
		if err != nil {
			s.releaseLease(st)
		}
	}()
	now := micros(st.Now)
	plan, ok := s.planSettle(st)
	if !ok {
		return bridge.LeaseLostError(st.Module, st.LeaseID, 0)
	}
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
	for _, recv := range plan.byPosition {
		synced++
		rollup.ObserveLatency(time.Duration(now-recv) * time.Microsecond)
	}
	if len(plan.synced) > 0 {
		q, keys := plan.keys(qSettleSynced, qSettleSyncedSeq, plan.synced)
		rows, err := s.ws.query(ctx, tx, q, now, keys, st.Module, plan.pos)
		if err != nil {
			return fmt.Errorf("settle: synced: %w", err)
		}
		for rows.Next() {
			var recv int64
			if err := rows.Scan(&recv); err != nil {
				rows.Close()
				return fmt.Errorf("settle: synced: %w", err)
			}
			synced++
			rollup.ObserveLatency(time.Duration(now-recv) * time.Microsecond)
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
		q, keys := plan.keys(qSettleDead, qSettleDeadSeq, byReason[reason])
		n, err := exec(q, reason, keys, st.Module, plan.pos)
		if err != nil {
			return fmt.Errorf("settle: dead: %w", err)
		}
		dead += n
	}
	if len(st.Retry) > 0 {
		q, keys := plan.keys(qSettleRetry, qSettleRetrySeq, st.Retry)
		n, err := exec(q, micros(st.RetryAt), st.Error, keys, st.Module, plan.pos)
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
	if _, err := exec(qSettleCount, synced+dead, synced, dead, lastSync, st.Module, plan.to); err != nil {
		return fmt.Errorf("settle: count: %w", err)
	}
	if plan.to > plan.pos {
		if _, err := exec(qSyncMark, st.Module, now, plan.to); err != nil {
			return fmt.Errorf("settle: mark: %w", err)
		}
	}
	if a := st.Attempt; a != nil {
		if _, err := exec(qInsertAttempt,
			micros(a.At), a.Module, a.LeaseID, a.FirstSeq, a.LastSeq, a.Records, a.Outcome,
			a.HTTPStatus, a.Error, a.Latency.Microseconds()); err != nil {
			return fmt.Errorf("settle: record attempt: %w", err)
		}
	}
	if err := s.commit(tx); err != nil {
		return fmt.Errorf("settle: commit: %w", err)
	}
	s.leaseMu.Lock()
	if plan.to > s.synced[st.Module] {
		s.synced[st.Module] = plan.to
	}
	s.leaseMu.Unlock()
	s.releaseLease(st)
	return nil
}

// settlePlan is how a settle applies: which synced records the position
// covers, which are marked one by one, and by seq or by id.
type settlePlan struct {
	pos, to    int64   // the module's synced position before and after
	byPosition []int64 // received_at of the synced records the position covers
	synced     []string
	leased     map[string]leased // the lease's records (read only), nil when it is not held
}

// planSettle reads st's lease and marks it settling, or reports that it
// is no longer live.
func (s *Store) planSettle(st bridge.Settlement) (settlePlan, bool) {
	s.leaseMu.Lock()
	l, ok := s.leases[st.Module]
	ok = ok && l.id == st.LeaseID && l.live()
	if ok {
		l.settling = true
		s.leases[st.Module] = l
	}
	pos := s.synced[st.Module]
	s.leaseMu.Unlock()
	p := settlePlan{pos: pos, to: pos}
	if !ok {
		return p, false
	}
	p.leased = l.recs
	// The lease's records in state 0, in seq order: the position moves
	// over those synced or dead, up to the first that is neither.
	var head []leasedID
	for id, r := range l.recs {
		if !r.again && r.seq > pos {
			head = append(head, leasedID{id, r})
		}
	}
	slices.SortFunc(head, func(a, b leasedID) int { return cmp.Compare(a.seq, b.seq) })
	syncedSet := make(map[string]bool, len(st.Synced))
	for _, id := range st.Synced {
		syncedSet[id] = true
	}
	deadSet := make(map[string]bool, len(st.Dead))
	for _, d := range st.Dead {
		deadSet[d.ID] = true
	}
	covered := map[string]bool{}
	for _, r := range head {
		if syncedSet[r.id] {
			covered[r.id] = true
			p.byPosition = append(p.byPosition, r.recv)
		} else if !deadSet[r.id] {
			break
		}
		p.to = r.seq
	}
	for _, id := range st.Synced {
		if !covered[id] {
			p.synced = append(p.synced, id)
		}
	}
	return p, true
}

type leasedID struct {
	id string
	leased
}

// keys picks how a settle statement finds its records: by seq (the
// table's own key: one B-tree search per record instead of two) when the
// lease is still held here and knows every id's seq, else by id.
func (p settlePlan) keys(byID, bySeq string, ids []string) (string, string) {
	if p.leased == nil {
		return byID, idsJSON(ids)
	}
	seqs := make([]int64, 0, len(ids))
	for _, id := range ids {
		r, ok := p.leased[id]
		if !ok {
			return byID, idsJSON(ids)
		}
		seqs = append(seqs, r.seq)
	}
	b, _ := json.Marshal(seqs)
	return bySeq, string(b)
}

// releaseLease frees st's lease if it still holds its module.
func (s *Store) releaseLease(st bridge.Settlement) {
	s.leaseMu.Lock()
	defer s.leaseMu.Unlock()
	if l, ok := s.leases[st.Module]; ok && l.id == st.LeaseID {
		delete(s.leases, st.Module)
	}
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
