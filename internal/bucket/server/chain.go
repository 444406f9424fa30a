package server

import (
	"bytes"
	"context"
	"encoding/hex"
	"fmt"

	"corebridge/internal/bucket"
)

// Chain report limits (GET /v1/reconcile/chain?limit=).
const (
	DefaultChainLimit = 100
	MaxChainLimit     = 1000
)

// Chain answers GET /v1/reconcile/chain: module's records, how many carry
// a prev_hash, and the gaps: records whose prev_hash is neither ZeroHash
// nor the hash or first_hash of a record of module the Bucket holds; the
// first limit of them in id order.
//
// It is computed on demand, without an index on hashes (which would cost
// every insert a random B-tree write): one pass over the module in id
// order checks each prev_hash against the record just before it, which is
// where a whole chain finds it; only the records that fail that are
// checked in a second pass against all the module's hashes.
func (s *Store) Chain(ctx context.Context, module string, limit int) (bucket.ChainReport, error) {
	rep := bucket.ChainReport{Module: module, First: []bucket.ChainGap{}}
	limit = min(max(limit, 1), MaxChainLimit)
	tx, err := s.r.BeginTx(ctx, nil)
	if err != nil {
		return rep, fmt.Errorf("chain: %w", err)
	}
	defer tx.Rollback()
	type candidate struct {
		id   string
		prev [32]byte
	}
	var cands []candidate
	want := map[[32]byte]bool{} // prev_hashes not found next door: found yet?
	var last, lastFirst []byte
	err = walkChain(ctx, tx, module, func(id string, hash, prev, first []byte) {
		rep.Records++
		if len(prev) > 0 {
			rep.Chained++
			if !bytes.Equal(prev, zeroHash[:]) && !bytes.Equal(prev, last) && !bytes.Equal(prev, lastFirst) {
				c := candidate{id: id, prev: [32]byte(pad32(prev))}
				cands = append(cands, c)
				want[c.prev] = false
			}
		}
		last, lastFirst = hash, first
	})
	if err != nil {
		return rep, fmt.Errorf("chain: %w", err)
	}
	if len(cands) > 0 {
		err = walkChain(ctx, tx, module, func(_ string, hash, _, first []byte) {
			for _, h := range [][]byte{hash, first} {
				if len(h) == 32 {
					if _, ok := want[[32]byte(h)]; ok {
						want[[32]byte(h)] = true
					}
				}
			}
		})
		if err != nil {
			return rep, fmt.Errorf("chain: %w", err)
		}
	}
	for _, c := range cands {
		if want[c.prev] {
			continue
		}
		rep.Gaps++
		if len(rep.First) < limit {
			rep.First = append(rep.First, bucket.ChainGap{ID: c.id, PrevHash: hex.EncodeToString(c.prev[:])})
		}
	}
	return rep, nil
}

var zeroHash [32]byte

// pad32 is b as 32 bytes (a stored hash always is).
func pad32(b []byte) []byte {
	if len(b) == 32 {
		return b
	}
	var h [32]byte
	copy(h[:], b)
	return h[:]
}

// walkChain calls fn with each record of module in id order.
func walkChain(ctx context.Context, q querier, module string, fn func(id string, hash, prev, first []byte)) error {
	rows, err := q.QueryContext(ctx, `SELECT id, hash, prev_hash, first_hash FROM records WHERE module = ? ORDER BY id`, module)
	if err != nil {
		return err
	}
	defer rows.Close()
	for rows.Next() {
		var id string
		var hash, prev, first []byte
		if err := rows.Scan(&id, &hash, &prev, &first); err != nil {
			return err
		}
		fn(id, hash, prev, first)
	}
	return rows.Err()
}
