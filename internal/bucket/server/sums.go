package server

import (
	"context"
	"database/sql"
	"encoding/binary"
	"fmt"
	"strings"
	"unicode/utf8"

	"corebridge/internal/bucket"
)

// Reconciliation sums. The id space of a module is cut into slots by the
// first characters of the id: level 1 by 8 (for a UUIDv7 the top 32 bits
// of its millisecond clock, about 65 s), level 2 by 11 (40 bits, 256 ms).
// An id shorter than that is a slot of its own. A slot is a contiguous
// range of ids in byte order, starting at its key, and the slots of a
// level are in the order of their keys, so a cut at a slot key splits no
// slot. recon_sums keeps, per module and slot, the count and the XOR of
// the digests of the records held there. Put adds what it stores in the
// same transaction (one upsert per touched slot); the triggers of
// migration 0003 mark the slots of rows deleted or changed by anyone else,
// and cleanDirty recomputes those before an answer is made.
const (
	coarseChars = 8
	fineChars   = 11
	levelCoarse = 1
	levelFine   = 2
)

// slotKey is the key of id's slot at a level of chars characters: its
// first chars characters, as SQL's substr(id, 1, chars) counts them.
func slotKey(id string, chars int) string {
	n := 0
	for i := range id {
		if n == chars {
			return id[:i]
		}
		n++
	}
	return id
}

// isShortKey: a key of fewer than chars characters is the slot of that
// one id.
func isShortKey(key string, chars int) bool { return utf8.RuneCountInString(key) < chars }

// tally is a count and a fingerprint.
type tally struct {
	n  int64
	fp bucket.Fingerprint
}

func (s *tally) add(o tally) {
	s.n += o.n
	s.fp.Add(o.fp)
}

// fpInts is the fingerprint as the four columns f0..f3.
func fpInts(fp bucket.Fingerprint) [4]int64 {
	var v [4]int64
	for i := range v {
		v[i] = int64(binary.BigEndian.Uint64(fp[8*i:]))
	}
	return v
}

func fpFromInts(v [4]int64) bucket.Fingerprint {
	var fp bucket.Fingerprint
	for i := range v {
		binary.BigEndian.PutUint64(fp[8*i:], uint64(v[i]))
	}
	return fp
}

// digest is a held record's part of a fingerprint; hash is its stored
// hash (nil or empty for none).
func digest(id string, hash []byte) bucket.Fingerprint {
	var h [32]byte
	copy(h[:], hash)
	return bucket.Fingerprint(bucket.RecordDigest(id, h))
}

// slotID names a slot.
type slotID struct {
	module string
	level  int
	key    string
}

// batchSums gathers the sums of the records a Put stores, per slot.
type batchSums map[slotID]*tally

func (b batchSums) add(module, id string, hash []byte) {
	d := tally{n: 1, fp: digest(id, hash)}
	for _, l := range [...]struct{ level, chars int }{{levelCoarse, coarseChars}, {levelFine, fineChars}} {
		k := slotID{module, l.level, slotKey(id, l.chars)}
		if s := b[k]; s != nil {
			s.add(d)
		} else {
			c := d
			b[k] = &c
		}
	}
}

// addSumsSQL folds a slot's new records into its row: n added, f0..f3
// XORed ((a | b) & ~(a & b): SQLite has no XOR operator).
const addSumsSQL = `INSERT INTO recon_sums (module, level, slot, n, f0, f1, f2, f3) VALUES (?, ?, ?, ?, ?, ?, ?, ?)
	ON CONFLICT (module, level, slot) DO UPDATE SET n = n + excluded.n,
	f0 = (f0 | excluded.f0) & ~(f0 & excluded.f0), f1 = (f1 | excluded.f1) & ~(f1 & excluded.f1),
	f2 = (f2 | excluded.f2) & ~(f2 & excluded.f2), f3 = (f3 | excluded.f3) & ~(f3 & excluded.f3)`

// write adds the batch's sums to recon_sums inside tx.
func (b batchSums) write(ctx context.Context, tx *sql.Tx) error {
	if len(b) == 0 {
		return nil
	}
	st, err := tx.PrepareContext(ctx, addSumsSQL)
	if err != nil {
		return fmt.Errorf("put: reconcile sums: %w", err)
	}
	defer st.Close()
	for k, s := range b {
		f := fpInts(s.fp)
		if _, err := st.ExecContext(ctx, k.module, k.level, k.key, s.n, f[0], f[1], f[2], f[3]); err != nil {
			return fmt.Errorf("put: reconcile sums: %w", err)
		}
	}
	return nil
}

// querier is a *sql.Tx or a *sql.DB.
type querier interface {
	QueryContext(ctx context.Context, query string, args ...any) (*sql.Rows, error)
}

// scanIDs calls fn with the id and hash of module's records with
// lo <= id < hi (hi "" unbounded), in id order, while fn returns true.
func scanIDs(ctx context.Context, q querier, module, lo, hi string, fn func(id string, hash []byte) bool) error {
	query := `SELECT id, hash FROM records WHERE module = ? AND id >= ?`
	args := []any{module, lo}
	if hi != "" {
		query += ` AND id < ?`
		args = append(args, hi)
	}
	rows, err := q.QueryContext(ctx, query+` ORDER BY id`, args...)
	if err != nil {
		return err
	}
	defer rows.Close()
	for rows.Next() {
		var id string
		var h []byte
		if err := rows.Scan(&id, &h); err != nil {
			return err
		}
		if !fn(id, h) {
			return nil
		}
	}
	return rows.Err()
}

// slotRow is one row of recon_sums.
type slotRow struct {
	key string
	tally
}

// readSlots returns module's rows of level with lo <= slot < hi (hi ""
// unbounded), in slot order, while keep returns true.
func readSlots(ctx context.Context, q querier, module string, level int, lo, hi string, keep func(key string) bool) ([]slotRow, error) {
	query := `SELECT slot, n, f0, f1, f2, f3 FROM recon_sums WHERE module = ? AND level = ? AND slot >= ?`
	args := []any{module, level, lo}
	if hi != "" {
		query += ` AND slot < ?`
		args = append(args, hi)
	}
	rows, err := q.QueryContext(ctx, query+` ORDER BY slot`, args...)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	var out []slotRow
	for rows.Next() {
		var r slotRow
		var f [4]int64
		if err := rows.Scan(&r.key, &r.n, &f[0], &f[1], &f[2], &f[3]); err != nil {
			return nil, err
		}
		if keep != nil && !keep(r.key) {
			break
		}
		r.fp = fpFromInts(f)
		out = append(out, r)
	}
	return out, rows.Err()
}

// inCoarse keeps the level-2 keys of the level-1 slot ck.
func inCoarse(ck string) func(string) bool {
	return func(fk string) bool { return slotKey(fk, coarseChars) == ck }
}

// dirty reports whether module has slots marked dirty.
func dirty(ctx context.Context, q querier, module string) (bool, error) {
	rows, err := q.QueryContext(ctx, `SELECT 1 FROM recon_dirty WHERE module = ? LIMIT 1`, module)
	if err != nil {
		return false, err
	}
	defer rows.Close()
	found := rows.Next()
	return found, rows.Err()
}

// cleanDirty recomputes module's dirty level-2 slots from their records,
// and their level-1 slots from their level-2 slots, in transactions of up
// to 256 slots on the write connection (between two Puts).
func (s *Store) cleanDirty(ctx context.Context, module string) error {
	for {
		done, err := s.cleanSome(ctx, module, 256)
		if err != nil {
			return fmt.Errorf("reconcile: recompute sums: %w", err)
		}
		if done {
			return nil
		}
	}
}

func (s *Store) cleanSome(ctx context.Context, module string, max int) (bool, error) {
	tx, err := s.w.BeginTx(ctx, nil)
	if err != nil {
		return false, err
	}
	defer tx.Rollback()
	rows, err := tx.QueryContext(ctx, `SELECT slot FROM recon_dirty WHERE module = ? ORDER BY slot LIMIT ?`, module, max)
	if err != nil {
		return false, err
	}
	var keys []string
	for rows.Next() {
		var k string
		if err := rows.Scan(&k); err != nil {
			rows.Close()
			return false, err
		}
		keys = append(keys, k)
	}
	rows.Close()
	if err := rows.Err(); err != nil || len(keys) == 0 {
		return len(keys) == 0, err
	}
	var coarse []string
	for _, fk := range keys {
		var sm tally
		err := scanIDs(ctx, tx, module, fk, "", func(id string, h []byte) bool {
			if slotKey(id, fineChars) != fk {
				return false
			}
			sm.add(tally{1, digest(id, h)})
			return true
		})
		if err != nil {
			return false, err
		}
		if err := setSlot(ctx, tx, module, levelFine, fk, sm); err != nil {
			return false, err
		}
		if _, err := tx.ExecContext(ctx, `DELETE FROM recon_dirty WHERE module = ? AND slot = ?`, module, fk); err != nil {
			return false, err
		}
		if ck := slotKey(fk, coarseChars); len(coarse) == 0 || coarse[len(coarse)-1] != ck {
			coarse = append(coarse, ck) // keys are in order: a level-1 slot's come together
		}
	}
	for _, ck := range coarse {
		fine, err := readSlots(ctx, tx, module, levelFine, ck, "", inCoarse(ck))
		if err != nil {
			return false, err
		}
		var sm tally
		for _, r := range fine {
			sm.add(r.tally)
		}
		if err := setSlot(ctx, tx, module, levelCoarse, ck, sm); err != nil {
			return false, err
		}
	}
	return len(keys) < max, tx.Commit()
}

// setSlot replaces a slot's row (none when it holds no record).
func setSlot(ctx context.Context, tx *sql.Tx, module string, level int, key string, sm tally) error {
	if sm.n == 0 {
		_, err := tx.ExecContext(ctx, `DELETE FROM recon_sums WHERE module = ? AND level = ? AND slot = ?`, module, level, key)
		return err
	}
	f := fpInts(sm.fp)
	_, err := tx.ExecContext(ctx, `INSERT OR REPLACE INTO recon_sums (module, level, slot, n, f0, f1, f2, f3) VALUES (?, ?, ?, ?, ?, ?, ?, ?)`,
		module, level, key, sm.n, f[0], f[1], f[2], f[3])
	return err
}

// maxStr is the greater of two strings.
func maxStr(a, b string) string {
	if strings.Compare(a, b) >= 0 {
		return a
	}
	return b
}
