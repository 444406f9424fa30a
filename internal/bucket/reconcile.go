package bucket

import (
	"crypto/sha256"
	"encoding/binary"
	"encoding/hex"
	"errors"
)

// The reconciliation extension of the Bucket protocol (docs/protocol.md,
// "Reconciliation"): GET /v1/reconcile answers, for one module and a range
// of record ids, how many records the Bucket holds there and a
// fingerprint of them; split into parts of the Bucket's choosing while
// the range is large, listed record by record once it is small. A sender
// compares with what it holds, and splits only the parts that differ
// (range-based set reconciliation), so a million records with one
// difference take a handful of requests.
//
// GET /v1/reconcile/chain reports, per module, the records whose prev_hash
// names a record the Bucket does not hold (gaps in the chain).

// Reconcile parameter defaults and bounds.
const (
	ReconcileDefaultParts = 16
	ReconcileMaxParts     = 64
	ReconcileDefaultList  = 64
	ReconcileMaxList      = 1000
)

// ZeroHash is the prev_hash of a module's first record: 64 zeros.
const ZeroHash = "0000000000000000000000000000000000000000000000000000000000000000"

// ReconcileQuery is what GET /v1/reconcile asks: the records of Module
// with From <= id < To (byte order of the id text; "" is unbounded).
type ReconcileQuery struct {
	Module string
	From   string
	To     string
	// Parts is how many parts at most a range too large to list is split
	// into (2..ReconcileMaxParts; 0 is ReconcileDefaultParts).
	Parts int
	// List: a range holding at most this many records is listed instead
	// (0..ReconcileMaxList; 0 is ReconcileDefaultList).
	List int
}

// ReconcileAnswer is the 200 answer of GET /v1/reconcile.
//
// Count and Fingerprint are those of the whole range. When Count <= the
// query's List, Records lists every record of the range in id order and
// Parts is empty. Otherwise Parts splits the range: Parts[0].From is the
// query's From, each part's To is the next part's From, the last part's
// To is the query's To; a part may be empty. The Bucket chooses the
// boundaries (the reference Bucket cuts where its sums are kept, so that
// asking for a part again costs it no scan).
type ReconcileAnswer struct {
	Module      string            `json:"module"`
	From        string            `json:"from"`
	To          string            `json:"to"`
	Count       int64             `json:"count"`
	Fingerprint string            `json:"fingerprint"`
	Parts       []ReconcilePart   `json:"parts,omitempty"`
	Records     []ReconcileRecord `json:"records,omitempty"`
}

// ReconcilePart is one part of a split range.
type ReconcilePart struct {
	From        string `json:"from"`
	To          string `json:"to"`
	Count       int64  `json:"count"`
	Fingerprint string `json:"fingerprint"`
}

// ReconcileRecord is one record of a listed range: its id and the content
// hash the Bucket holds for it ("" for a record stored without one).
type ReconcileRecord struct {
	ID   string `json:"id"`
	Hash string `json:"hash"`
}

// ChainReport is the 200 answer of GET /v1/reconcile/chain?module=M: how
// many records of the module the Bucket holds, how many of those carry a
// prev_hash, and the gaps: records whose prev_hash is neither ZeroHash nor
// the hash (or first_hash) of a record of the module the Bucket holds.
// Gaps lists the first ones in id order, at most the query's limit.
type ChainReport struct {
	Module  string     `json:"module"`
	Records int64      `json:"records"`
	Chained int64      `json:"chained"`
	Gaps    int64      `json:"gaps"`
	First   []ChainGap `json:"first"`
}

// ChainGap is a record whose predecessor the Bucket does not hold.
type ChainGap struct {
	ID       string `json:"id"`
	PrevHash string `json:"prev_hash"`
}

// Fingerprint is the XOR of the digests of a set of records; the empty
// set's is all zeros. XOR makes it independent of order and lets a sum be
// kept up to date as records come and go.
type Fingerprint [sha256.Size]byte

// RecordDigest is one record's part of a fingerprint: the SHA-256 of the
// id's length (8 bytes, big-endian), the id's bytes, and the 32 bytes of
// its content hash (32 zero bytes for a record without one).
func RecordDigest(id string, hash [sha256.Size]byte) [sha256.Size]byte {
	var buf [8 + 64 + sha256.Size]byte
	b := binary.BigEndian.AppendUint64(buf[:0], uint64(len(id)))
	b = append(b, id...)
	b = append(b, hash[:]...)
	return sha256.Sum256(b)
}

// Add folds a record's digest in (and, XOR being its own inverse, takes it
// out again).
func (f *Fingerprint) Add(d [sha256.Size]byte) {
	for i := range f {
		f[i] ^= d[i]
	}
}

// String is the fingerprint as 64 lowercase hex digits.
func (f Fingerprint) String() string { return hex.EncodeToString(f[:]) }

// ParseHash reads 64 hex digits (either case) into 32 bytes; "" is 32
// zero bytes (a record held without a hash).
func ParseHash(s string) ([sha256.Size]byte, error) {
	var h [sha256.Size]byte
	if s == "" {
		return h, nil
	}
	if len(s) != 2*sha256.Size {
		return h, errors.New("not 64 hex digits")
	}
	if _, err := hex.Decode(h[:], []byte(s)); err != nil {
		return h, errors.New("not 64 hex digits")
	}
	return h, nil
}
