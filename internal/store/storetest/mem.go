package storetest

import (
	"context"
	"fmt"
	"slices"
	"strings"
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
}

type memLease struct {
	id      string
	owner   string
	expires time.Time
}

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
	out := make([]bridge.Appended, len(in))
	first := map[string]time.Time{} // each module's first new record of this call
	prev := map[string]time.Time{}  // each module's last seen before this call
	for i, n := range in {
		if o := s.byKey[n.DedupeKey]; n.DedupeKey != "" && o != nil {
			out[i] = bridge.Appended{ID: o.ID, SessionID: o.SessionID, ReceivedAt: o.ReceivedAt, Duplicate: true}
			s.roll(n.ReceivedAt, n.Module).Duplicates++
			continue
		}
		s.roll(n.ReceivedAt, n.Module).Received++
		if f, ok := first[n.Module]; !ok || n.ReceivedAt.Before(f) {
			if !ok {
				prev[n.Module] = s.mod(n.Module).LastSeenAt
			}
			first[n.Module] = n.ReceivedAt
		}
		s.nextSeq++
		r := &bridge.Record{ID: n.ID, Seq: s.nextSeq, Module: n.Module, SessionID: n.SessionID,
			Data: n.Data, ReceivedAt: n.ReceivedAt, NextAttemptAt: n.ReceivedAt}
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
	for name, f := range first {
		m, last := s.mod(name), prev[name]
		if gap := f.Sub(last); !last.IsZero() && gap > 0 {
			if m.Intervals == 0 {
				m.Interval = gap
			} else {
				m.Interval += (gap - m.Interval) / 8
			}
			m.Intervals++
		}
	}
	return out, nil
}

func (s *Mem) roll(t time.Time, module string) *bridge.Rollup { return s.rolls.At(t, module) }

func (s *Mem) Rollups(_ context.Context, q bridge.RollupQuery) ([]bridge.Rollup, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	var out []bridge.Rollup
	for _, r := range s.rolls {
		if r.Minute.Before(q.To) && r.Minute.Add(time.Minute).After(q.From) {
			out = append(out, *r)
		}
	}
	slices.SortFunc(out, func(a, b bridge.Rollup) int {
		if c := a.Minute.Compare(b.Minute); c != 0 {
			return c
		}
		return strings.Compare(a.Module, b.Module)
	})
	return out, nil
}

func (s *Mem) AddRollups(_ context.Context, rs []bridge.Rollup) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	for i := range rs {
		s.roll(rs[i].Minute, rs[i].Module).Add(&rs[i])
	}
	return nil
}

func (s *Mem) EditDead(_ context.Context, p bridge.EditParams) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	r := s.byID[p.ID]
	if r == nil || r.State != bridge.StateDead {
		return bridge.Errorf(bridge.ENOTFOUND, "no dead letter has id %q", p.ID)
	}
	s.edits[p.ID] = append(s.edits[p.ID], bridge.Edit{At: p.Now, OldData: r.Data, NewData: p.Data, Note: p.Note})
	r.Data = p.Data
	return nil
}

func (s *Mem) Edits(_ context.Context, id string) ([]bridge.Edit, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return slices.Clone(s.edits[id]), nil
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
		if l, ok := s.leases[head.Module]; head.NextAttemptAt.After(p.Now) || ok && p.Now.Before(l.expires) {
			continue
		}
		s.nextID++
		l := &bridge.Lease{ID: fmt.Sprint("L", s.nextID), Module: head.Module, Expires: p.Now.Add(p.TTL)}
		size := 0
		for _, r := range s.recs {
			if r.Seq < head.Seq || r.Module != head.Module || r.State != bridge.StatePending {
				continue
			}
			if len(l.Records) == p.MaxRecords || len(l.Records) > 0 && p.MaxBytes > 0 && size+len(r.Data) > p.MaxBytes {
				break
			}
			size += len(r.Data)
			l.Records = append(l.Records, *r)
		}
		s.leases[head.Module] = memLease{l.ID, p.Owner, l.Expires}
		return l, nil
	}
	return nil, nil
}

func (s *Mem) Settle(_ context.Context, st bridge.Settlement) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if l, ok := s.leases[st.Module]; ok && l.id == st.LeaseID {
		delete(s.leases, st.Module)
	}
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

func (s *Mem) Attempts(_ context.Context, recordID string) ([]bridge.Attempt, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	r := s.byID[recordID]
	if r == nil {
		return nil, bridge.Errorf(bridge.ENOTFOUND, "record %s not found", recordID)
	}
	var out []bridge.Attempt
	for _, a := range s.tries {
		if a.Module == r.Module && a.FirstSeq <= r.Seq && r.Seq <= a.LastSeq {
			out = append(out, a)
		}
	}
	slices.SortStableFunc(out, func(x, y bridge.Attempt) int { return x.At.Compare(y.At) })
	return out, nil
}

func (s *Mem) AttemptCounts(_ context.Context, since time.Time) (map[string]int64, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	out := map[string]int64{}
	for _, a := range s.tries {
		if !a.At.Before(since) {
			out[a.Outcome]++
		}
	}
	return out, nil
}

// pick reports whether p selects r, by the first selector given.
func pick(p bridge.ReplayParams, r *bridge.Record) bool {
	switch {
	case len(p.IDs) > 0:
		return slices.Contains(p.IDs, r.ID)
	case p.Module != "":
		return r.Module == p.Module
	}
	return p.All
}

func (s *Mem) PurgeDead(_ context.Context, p bridge.ReplayParams) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if len(p.IDs) == 0 && p.Module == "" && !p.All {
		return 0, bridge.Errorf(bridge.EINVALID, "purge: give ids, a module, or all")
	}
	n := 0
	s.recs = slices.DeleteFunc(s.recs, func(r *bridge.Record) bool {
		if r.State != bridge.StateDead || !pick(p, r) {
			return false
		}
		delete(s.byID, r.ID)
		for k, o := range s.byKey {
			if o == r {
				delete(s.byKey, k)
			}
		}
		s.mod(r.Module).Dead--
		s.st.Dead--
		delete(s.edits, r.ID)
		n++
		return true
	})
	return n, nil
}

func (s *Mem) ReplayDead(_ context.Context, p bridge.ReplayParams) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	n := 0
	for _, r := range s.recs {
		if !pick(p, r) || r.State != bridge.StateDead {
			continue
		}
		r.State, r.Attempts, r.NextAttemptAt = bridge.StatePending, 0, p.Now
		m := s.mod(r.Module)
		m.Dead--
		m.Pending++
		m.Replayed++
		s.roll(p.Now, r.Module).Replayed++
		s.st.Dead--
		s.st.Pending++
		n++
	}
	return n, nil
}

func (s *Mem) ListDead(_ context.Context, q bridge.DeadQuery) ([]bridge.Record, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	var out []bridge.Record
	for _, r := range s.recs {
		if r.State == bridge.StateDead && r.Seq > q.AfterSeq && (q.Module == "" || q.Module == r.Module) && len(out) < q.Limit {
			out = append(out, *r)
		}
	}
	return out, nil
}

func (s *Mem) Get(_ context.Context, id string) (bridge.Record, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if r := s.byID[id]; r != nil {
		return *r, nil
	}
	return bridge.Record{}, bridge.Errorf(bridge.ENOTFOUND, "record %s not found", id)
}

func (s *Mem) Stats(context.Context) (bridge.Stats, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	st := s.st
	for _, r := range s.recs {
		if r.State == bridge.StatePending {
			st.OldestPendingAt = r.ReceivedAt
			break
		}
	}
	return st, nil
}

func (s *Mem) Modules(context.Context) ([]bridge.ModuleSummary, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	var out []bridge.ModuleSummary
	for _, name := range slices.Sorted(func(yield func(string) bool) {
		for k := range s.mods {
			if !yield(k) {
				return
			}
		}
	}) {
		out = append(out, *s.mods[name])
	}
	return out, nil
}

func (s *Mem) Prune(_ context.Context, p bridge.PruneParams) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if !p.AttemptsBefore.IsZero() {
		k := 0
		s.tries = slices.DeleteFunc(s.tries, func(a bridge.Attempt) bool {
			if k < p.Limit && a.At.Before(p.AttemptsBefore) {
				k++
				return true
			}
			return false
		})
	}
	if !p.RollupsBefore.IsZero() {
		for k, r := range s.rolls {
			if r.Minute.Before(bridge.Minute(p.RollupsBefore)) {
				delete(s.rolls, k)
			}
		}
	}
	n := 0
	s.recs = slices.DeleteFunc(s.recs, func(r *bridge.Record) bool {
		if n < p.Limit && r.State == bridge.StateSynced && r.SyncedAt.Before(p.SyncedBefore) {
			n++
			delete(s.byID, r.ID)
			for k, o := range s.byKey {
				if o == r {
					delete(s.byKey, k)
				}
			}
			return true
		}
		return false
	})
	return n, nil
}

// Ping does nothing: memory is always writable.
func (s *Mem) Ping(context.Context) error { return nil }

// Close does nothing: the contents stay, and the store can be used again as
// if opened anew.
func (s *Mem) Close() error { return nil }
