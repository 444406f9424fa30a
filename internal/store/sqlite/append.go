package sqlite

import (
	"context"
	"database/sql"
	"fmt"

	"corebridge/internal/bridge"
)

// Append stores recs in one transaction; see bridge.Store. A storage
// fault (a full disk, an I/O error, a read-only file) is an EUNAVAILABLE
// error that says which.
func (s *Store) Append(ctx context.Context, recs []bridge.NewRecord) ([]bridge.Appended, error) {
	out, err := s.AppendDeferred(ctx, recs)
	if err != nil {
		return nil, err
	}
	if err := s.Sync(ctx); err != nil {
		return nil, err
	}
	return out, nil
}

func (s *Store) append(ctx context.Context, recs []bridge.NewRecord) ([]bridge.Appended, error) {
	if len(recs) == 0 {
		return nil, nil
	}
	out := make([]bridge.Appended, len(recs))
	// The dedupe index (keydir) follows the commit; hold it until the
	// commit is done or undone.
	s.keys.mu.Lock()
	defer s.keys.mu.Unlock()
	tx, err := s.w.BeginTx(ctx, nil)
	if err != nil {
		return nil, fmt.Errorf("append: begin: %w", err)
	}
	defer tx.Rollback()
	ins, err := s.ws.stmt(ctx, tx, qInsertRecord)
	if err != nil {
		return nil, fmt.Errorf("append: prepare: %w", err)
	}

	type counter struct{ n, firstSeen, lastSeen int64 }
	perModule := map[string]*counter{}
	rollups := bridge.RollupSet{}
	// This call's new keys: their seq, and where they are in out.
	type added struct {
		seq, at int64
		i       int
	}
	var fresh map[digest]added
	var order []digest // fresh's keys in seq order, as the keydir takes them
	var last int64     // the seq of the last record inserted
	heads := s.chainHeads()
	for i, r := range recs {
		var key digest
		var keyArg any // NULL without a key
		if r.DedupeKey != "" {
			key, keyArg = digestOf(r.DedupeKey), r.DedupeKey
			if a, ok := fresh[key]; ok {
				dup, err := sameCall(recs, a.i, i)
				if err != nil {
					return nil, err
				}
				if dup {
					out[i] = out[a.i]
					out[i].Duplicate = true
					rollups.At(r.ReceivedAt, r.Module).Duplicates++
					continue
				}
			} else {
				a, found, err := s.lookup(ctx, tx, key, r, i)
				if err != nil {
					return nil, err
				}
				if found {
					out[i] = a
					rollups.At(r.ReceivedAt, r.Module).Duplicates++
					continue
				}
			}
		}
		link := heads.next(r)
		res, err := ins.ExecContext(ctx, r.ID, r.Module, r.SessionID, []byte(r.Data),
			micros(r.ReceivedAt), micros(r.ReceivedAt), keyArg, link.hash[:], link.prev[:], link.skipArg())
		if err != nil {
			return nil, fmt.Errorf("append: insert: %w", err)
		}
		n, err := res.RowsAffected()
		if err != nil {
			return nil, err
		}
		if n == 0 {
			return nil, bridge.Errorf(bridge.ECONFLICT, "record id %q already exists", r.ID)
		}
		seq, err := res.LastInsertId()
		if err != nil {
			return nil, err
		}
		last = seq
		if r.DedupeKey != "" {
			if fresh == nil {
				fresh = map[digest]added{}
			}
			fresh[key] = added{seq, micros(r.ReceivedAt), i}
			order = append(order, key)
		}
		out[i] = bridge.Appended{ID: r.ID, SessionID: r.SessionID, ReceivedAt: r.ReceivedAt}
		rollups.At(r.ReceivedAt, r.Module).Received++
		c := perModule[r.Module]
		if c == nil {
			c = &counter{}
			perModule[r.Module] = c
		}
		c.n++
		if at := micros(r.ReceivedAt); !r.LoadTest && (c.firstSeen == 0 || at < c.firstSeen) {
			c.firstSeen = at // 0 while only load-test records: nothing learnt
		}
		c.lastSeen = max(c.lastSeen, micros(r.ReceivedAt))
	}
	// The counters: one statement for every module of the commit, one for
	// every rollup row (and one to create the modules never seen before).
	var fresh0 []string
	var counts, arrivals []byte
	for m, c := range perModule {
		if !s.knownModule(m) {
			fresh0 = append(fresh0, m)
		}
		counts = appendCounts(counts, m, c.n, c.lastSeen, c.firstSeen, heads.head(m))
	}
	for _, r := range rollups {
		arrivals = appendArrivals(arrivals, minuteOf(r.Minute), r.Module, r.Received, r.Duplicates)
	}
	if len(fresh0) > 0 {
		if _, err := s.ws.exec(ctx, tx, qNewModules, jsonStrings(fresh0)); err != nil {
			return nil, fmt.Errorf("append: new modules: %w", err)
		}
	}
	if counts != nil {
		if _, err := s.ws.exec(ctx, tx, qCountModules, string(append(counts, ']'))); err != nil {
			return nil, fmt.Errorf("append: count modules: %w", err)
		}
	}
	if arrivals != nil {
		if _, err := s.ws.exec(ctx, tx, qAddArrivalsJSON, string(append(arrivals, ']'))); err != nil {
			return nil, fmt.Errorf("append: rollups: %w", err)
		}
	}
	// A step of the dedupe keys on their way to disk shares the commit.
	pos, flushed, err := s.flushStep(ctx, tx, max(flushPerRecord*len(recs), flushMinStep))
	if err != nil {
		return nil, fmt.Errorf("append: %w", err)
	}
	if err := tx.Commit(); err != nil {
		return nil, fmt.Errorf("append: commit: %w", err)
	}
	raise(&s.committedSeq, last)
	s.knowModules(fresh0)
	heads.commit()
	s.keys.advance(pos, flushed)
	for _, k := range order {
		a := fresh[k]
		s.keys.add(k, a.seq, a.at)
	}
	return out, nil
}

// lookup finds the stored record that key stands for and decides what
// r, the i-th record of the call, is to it (see original): the latest
// that memory or a run points to and that is still there.
func (s *Store) lookup(ctx context.Context, tx *sql.Tx, key digest, r bridge.NewRecord, i int) (a bridge.Appended, found bool, err error) {
	for _, seq := range s.keys.inMemory(key) {
		if a, found, err = s.original(ctx, tx, seq, key, r, i); found || err != nil {
			return a, found, err
		}
	}
	since := sinceOf(r)
	accept := func(seq int64) (bool, error) {
		var ok bool
		a, ok, err = s.original(ctx, tx, seq, key, r, i)
		return ok, err
	}
	g := s.keys.global.Load()
	p, probed := r.Probe.(*probe)
	switch {
	case probed && p.s == s && p.key == key:
		// A probe (ProbeDedupe) asked the runs there were before r
		// queued; the ones added since are asked here, first, as they
		// are newer.
		if found, err = s.inRuns(ctx, tx, g, key, since, p.version, accept); found || err != nil {
			return a, found, err
		}
		for _, seq := range p.seqs {
			if found, err = accept(seq); found || err != nil {
				return a, found, err
			}
		}
	case g != nil:
		seqs, err := s.inGlobal(ctx, tx, g, s.keys.runs, key, since)
		if err != nil {
			return a, false, err
		}
		for _, seq := range seqs {
			if found, err = accept(seq); found || err != nil {
				return a, found, err
			}
		}
	default:
		if found, err = s.inRuns(ctx, tx, nil, key, since, 0, accept); found || err != nil {
			return a, found, err
		}
	}
	return a, false, nil
}

// sinceOf is r.DedupeSince in microseconds; 0 (no window: every run may
// hold the original) when unset.
func sinceOf(r bridge.NewRecord) int64 {
	if r.DedupeSince.IsZero() {
		return 0
	}
	return micros(r.DedupeSince)
}

// original reads the stored record that key (found in memory at seq)
// stands for, and decides what r, the i-th record of the call, is to it.
// found is true when r is its duplicate. It is false when that record is
// gone (a run keeps the keys of deleted records until the whole run
// goes; it is checked so that the index can never make a new record a
// duplicate of nothing) or was received
// before r.DedupeSince: then r is stored, and the key moves to it. An
// original within the window that holds another update is a KeyConflict.
func (s *Store) original(ctx context.Context, tx *sql.Tx, seq int64, key digest, r bridge.NewRecord, i int) (a bridge.Appended, found bool, err error) {
	var at int64
	var module, stored string
	var data []byte
	rows, err := s.ws.query(ctx, tx, qFindOriginal, seq)
	if err != nil {
		return a, false, fmt.Errorf("append: find original: %w", err)
	}
	defer rows.Close()
	if !rows.Next() {
		return a, false, rows.Err()
	}
	if err := rows.Scan(&a.ID, &module, &a.SessionID, &data, &at, &stored); err != nil {
		return a, false, fmt.Errorf("append: find original: %w", err)
	}
	if digestOf(stored) != key {
		return a, false, nil
	}
	if !r.DedupeSince.IsZero() && at < micros(r.DedupeSince) {
		return a, false, nil // past its window: r is new
	}
	if field := r.Differs(module, a.SessionID, data); field != "" {
		return a, false, bridge.ConflictError(&bridge.KeyConflict{Index: i, OriginalID: a.ID, Field: field})
	}
	a.ReceivedAt = fromMicros(at)
	a.Duplicate = true
	return a, true, nil
}

// sameCall decides what recs[i] is to recs[first], an earlier record of
// the same call with its key: its duplicate (true), a new record when the
// first is before recs[i].DedupeSince (false), or a KeyConflict.
func sameCall(recs []bridge.NewRecord, first, i int) (bool, error) {
	o, r := recs[first], recs[i]
	if !r.DedupeSince.IsZero() && o.ReceivedAt.Before(r.DedupeSince) {
		return false, nil
	}
	if field := r.Differs(o.Module, o.SessionID, o.Data); field != "" {
		return false, bridge.ConflictError(&bridge.KeyConflict{Index: i, OriginalID: o.ID, Field: field})
	}
	return true, nil
}
