package bridge

import (
	"bytes"
	"context"
	"crypto/sha256"
	"time"
)

// The tamper-evident log (issue 18, docs/protocol.md "The chain").
//
// Every record gets its content hash when it is accepted (Record.Hash) and
// names the hash of the record its module accepted just before it
// (Record.PrevHash; ZeroHash for a module's first record). A row changed
// behind corebridge's back no longer matches its hash; a row deleted
// behind its back leaves its successor naming a hash that is not there.
//
// What corebridge itself changes stays verifiable:
//   - an edit of a dead letter's data is kept in the store's edit history
//     (old and new data): the record's Hash stays the hash at acceptance,
//     the history leads from that content to the data it holds now;
//   - pruning and purging delete records: the store notes, on the next
//     record of the module that it keeps (or on the module when none
//     follows), the PrevHash of the first record deleted ahead of it, so
//     the chain skips the deleted run as an attested checkpoint;
//   - dead letters, replays and requeues change a record's state, never
//     its hash or its place in the chain.

// ZeroHash is the PrevHash of a module's first record: 32 zero bytes.
var ZeroHash [sha256.Size]byte

// ZeroHashHex is ZeroHash as 64 hex digits.
const ZeroHashHex = "0000000000000000000000000000000000000000000000000000000000000000"

// Verifier walks a store's chain. Stores that keep one implement it.
type Verifier interface {
	// Verify checks every record of module ("" for all) against its
	// hash, its edit history and its predecessor, and each module's head
	// against its last record. progress, if not nil, is called now and
	// then with the records checked so far.
	Verify(ctx context.Context, module string, progress func(records int64)) (VerifyReport, error)
}

// VerifyReport is what Verify found.
type VerifyReport struct {
	Modules   int   `json:"modules"`
	Records   int64 `json:"records"`   // records checked
	Unchained int64 `json:"unchained"` // accepted before the chain existed: not checked
	Edited    int64 `json:"edited"`    // records whose edits were followed
	Skips     int64 `json:"skips"`     // pruned or purged runs the chain steps over
	// Breaks holds the first break of each module that has one, in
	// module order. Empty: the chain is whole.
	Breaks []ChainBreak `json:"breaks"`
}

// ChainBreak is where a module's chain stops holding.
type ChainBreak struct {
	Module   string `json:"module"`
	RecordID string `json:"record_id,omitempty"` // "" when the break is after the last record
	Seq      int64  `json:"seq,omitempty"`
	Reason   string `json:"reason"`
}

// ChainEdit is one recorded edit of a record's data, oldest first.
type ChainEdit struct{ Old, New []byte }

// CheckContent says why a stored record does not match its hash at
// acceptance, "" when it does: with edits, the record's content at
// acceptance is the first edit's old data, and the edits must lead, one
// to the next, to the data it holds now.
func CheckContent(module, sessionID string, data []byte, receivedAt time.Time, id string, hash []byte, edits []ChainEdit) string {
	orig := data
	if len(edits) > 0 {
		orig = edits[0].Old
		ok := bytes.Equal(edits[len(edits)-1].New, data)
		for k := 1; k < len(edits); k++ {
			ok = ok && bytes.Equal(edits[k-1].New, edits[k].Old)
		}
		if !ok {
			return "its data is not what its recorded edits left: the row or its edit history was changed behind corebridge's back"
		}
	}
	if sum := ContentSum(module, sessionID, orig, FormatTime(receivedAt), id); !bytes.Equal(sum[:], hash) {
		return "its content does not match its hash: the row was changed behind corebridge's back"
	}
	return ""
}

// Reconcilable is what reconciliation with the Bucket (package reconcile)
// needs from a store.
type Reconcilable interface {
	// ReconcileFloor is the greatest id of module that pruning removed
	// ("" if none): the Bucket keeps records the bridge no longer does,
	// so reconciliation starts above it.
	ReconcileFloor(ctx context.Context, module string) (string, error)
	// ScanIDs calls fn with each record of module whose id is in
	// [from, to) ("" unbounded), in id order (byte order of the text).
	// It stops at fn's first error and returns it.
	ScanIDs(ctx context.Context, module, from, to string, fn func(HeldRecord) error) error
	// Requeue puts synced records of module back in its queue, as
	// pending, keeping their ids: reconciliation's repair of records the
	// Bucket does not hold. They are due at now. Ids that are not synced
	// records of module are skipped. It returns how many it requeued.
	Requeue(ctx context.Context, module string, ids []string, now time.Time) (int, error)
}

// HeldRecord is a record as reconciliation sees it.
type HeldRecord struct {
	ID    string
	State State // StateSynced, StatePending (waiting or in flight) or StateDead
	// Hash is the content hash of the record as it is sent now (its data
	// after any edit): what a Bucket that stored it holds.
	Hash [sha256.Size]byte
	// ReceivedAt, for reports.
	ReceivedAt time.Time
}
