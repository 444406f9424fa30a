package storetest

import (
	"context"
	"slices"

	"corebridge/internal/bridge"
)

func (s *Mem) EditDead(_ context.Context, p bridge.EditParams) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	r := s.byID[p.ID]
	if r == nil || r.State != bridge.StateDead {
		return bridge.Errorf(bridge.ENOTFOUND, "no dead letter has id %q", p.ID)
	}
	s.edits[p.ID] = append(s.edits[p.ID], bridge.Edit{At: p.Now, OldData: r.Data, NewData: p.Data, Note: p.Note, Author: p.Author})
	r.Data = p.Data
	return nil
}

func (s *Mem) Edits(_ context.Context, id string) ([]bridge.Edit, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return slices.Clone(s.edits[id]), nil
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
	s.deleteRecs(func(r *bridge.Record) bool {
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
	}, false)
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
