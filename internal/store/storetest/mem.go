package storetest

import (
	"context"
	"fmt"
	"sync"
	"time"

	"corebridge/internal/bridge"
)

// Mem is a plain in-memory Store that holds the contract: it passes this
// suite (which is how the suite itself is checked), so tests whose subject
// is not SQLite can use it instead of a file. Close keeps everything and
// the same value can be used again, which stands for opening the store
// anew. Not for production: nothing survives the process, and every Lease
// walks all the records.
type Mem struct {
	mu      sync.Mutex
	recs    []*bridge.Record // in Seq order
	byID    map[string]*bridge.Record
	byKey   map[string]*bridge.Record
	leases  map[string]memLease
	mods    map[string]*bridge.ModuleSummary
	st      bridge.Stats
	tries   []bridge.Attempt // in the order recorded
	nextSeq int64
	nextID  int
	rolls   bridge.RollupSet
	edits   map[string][]bridge.Edit
	audit   []bridge.AuditEntry // in Seq order, Seq = index + 1
	chain   memChain
}

type memLease struct {
	id       string
	owner    string
	epoch    int64
	deadline time.Time // from time.Now: compared on the monotonic clock
}

func (l memLease) live() bool { return time.Now().Before(l.deadline) }

var _ bridge.Store = (*Mem)(nil)

// NewMem returns an empty Mem.
func NewMem() *Mem {
	return &Mem{byID: map[string]*bridge.Record{}, byKey: map[string]*bridge.Record{},
		leases: map[string]memLease{}, mods: map[string]*bridge.ModuleSummary{},
		rolls: bridge.RollupSet{}, edits: map[string][]bridge.Edit{}}
}

func (s *Mem) Append(_ context.Context, in []bridge.NewRecord) ([]bridge.Appended, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	for _, n := range in {
		if s.byID[n.ID] != nil {
			return nil, bridge.Errorf(bridge.ECONFLICT, "id %s exists", n.ID)
		}
	}
	if err := s.checkKeys(in); err != nil {
		return nil, err
	}
	out := make([]bridge.Appended, len(in))
	first := map[string]time.Time{} // each module's first new record of this call
	prev := map[string]time.Time{}  // each module's last seen before this call
	for i, n := range in {
		if o := s.byKey[n.DedupeKey]; n.DedupeKey != "" && o != nil && !o.ReceivedAt.Before(n.DedupeSince) {
			out[i] = bridge.Appended{ID: o.ID, SessionID: o.SessionID, ReceivedAt: o.ReceivedAt, Duplicate: true}
			s.roll(n.ReceivedAt, n.Module).Duplicates++
			continue
		}
		s.roll(n.ReceivedAt, n.Module).Received++
		if _, ok := prev[n.Module]; !ok {
			prev[n.Module] = s.mod(n.Module).LastSeenAt
		}
		if f, ok := first[n.Module]; !n.LoadTest && (!ok || n.ReceivedAt.Before(f)) {
			first[n.Module] = n.ReceivedAt
		}
		s.nextSeq++
		r := &bridge.Record{ID: n.ID, Seq: s.nextSeq, Module: n.Module, SessionID: n.SessionID,
			Data: n.Data, ReceivedAt: n.ReceivedAt, NextAttemptAt: n.ReceivedAt}
		s.link(r)
		s.recs, s.byID[n.ID] = append(s.recs, r), r
		if n.DedupeKey != "" {
			s.byKey[n.DedupeKey] = r
		}
		m := s.mod(n.Module)
		m.Received++
		m.Pending++
		if n.ReceivedAt.After(m.LastSeenAt) {
			m.LastSeenAt = n.ReceivedAt
		}
		s.st.Received++
		s.st.Pending++
		out[i] = bridge.Appended{ID: n.ID, SessionID: n.SessionID, ReceivedAt: n.ReceivedAt}
	}
	// The rule of the SQLite store's qCountModule: gaps between distinct
	// seconds, up by 1/8 of the excess, down by 1/32.
	for name, f := range first {
		m, last := s.mod(name), prev[name]
		gap := time.Duration(f.Unix()-last.Unix()) * time.Second
		switch {
		case last.IsZero() || gap <= 0:
			continue
		case m.Intervals == 0 || m.Interval < time.Second:
			m.Interval, m.Intervals = gap, 0
		case gap >= m.Interval:
			m.Interval += (gap - m.Interval) / 8
		default:
			m.Interval -= (m.Interval - gap) / 32
		}
		m.Intervals++
	}
	return out, nil
}

// checkKeys finds, before anything is stored, a record of in whose key
// an original within its DedupeSince holds with another content (the
// KeyConflict that refuses the whole call).
func (s *Mem) checkKeys(in []bridge.NewRecord) error {
	call := map[string]bridge.Record{} // the originals this call would store
	for i, n := range in {
		if n.DedupeKey == "" {
			continue
		}
		o, ok := call[n.DedupeKey]
		if r := s.byKey[n.DedupeKey]; !ok && r != nil {
			o, ok = *r, true
		}
		if ok && !o.ReceivedAt.Before(n.DedupeSince) {
			if field := n.Differs(o.Module, o.SessionID, o.Data); field != "" {
				return bridge.ConflictError(&bridge.KeyConflict{Index: i, OriginalID: o.ID, Field: field})
			}
			continue
		}
		call[n.DedupeKey] = bridge.Record{ID: n.ID, Module: n.Module, SessionID: n.SessionID, Data: n.Data, ReceivedAt: n.ReceivedAt}
	}
	return nil
}

func (s *Mem) mod(name string) *bridge.ModuleSummary {
	if s.mods[name] == nil {
		s.mods[name] = &bridge.ModuleSummary{Module: name}
	}
	return s.mods[name]
}

func (s *Mem) Lease(_ context.Context, p bridge.LeaseParams) (*bridge.Lease, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	seen := map[string]bool{}
	for _, head := range s.recs {
		if head.State != bridge.StatePending || seen[head.Module] {
			continue
		}
		seen[head.Module] = true
		if l, ok := s.leases[head.Module]; !p.Due(head.NextAttemptAt) || ok && l.live() {
			continue
		}
		strict := p.Strict.Has(head.Module)
		if _, first := s.deadHead(head.Module); strict && first {
			continue // blocked by a dead record (--strict-order)
		}
		s.nextID++
		deadline := time.Now().Add(p.TTL)
		l := &bridge.Lease{ID: fmt.Sprint("L", s.nextID), Module: head.Module, Owner: p.Owner, Epoch: int64(s.nextID), Expires: deadline}
		size := 0
		for _, r := range s.recs {
			if r.Seq < head.Seq || r.Module != head.Module {
				continue
			}
			if strict && r.State == bridge.StateDead {
				break
			}
			if r.State != bridge.StatePending {
				continue
			}
			if len(l.Records) == p.MaxRecords || len(l.Records) > 0 && p.MaxBytes > 0 && size+len(r.Data) > p.MaxBytes {
				break
			}
			size += len(r.Data)
			l.Records = append(l.Records, *r)
		}
		// On the monotonic clock, as the SQLite store: a wall-clock step
		// does not end a lease in flight.
		s.leases[head.Module] = memLease{l.ID, p.Owner, l.Epoch, deadline}
		return l, nil
	}
	return nil, nil
}

func (s *Mem) Settle(_ context.Context, st bridge.Settlement) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if l, ok := s.leases[st.Module]; !ok || l.id != st.LeaseID || !l.live() {
		return bridge.LeaseLostError(st.Module, st.LeaseID, 0)
	}
	delete(s.leases, st.Module)
	if len(st.Synced)+len(st.Dead)+len(st.Retry) == 0 && st.Attempt == nil {
		return nil // a release: no rollup row, as the SQLite store writes none
	}
	m := s.mod(st.Module)
	roll := s.roll(st.Now, st.Module)
	done := func(id string, state bridge.State, lastErr string) {
		r := s.byID[id]
		r.Attempts++
		r.State, r.LastError = state, lastErr
		m.Pending--
		s.st.Pending--
	}
	for _, id := range st.Synced {
		done(id, bridge.StateSynced, s.byID[id].LastError)
		// The latest sync, as the SQLite store keeps it: settles need not
		// come in time order.
		s.byID[id].SyncedAt = st.Now
		if st.Now.After(m.LastSyncAt) {
			m.LastSyncAt = st.Now
		}
		if st.Now.After(s.st.LastSyncAt) {
			s.st.LastSyncAt = st.Now
		}
		m.Synced++
		s.st.Synced++
		roll.ObserveLatency(st.Now.Sub(s.byID[id].ReceivedAt))
	}
	for _, d := range st.Dead {
		done(d.ID, bridge.StateDead, d.Reason)
		m.Dead++
		m.DeadTotal++
		s.st.Dead++
		roll.Dead++
	}
	for _, id := range st.Retry {
		roll.Failed++
		r := s.byID[id]
		r.Attempts++
		r.NextAttemptAt, r.LastError = st.RetryAt, st.Error
	}
	if a := st.Attempt; a != nil {
		c := *a
		c.Latency = c.Latency.Truncate(time.Microsecond)
		s.tries = append(s.tries, c)
	}
	return nil
}

func (s *Mem) ExtendLease(_ context.Context, l *bridge.Lease, ttl time.Duration) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	m, ok := s.leases[l.Module]
	if !ok || m.id != l.ID || !m.live() {
		return bridge.LeaseLostError(l.Module, l.ID, l.Epoch)
	}
	m.deadline = time.Now().Add(ttl)
	s.leases[l.Module] = m
	l.Expires = m.deadline
	return nil
}

func (s *Mem) ReleaseLeases(_ context.Context, owner string) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	n := 0
	for m, l := range s.leases {
		if l.owner == owner {
			delete(s.leases, m)
			n++
		}
	}
	return n, nil
}

// Ping does nothing: memory is always writable.
func (s *Mem) Ping(context.Context) error { return nil }

// Close does nothing: the contents stay, and the store can be used again as
// if opened anew.
func (s *Mem) Close() error { return nil }
