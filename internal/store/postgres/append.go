package postgres

import (
	"context"
	"fmt"
	"slices"

	"corebridge/internal/bridge"

	"github.com/jackc/pgx/v5"
)

// notifyChannel is what appends and replays notify, so that every
// replica's forwarder wakes up for records another replica accepted.
const notifyChannel = "corebridge_records"

// Append stores recs in one transaction; see bridge.Appender. The
// transaction first locks the rows of its modules (in name order, so
// that two appends never wait on each other in a cycle), then settles
// dedupe keys through their unique index, then takes seqs: a module's
// appends thus commit in the order of their seqs, whichever replica makes
// them. A key held by another transaction not yet committed makes this one
// wait for it, so a resend reaching another replica at the same instant
// is still stored once.
func (s *Store) Append(ctx context.Context, in []bridge.NewRecord) ([]bridge.Appended, error) {
	if len(in) == 0 {
		return nil, nil
	}
	var out []bridge.Appended
	var mods []string
	err := pgx.BeginFunc(ctx, s.pool, func(tx pgx.Tx) error {
		var err error
		out, mods, err = s.appendTx(ctx, tx, in)
		return err
	})
	if err != nil {
		return nil, unavailable("append", err)
	}
	s.mu.Lock()
	for _, m := range mods {
		s.known[m] = true
	}
	s.mu.Unlock()
	return out, nil
}

// moduleRow is what an append reads of a module it locked.
type moduleRow struct {
	lastSeen, interval, intervals int64
	head                          []byte // chain head; nil: none yet
}

func (s *Store) appendTx(ctx context.Context, tx pgx.Tx, in []bridge.NewRecord) ([]bridge.Appended, []string, error) {
	mods := make([]string, 0, 4)
	for _, n := range in {
		if !slices.Contains(mods, n.Module) {
			mods = append(mods, n.Module)
		}
	}
	slices.Sort(mods)
	s.mu.Lock()
	var unknown []string
	for _, m := range mods {
		if !s.known[m] {
			unknown = append(unknown, m)
		}
	}
	s.mu.Unlock()
	if len(unknown) > 0 {
		if _, err := tx.Exec(ctx, `INSERT INTO modules (module) SELECT unnest($1::text[]) ON CONFLICT DO NOTHING`, unknown); err != nil {
			return nil, nil, fmt.Errorf("new modules: %w", err)
		}
		if _, err := tx.Exec(ctx, `INSERT INTO leases (module) SELECT unnest($1::text[]) ON CONFLICT DO NOTHING`, unknown); err != nil {
			return nil, nil, fmt.Errorf("new modules: %w", err)
		}
	}
	rows, err := tx.Query(ctx, `SELECT module, last_seen_at, interval_us, intervals, chain_head FROM modules
		WHERE module = ANY($1) ORDER BY module FOR UPDATE`, mods)
	if err != nil {
		return nil, nil, fmt.Errorf("lock modules: %w", err)
	}
	locked := map[string]moduleRow{}
	for rows.Next() {
		var m string
		var r moduleRow
		if err := rows.Scan(&m, &r.lastSeen, &r.interval, &r.intervals, &r.head); err != nil {
			rows.Close()
			return nil, nil, err
		}
		locked[m] = r
	}
	rows.Close()
	if err := rows.Err(); err != nil {
		return nil, nil, fmt.Errorf("lock modules: %w", err)
	}

	out, store, err := s.dedupe(ctx, tx, in)
	if err != nil {
		return nil, nil, err
	}

	// The new records, in call order: unnest yields its arrays in order,
	// and nextval is taken row by row as they come.
	var (
		ids, modules, sessions, keys []string
		datas, hashes, prevs         [][]byte
		recvs                        []int64
	)
	heads := map[string][]byte{} // each module's chain head as the records go in
	for m, r := range locked {
		heads[m] = r.head
		if heads[m] == nil {
			heads[m] = bridge.ZeroHash[:]
		}
	}
	type count struct{ n, last, first int64 }
	counts := map[string]*count{}
	rolls := bridge.RollupSet{}
	for i, n := range in {
		if !store[i] {
			rolls.At(n.ReceivedAt, n.Module).Duplicates++
			continue
		}
		rolls.At(n.ReceivedAt, n.Module).Received++
		ids, modules, sessions, keys = append(ids, n.ID), append(modules, n.Module), append(sessions, n.SessionID), append(keys, n.DedupeKey)
		datas, recvs = append(datas, n.Data), append(recvs, micros(n.ReceivedAt))
		h := bridge.ContentSum(n.Module, n.SessionID, n.Data, bridge.FormatTime(n.ReceivedAt), n.ID)
		hashes, prevs = append(hashes, h[:]), append(prevs, heads[n.Module])
		heads[n.Module] = h[:]
		c := counts[n.Module]
		if c == nil {
			c = &count{}
			counts[n.Module] = c
		}
		c.n++
		c.last = max(c.last, micros(n.ReceivedAt))
		if !n.LoadTest && (c.first == 0 || micros(n.ReceivedAt) < c.first) {
			c.first = micros(n.ReceivedAt)
		}
	}
	b := &pgx.Batch{}
	if len(ids) > 0 {
		b.Queue(`INSERT INTO records (seq, id, module, session_id, data, received_at, next_attempt_at, dedupe_key, hash, prev_hash)
			SELECT nextval('record_seq'), u.id, u.module, u.session_id, u.data, u.recv, u.recv, u.key, u.hash, u.prev
			FROM unnest($1::text[], $2::text[], $3::text[], $4::bytea[], $5::bigint[], $6::text[], $7::bytea[], $8::bytea[])
				AS u(id, module, session_id, data, recv, key, hash, prev)`,
			ids, modules, sessions, datas, recvs, keys, hashes, prevs)
		var cm []string
		var cn, clast, civ, civs []int64
		var chead [][]byte
		for _, m := range mods {
			c := counts[m]
			if c == nil {
				continue
			}
			iv, ivs := learnInterval(locked[m], c.first)
			cm, cn, clast, civ, civs = append(cm, m), append(cn, c.n), append(clast, c.last), append(civ, iv), append(civs, ivs)
			chead = append(chead, heads[m])
		}
		b.Queue(`UPDATE modules m SET received = m.received + u.n, pending = m.pending + u.n,
			last_seen_at = greatest(m.last_seen_at, u.last), interval_us = u.iv, intervals = u.ivs, chain_head = u.head
			FROM unnest($1::text[], $2::bigint[], $3::bigint[], $4::bigint[], $5::bigint[], $6::bytea[]) AS u(module, n, last, iv, ivs, head)
			WHERE m.module = u.module`, cm, cn, clast, civ, civs, chead)
		b.Queue(`SELECT pg_notify($1, '')`, notifyChannel)
	}
	queueRollups(b, rolls)
	if err := tx.SendBatch(ctx, b).Close(); err != nil {
		return nil, nil, fmt.Errorf("insert: %w", err)
	}
	return out, mods, nil
}

// learnInterval is the module's usual interval after a commit whose first
// record (not load test) was received at first (unix µs; 0: none): the
// rule of the SQLite store, on gaps between distinct seconds, up by 1/8 of
// a longer gap's excess, down by 1/32 of a shorter one's.
func learnInterval(m moduleRow, first int64) (int64, int64) {
	const sec = 1_000_000
	if first == 0 || m.lastSeen == 0 || first/sec <= m.lastSeen/sec {
		return m.interval, m.intervals
	}
	gap := (first/sec - m.lastSeen/sec) * sec
	switch {
	case m.intervals == 0 || m.interval < sec:
		return gap, 1
	case gap >= m.interval:
		return m.interval + (gap-m.interval)/8, m.intervals + 1
	default:
		return m.interval - (m.interval-gap)/32, m.intervals + 1
	}
}

// dedupe decides, for each record of in, whether it is stored (store[i])
// or is a duplicate of an original within its DedupeSince (out[i] names
// the original), and refuses the call on a key held with other content.
// The first record of each key in the call goes through the unique index
// of dedupe_keys: an upsert that takes the key when it is free or its
// record is older than the window, and otherwise leaves the original.
func (s *Store) dedupe(ctx context.Context, tx pgx.Tx, in []bridge.NewRecord) ([]bridge.Appended, []bool, error) {
	out := make([]bridge.Appended, len(in))
	store := make([]bool, len(in))
	firstOf := map[string]int{}
	var keys, rids []string
	var recvs, sinces []int64
	for i, n := range in {
		store[i] = true
		out[i] = bridge.Appended{ID: n.ID, SessionID: n.SessionID, ReceivedAt: n.ReceivedAt}
		if n.DedupeKey == "" {
			continue
		}
		if _, seen := firstOf[n.DedupeKey]; seen {
			continue
		}
		firstOf[n.DedupeKey] = i
		keys, rids = append(keys, n.DedupeKey), append(rids, n.ID)
		recvs, sinces = append(recvs, micros(n.ReceivedAt)), append(sinces, micros(n.DedupeSince))
	}
	if len(keys) == 0 {
		return out, store, nil
	}
	rows, err := tx.Query(ctx, `INSERT INTO dedupe_keys AS k (key, record_id, received_at, since)
		SELECT * FROM unnest($1::text[], $2::text[], $3::bigint[], $4::bigint[])
		ON CONFLICT (key) DO UPDATE SET record_id = excluded.record_id, received_at = excluded.received_at, since = excluded.since
		WHERE k.received_at < excluded.since
		RETURNING key`, keys, rids, recvs, sinces)
	if err != nil {
		return nil, nil, fmt.Errorf("dedupe keys: %w", err)
	}
	taken := map[string]bool{}
	for rows.Next() {
		var k string
		if err := rows.Scan(&k); err != nil {
			rows.Close()
			return nil, nil, err
		}
		taken[k] = true
	}
	rows.Close()
	if err := rows.Err(); err != nil {
		return nil, nil, fmt.Errorf("dedupe keys: %w", err)
	}
	// The originals of the keys not taken.
	var held []string
	for _, k := range keys {
		if !taken[k] {
			held = append(held, k)
		}
	}
	orig := map[string]bridge.Record{}
	if len(held) > 0 {
		rows, err := tx.Query(ctx, `SELECT k.key, r.id, r.module, r.session_id, r.data, r.received_at
			FROM dedupe_keys k JOIN records r ON r.id = k.record_id WHERE k.key = ANY($1)`, held)
		if err != nil {
			return nil, nil, fmt.Errorf("dedupe originals: %w", err)
		}
		for rows.Next() {
			var k string
			var r bridge.Record
			var data []byte
			var recv int64
			if err := rows.Scan(&k, &r.ID, &r.Module, &r.SessionID, &data, &recv); err != nil {
				rows.Close()
				return nil, nil, err
			}
			r.Data, r.ReceivedAt = data, fromMicros(recv)
			orig[k] = r
		}
		rows.Close()
		if err := rows.Err(); err != nil {
			return nil, nil, fmt.Errorf("dedupe originals: %w", err)
		}
		for _, k := range held {
			if _, ok := orig[k]; !ok {
				return nil, nil, fmt.Errorf("dedupe key %q names a record that is gone", k)
			}
		}
	}
	// Every keyed record in call order against the key's original so far:
	// the stored one, or the first of this call that was stored.
	for i, n := range in {
		if n.DedupeKey == "" {
			continue
		}
		o, ok := orig[n.DedupeKey]
		if !ok || o.ReceivedAt.Before(n.DedupeSince) {
			if firstOf[n.DedupeKey] != i {
				// A later record of the call outside the window of the
				// key's original in this call: it takes the key.
				if _, err := tx.Exec(ctx, `UPDATE dedupe_keys SET record_id = $2, received_at = $3, since = $4 WHERE key = $1`,
					n.DedupeKey, n.ID, micros(n.ReceivedAt), micros(n.DedupeSince)); err != nil {
					return nil, nil, fmt.Errorf("dedupe key: %w", err)
				}
			}
			orig[n.DedupeKey] = bridge.Record{ID: n.ID, Module: n.Module, SessionID: n.SessionID, Data: n.Data, ReceivedAt: n.ReceivedAt}
			continue
		}
		if field := n.Differs(o.Module, o.SessionID, o.Data); field != "" {
			return nil, nil, bridge.ConflictError(&bridge.KeyConflict{Index: i, OriginalID: o.ID, Field: field})
		}
		store[i] = false
		out[i] = bridge.Appended{ID: o.ID, SessionID: o.SessionID, ReceivedAt: o.ReceivedAt, Duplicate: true}
	}
	return out, store, nil
}
