package storetest

import (
	"context"
	"slices"
	"strings"
	"time"

	"corebridge/internal/bridge"
)

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
		m := *s.mods[name]
		m.OldestDead, m.DeadFirst = s.deadHead(name)
		out = append(out, m)
	}
	return out, nil
}

func (s *Mem) Prune(_ context.Context, p bridge.PruneParams) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if !p.AttemptsBefore.IsZero() {
		k := 0
		s.tries = slices.DeleteFunc(s.tries, func(a bridge.Attempt) bool {
			if k < p.Limit && a.At.Before(p.AttemptsBefore) && !s.coversDead(a) {
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
	s.deleteRecs(func(r *bridge.Record) bool {
		if n < p.Limit && r.State == bridge.StateSynced && r.SyncedAt.Before(p.SyncedBefore) {
			n++
			delete(s.byID, r.ID)
			delete(s.edits, r.ID)
			for k, o := range s.byKey {
				if o == r {
					delete(s.byKey, k)
				}
			}
			return true
		}
		return false
	}, true)
	return n, nil
}

// coversDead says whether attempt a included a record that is dead now: a
// dead letter keeps its history until replayed or purged.
func (s *Mem) coversDead(a bridge.Attempt) bool {
	for _, r := range s.recs {
		if r.Module == a.Module && r.State == bridge.StateDead && r.Seq >= a.FirstSeq && r.Seq <= a.LastSeq {
			return true
		}
	}
	return false
}

// deadHead returns module's oldest dead record ("" if none) and whether it
// precedes every pending record of the module, some being pending.
func (s *Mem) deadHead(module string) (string, bool) {
	dead, pendingFirst := "", false
	for _, r := range s.recs {
		if r.Module != module {
			continue
		}
		switch {
		case r.State == bridge.StatePending && dead == "":
			pendingFirst = true
		case r.State == bridge.StatePending:
			return dead, !pendingFirst
		case r.State == bridge.StateDead && dead == "":
			dead = r.ID
		}
	}
	return dead, false
}
