package storetest

import (
	"bytes"
	"context"
	"encoding/hex"
	"sort"
	"time"

	"corebridge/internal/bridge"
)

// Mem's chain (bridge/chain.go), kept the way the SQLite store keeps it:
// hashes on the records, a skip on the record after a deleted run, a
// head and a skip per module.
type memChain struct {
	heads    map[string]string // module → hash of its last record
	modSkip  map[string]string // module → skip its next record inherits
	skips    map[string]string // record id → skip_from
	prunedID map[string]string // module → greatest id pruned
}

func (c *memChain) init() {
	if c.heads == nil {
		c.heads, c.modSkip, c.skips, c.prunedID = map[string]string{}, map[string]string{}, map[string]string{}, map[string]string{}
	}
}

// link chains r, just appended, after its module's head.
func (s *Mem) link(r *bridge.Record) {
	s.chain.init()
	r.Hash = r.ContentHash()
	r.PrevHash = s.chain.heads[r.Module]
	if r.PrevHash == "" {
		r.PrevHash = bridge.ZeroHashHex
	}
	if sk, ok := s.chain.modSkip[r.Module]; ok {
		s.chain.skips[r.ID] = sk
		delete(s.chain.modSkip, r.Module)
	}
	s.chain.heads[r.Module] = r.Hash
}

// deleteRecs deletes the records doomed says (called once per record, in
// seq order) and keeps the chains whole across them; floor moves the
// modules' pruned ids.
func (s *Mem) deleteRecs(doomed func(*bridge.Record) bool, floor bool) {
	s.chain.init()
	runFrom := map[string]string{}
	kept := s.recs[:0]
	for _, r := range s.recs {
		if !doomed(r) {
			if f, ok := runFrom[r.Module]; ok {
				s.chain.skips[r.ID] = f
				delete(runFrom, r.Module)
			}
			kept = append(kept, r)
			continue
		}
		if _, ok := runFrom[r.Module]; !ok {
			f, ok := s.chain.skips[r.ID]
			if !ok {
				f = r.PrevHash
			}
			runFrom[r.Module] = f
		}
		delete(s.chain.skips, r.ID)
		if floor {
			s.chain.prunedID[r.Module] = max(s.chain.prunedID[r.Module], r.ID)
		}
	}
	for m, f := range runFrom {
		s.chain.modSkip[m] = f
	}
	clear(s.recs[len(kept):])
	s.recs = kept
}

// Verify walks the chains (bridge.ChainWalk); see bridge.Verifier.
func (s *Mem) Verify(_ context.Context, module string, progress func(int64)) (bridge.VerifyReport, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.chain.init()
	unhex := func(h string) []byte {
		if h == "" {
			return nil
		}
		b, _ := hex.DecodeString(h)
		return b
	}
	// A skip (where a deleted run began) steps over to whatever follows.
	skipFrom := func(sk string, ok bool) func(from, _ []byte) bool {
		return func(from, _ []byte) bool { return ok && bytes.Equal(unhex(sk), from) }
	}
	w := bridge.NewChainWalk(progress)
	for _, r := range s.recs {
		if module != "" && r.Module != module {
			continue
		}
		var edits []bridge.ChainEdit
		for _, e := range s.edits[r.ID] {
			edits = append(edits, bridge.ChainEdit{Old: e.OldData, New: e.NewData})
		}
		sk, ok := s.chain.skips[r.ID]
		w.Record(bridge.ChainRow{Seq: r.Seq, ID: r.ID, Module: r.Module, SessionID: r.SessionID, Data: r.Data,
			ReceivedAt: r.ReceivedAt, Hash: unhex(r.Hash), PrevHash: unhex(r.PrevHash), Edits: edits}, skipFrom(sk, ok))
	}
	mods := make([]string, 0, len(s.chain.heads))
	for m := range s.chain.heads {
		if module == "" || m == module {
			mods = append(mods, m)
		}
	}
	sort.Strings(mods)
	for _, m := range mods {
		sk, ok := s.chain.modSkip[m]
		w.Head(m, unhex(s.chain.heads[m]), skipFrom(sk, ok))
	}
	return w.Report(), nil
}

// ReconcileFloor: see bridge.Reconcilable.
func (s *Mem) ReconcileFloor(_ context.Context, module string) (string, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.chain.init()
	return s.chain.prunedID[module], nil
}

// ScanIDs: see bridge.Reconcilable. It copies under the lock, then calls fn.
func (s *Mem) ScanIDs(ctx context.Context, module, from, to string, fn func(bridge.HeldRecord) error) error {
	s.mu.Lock()
	var out []bridge.HeldRecord
	for _, r := range s.recs {
		if r.Module != module || r.ID < from || (to != "" && r.ID >= to) {
			continue
		}
		out = append(out, bridge.HeldRecord{ID: r.ID, State: r.State, ReceivedAt: r.ReceivedAt,
			Hash: bridge.ContentSum(r.Module, r.SessionID, r.Data, bridge.FormatTime(r.ReceivedAt), r.ID)})
	}
	s.mu.Unlock()
	sort.Slice(out, func(i, j int) bool { return out[i].ID < out[j].ID })
	for _, h := range out {
		if err := ctx.Err(); err != nil {
			return err
		}
		if err := fn(h); err != nil {
			return err
		}
	}
	return nil
}

// Requeue: see bridge.Reconcilable.
func (s *Mem) Requeue(_ context.Context, module string, ids []string, now time.Time) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	n := 0
	for _, id := range ids {
		r := s.byID[id]
		if r == nil || r.Module != module || r.State != bridge.StateSynced {
			continue
		}
		r.State, r.Attempts, r.NextAttemptAt, r.LastError, r.SyncedAt = bridge.StatePending, 0, now, "", time.Time{}
		m := s.mod(module)
		m.Synced--
		m.Pending++
		s.st.Synced--
		s.st.Pending++
		n++
	}
	return n, nil
}

var (
	_ bridge.Verifier     = (*Mem)(nil)
	_ bridge.Reconcilable = (*Mem)(nil)
)
