package sqlite

import (
	"context"

	"corebridge/internal/bridge"
)

// probe is what ProbeDedupe found in the runs for one record's key.
type probe struct {
	s       *Store
	key     digest
	version uint64  // the runs of this runView.version were asked
	seqs    []int64 // what they hold for key, newest run first
}

var _ bridge.DedupeProber = (*Store)(nil)

// ProbeDedupe asks the runs on disk for the records' keys (their filters
// and, where one says maybe, its block, on the read pool) without taking
// any lock the commit holds, so producers probe in parallel and Append
// asks only memory and the runs written since (lookup). At ten million
// keys stored, the runs were a sixth of serve's CPU, all of it on the one
// path that commits. A key whose probe fails is looked up in full.
func (s *Store) ProbeDedupe(ctx context.Context, recs []bridge.NewRecord) {
	v := s.keys.view.Load()
	if v == nil {
		return
	}
	// After the view: a view without the runs' own filters comes after
	// the global filter that stands for them.
	g := s.keys.global.Load()
	for i := range recs {
		r := &recs[i]
		if r.DedupeKey == "" {
			continue
		}
		p := &probe{s: s, key: digestOf(r.DedupeKey), version: v.version}
		if err := s.probeKey(ctx, v, g, p, sinceOf(*r)); err == nil {
			r.Probe = p
		}
	}
}

func (s *Store) probeKey(ctx context.Context, v *runView, g *global, p *probe, since int64) error {
	if g != nil {
		seqs, err := s.inGlobal(ctx, nil, g, v.runs, p.key, since)
		p.seqs = seqs
		return err
	}
	for _, run := range v.runs {
		seq, held, err := s.askRun(ctx, nil, run, p.key, since)
		if err != nil {
			return err
		}
		if held {
			p.seqs = append(p.seqs, seq)
		}
	}
	return nil
}
