package server

import (
	"context"
	"encoding/hex"
	"fmt"
	"strings"

	"corebridge/internal/bucket"
)

// ReconcileParams is what Store.Reconcile answers for: the records of
// Module with From <= id < To ("" unbounded), listed when there are at
// most List of them, else split into at most Parts parts. The values are
// used as given (the route applies the defaults).
type ReconcileParams struct {
	Module, From, To string
	Parts, List      int
}

// unit is a piece of a range that is never cut: a slot whose sums cover
// it (level 1 or 2), the records of a slot the range covers in part, read
// one by one (recs), or one record (level 0).
type unit struct {
	from  string // the first id it may hold: its key, or the record's id
	level int
	recs  []unit // a partly covered slot's records
	tally
}

// Reconcile answers GET /v1/reconcile (see bucket.ReconcileAnswer). Parts
// are cut at slot keys, with roughly equal counts, so a part asked for
// again is answered from the sums; only the slots a range covers in part
// (at most two), and a range inside one level-2 slot, are read record by
// record.
func (s *Store) Reconcile(ctx context.Context, p ReconcileParams) (bucket.ReconcileAnswer, error) {
	ans := bucket.ReconcileAnswer{Module: p.Module, From: p.From, To: p.To}
	p.Parts = min(max(p.Parts, 2), bucket.ReconcileMaxParts)
	p.List = min(max(p.List, 0), bucket.ReconcileMaxList)
	for try := 0; ; try++ {
		if err := s.cleanDirty(ctx, p.Module); err != nil {
			return ans, err
		}
		again, err := s.reconcile(ctx, p, &ans)
		if err != nil {
			return ans, fmt.Errorf("reconcile: %w", err)
		}
		// Rows changed behind the Bucket's back between the clean and the
		// read: clean again (a few times; then answer what the read saw).
		if !again || try == 3 {
			return ans, nil
		}
	}
}

func (s *Store) reconcile(ctx context.Context, p ReconcileParams, ans *bucket.ReconcileAnswer) (bool, error) {
	tx, err := s.r.BeginTx(ctx, nil)
	if err != nil {
		return false, err
	}
	defer tx.Rollback()
	if d, err := dirty(ctx, tx, p.Module); err != nil || d {
		return d, err
	}
	if p.To != "" && p.From >= p.To {
		ans.Count, ans.Fingerprint = 0, bucket.Fingerprint{}.String()
		return false, nil
	}
	units, err := rangeUnits(ctx, tx, p)
	if err != nil {
		return false, err
	}
	var total tally
	for _, u := range units {
		total.add(u.tally)
	}
	ans.Count, ans.Fingerprint = total.n, total.fp.String()
	if total.n <= int64(p.List) {
		ans.Records = make([]bucket.ReconcileRecord, 0, total.n)
		return false, scanIDs(ctx, tx, p.Module, p.From, p.To, func(id string, h []byte) bool {
			ans.Records = append(ans.Records, bucket.ReconcileRecord{ID: id, Hash: hex.EncodeToString(h)})
			return true
		})
	}
	if units, err = refine(ctx, tx, p, units, total.n); err != nil {
		return false, err
	}
	ans.Parts = cut(units, p, total.n)
	return false, nil
}

// rangeUnits returns the units that make up [p.From, p.To), in order:
// level-1 slots inside it, level-2 slots inside it of the level-1 slots it
// covers in part, and the records of the level-2 slots it covers in part.
func rangeUnits(ctx context.Context, tx querier, p ReconcileParams) ([]unit, error) {
	coarse, err := readSlots(ctx, tx, p.Module, levelCoarse, slotKey(p.From, coarseChars), p.To, nil)
	if err != nil {
		return nil, err
	}
	var out []unit
	for _, c := range coarse {
		switch covers(c.key, coarseChars, p.From, p.To) {
		case coverAll:
			out = append(out, unit{from: c.key, level: levelCoarse, tally: c.tally})
		case coverPart:
			fine, err := readSlots(ctx, tx, p.Module, levelFine, maxStr(c.key, slotKey(p.From, fineChars)), p.To, inCoarse(c.key))
			if err != nil {
				return nil, err
			}
			for _, f := range fine {
				switch covers(f.key, fineChars, p.From, p.To) {
				case coverAll:
					out = append(out, unit{from: f.key, level: levelFine, tally: f.tally})
				case coverPart:
					u, err := readSlot(ctx, tx, p.Module, f.key, p.From, p.To)
					if err != nil {
						return nil, err
					}
					if u.n > 0 {
						out = append(out, u)
					}
				}
			}
		}
	}
	return out, nil
}

// readSlot reads the records of the level-2 slot fk that are in [from, to).
func readSlot(ctx context.Context, tx querier, module, fk, from, to string) (unit, error) {
	u := unit{from: maxStr(fk, from)}
	err := scanIDs(ctx, tx, module, u.from, to, func(id string, h []byte) bool {
		if slotKey(id, fineChars) != fk {
			return false
		}
		r := unit{from: id, tally: tally{1, digest(id, h)}}
		u.recs = append(u.recs, r)
		u.add(r.tally)
		return true
	})
	return u, err
}

// How much of a slot a range covers.
const (
	coverNone = iota
	coverPart
	coverAll
)

// covers says how much of the slot key (of a level of chars characters)
// [from, to) covers. A slot holds the ids that start with key (the one id
// key when it is shorter than chars): all are >= key, and all are < to
// unless to itself starts with key.
func covers(key string, chars int, from, to string) int {
	if to != "" && key >= to {
		return coverNone
	}
	if isShortKey(key, chars) {
		if key >= from {
			return coverAll
		}
		return coverNone
	}
	low := key >= from
	if !low && !strings.HasPrefix(from, key) {
		return coverNone // from is past the whole slot
	}
	if low && (to == "" || !strings.HasPrefix(to, key)) {
		return coverAll
	}
	return coverPart
}

// refine makes units small enough to cut into parts of about total/Parts
// records: a level-1 slot of more than half that is replaced by its
// level-2 slots; when all records are in one unit, that is read record by
// record (a range inside one level-2 slot).
func refine(ctx context.Context, tx querier, p ReconcileParams, units []unit, total int64) ([]unit, error) {
	target := total / int64(p.Parts)
	var out []unit
	for _, u := range units {
		if u.level != levelCoarse || 2*u.n <= target {
			out = append(out, u)
			continue
		}
		fine, err := readSlots(ctx, tx, p.Module, levelFine, u.from, p.To, inCoarse(u.from))
		if err != nil {
			return nil, err
		}
		for _, f := range fine {
			out = append(out, unit{from: f.key, level: levelFine, tally: f.tally})
		}
	}
	if len(out) != 1 {
		return out, nil
	}
	switch u := out[0]; {
	case u.level == levelFine:
		r, err := readSlot(ctx, tx, p.Module, u.from, p.From, p.To)
		if err != nil {
			return nil, err
		}
		return r.recs, nil
	case u.recs != nil:
		return u.recs, nil
	}
	return out, nil
}

// cut splits units, in order, into at most p.Parts parts with about equal
// counts, cutting only between units; the parts cover [p.From, p.To).
func cut(units []unit, p ReconcileParams, total int64) []bucket.ReconcilePart {
	var parts []bucket.ReconcilePart
	var cur tally
	from := p.From
	left := total
	closeAt := func(to string) {
		parts = append(parts, bucket.ReconcilePart{From: from, To: to, Count: cur.n, Fingerprint: cur.fp.String()})
		left -= cur.n
		from, cur = to, tally{}
	}
	for _, u := range units {
		if cur.n > 0 && len(parts) < p.Parts-1 {
			// The goal of this part: an equal share of what is left.
			goal := (left + int64(p.Parts-len(parts)) - 1) / int64(p.Parts-len(parts))
			if cur.n >= goal || cur.n+u.n-goal > goal-cur.n {
				closeAt(u.from)
			}
		}
		cur.add(u.tally)
	}
	closeAt(p.To)
	return parts
}
