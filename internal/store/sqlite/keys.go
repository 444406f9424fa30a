package sqlite

import (
	"context"
	"crypto/sha256"
	"database/sql"
	"encoding/hex"
	"fmt"
	"sync"
)

// digest is what memory keeps of a dedupe key: 16 bytes. The keys ingest
// makes (bridge.Update.DedupeKey) are 32 hex digits, which decode to
// exactly that; any other key is hashed (sha256, first 16 bytes). Two
// different keys share a digest only by chance, at about 2^-128.
type digest [16]byte

func digestOf(key string) digest {
	var d digest
	if len(key) == 2*len(d) && isLowerHex(key) {
		if _, err := hex.Decode(d[:], []byte(key)); err == nil {
			return d
		}
	}
	sum := sha256.Sum256([]byte(key))
	copy(d[:], sum[:])
	return d
}

func isLowerHex(s string) bool {
	for i := 0; i < len(s); i++ {
		if c := s[i]; (c < '0' || c > '9') && (c < 'a' || c > 'f') {
			return false
		}
	}
	return true
}

// keydir is the dedupe index, which absorbs duplicates, in memory: the seq
// of the record that holds each stored key. A unique index in SQLite did
// the same job, but its keys are random, so every record of a commit
// dirtied a page of its own, and ingest slowed as the store grew. The keys
// stay in records.dedupe_key; the keydir is read from them (through the
// records_seq_key index, which grows only at its end) when the store opens
// and kept in step by every write that adds or deletes records. Those hold
// mu across their transaction: they share one write connection anyway, so
// mu adds no wait. The map holds no pointers, so the garbage collector does
// not walk it: ~40 bytes a stored key.
type keydir struct {
	mu sync.Mutex
	m  map[digest]int64
}

const (
	qCountKeys = `SELECT count(*) FROM records INDEXED BY records_seq_key WHERE dedupe_key IS NOT NULL`
	qLoadKeys  = `SELECT seq, dedupe_key FROM records INDEXED BY records_seq_key WHERE dedupe_key IS NOT NULL`
)

// DedupeKeys is how many dedupe keys the store holds in memory.
func (s *Store) DedupeKeys() int {
	s.keys.mu.Lock()
	defer s.keys.mu.Unlock()
	return len(s.keys.m)
}

// loadKeys reads every stored key into memory.
func loadKeys(ctx context.Context, db *sql.DB) (map[digest]int64, error) {
	var n int64
	if err := db.QueryRowContext(ctx, qCountKeys).Scan(&n); err != nil {
		return nil, fmt.Errorf("load dedupe keys: %w", err)
	}
	m := make(map[digest]int64, n)
	rows, err := db.QueryContext(ctx, qLoadKeys)
	if err != nil {
		return nil, fmt.Errorf("load dedupe keys: %w", err)
	}
	defer rows.Close()
	var seq int64
	var key sql.RawBytes
	for rows.Next() {
		if err := rows.Scan(&seq, &key); err != nil {
			return nil, fmt.Errorf("load dedupe keys: %w", err)
		}
		m[digestOf(string(key))] = seq
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("load dedupe keys: %w", err)
	}
	return m, nil
}

// keyAt is a deleted record's key, for drop.
type keyAt struct {
	key digest
	seq int64
}

// deleteRecords runs q, a DELETE on records that returns module, seq and
// dedupe_key. It adds the deleted records per module to perModule and
// returns their keys, for drop once the transaction commits.
func deleteRecords(ctx context.Context, tx *sql.Tx, perModule map[string]int64, q string, args ...any) ([]keyAt, error) {
	rows, err := tx.QueryContext(ctx, q, args...)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	var gone []keyAt
	for rows.Next() {
		var module string
		var seq int64
		var key sql.NullString
		if err := rows.Scan(&module, &seq, &key); err != nil {
			return nil, err
		}
		perModule[module]++
		if key.Valid {
			gone = append(gone, keyAt{digestOf(key.String), seq})
		}
	}
	return gone, rows.Err()
}

// drop forgets the keys of committed deletions. A key that now points to
// another record (stored again after its original went) stays.
func (d *keydir) drop(keys []keyAt) {
	for _, k := range keys {
		if d.m[k.key] == k.seq {
			delete(d.m, k.key)
		}
	}
}
