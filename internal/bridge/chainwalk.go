package bridge

import (
	"bytes"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"sort"
	"time"
)

// ChainRow is one stored record as Verify reads it.
type ChainRow struct {
	Seq        int64
	ID         string
	Module     string
	SessionID  string
	Data       []byte
	ReceivedAt time.Time
	// Hash and PrevHash as stored: both nil for a record accepted before
	// the chain existed.
	Hash, PrevHash []byte
	Edits          []ChainEdit // oldest first
}

// ChainWalk is a Verify's walk, the same for every store: give it each
// record in seq order (Record), then each module's head (Head), and read
// the Report. How a store notes the runs that pruning or a purge deleted
// differs; each call takes it as stepsOver(from, to): whether the store
// attests that the records chained from hash `from` up to hash `to` were
// deleted by corebridge.
type ChainWalk struct {
	rep      VerifyReport
	last     map[string][]byte // module → hash of its last chained record seen
	broken   map[string]bool
	progress func(int64)
}

// NewChainWalk starts a walk; progress, if not nil, is called every
// 100,000 records and at the end.
func NewChainWalk(progress func(records int64)) *ChainWalk {
	return &ChainWalk{last: map[string][]byte{}, broken: map[string]bool{}, progress: progress}
}

// Record checks r against its hash, its edit history and the record
// chained before it.
func (w *ChainWalk) Record(r ChainRow, stepsOver func(from, to []byte) bool) {
	w.rep.Records++
	if w.progress != nil && w.rep.Records%100000 == 0 {
		w.progress(w.rep.Records)
	}
	if r.Hash == nil && r.PrevHash == nil {
		w.rep.Unchained++
		return
	}
	if w.broken[r.Module] {
		return
	}
	fail := func(why string, a ...any) {
		w.broken[r.Module] = true
		w.rep.Breaks = append(w.rep.Breaks, ChainBreak{Module: r.Module, RecordID: r.ID, Seq: r.Seq,
			Reason: fmt.Sprintf("record %s (seq %d, module %s): ", r.ID, r.Seq, r.Module) + fmt.Sprintf(why, a...)})
	}
	if len(r.Hash) != sha256.Size || len(r.PrevHash) != sha256.Size {
		fail("its hash or prev_hash is not 32 bytes: the row was changed behind corebridge's back")
		return
	}
	if len(r.Edits) > 0 {
		w.rep.Edited++
	}
	if why := CheckContent(r.Module, r.SessionID, r.Data, r.ReceivedAt, r.ID, r.Hash, r.Edits); why != "" {
		fail("%s", why)
		return
	}
	want := w.lastOf(r.Module)
	switch {
	case bytes.Equal(r.PrevHash, want):
	case stepsOver(want, r.PrevHash):
		w.rep.Skips++
	default:
		fail("the record chained before it is missing (its prev_hash is %s…): a record was deleted behind corebridge's back, or this row's chain was changed",
			hex.EncodeToString(r.PrevHash[:6]))
		return
	}
	w.last[r.Module] = r.Hash
}

// Head checks that module's last chained record is its head (the hash
// of the last record it accepted), or that the records after it were
// deleted by corebridge.
func (w *ChainWalk) Head(module string, head []byte, stepsOver func(from, to []byte) bool) {
	w.rep.Modules++
	if w.broken[module] {
		return
	}
	if got := w.lastOf(module); !bytes.Equal(got, head) && !stepsOver(got, head) {
		w.broken[module] = true
		w.rep.Breaks = append(w.rep.Breaks, ChainBreak{Module: module, Reason: fmt.Sprintf(
			"module %s: its last record(s) are missing (the chain's head is %s…, not the last record found): deleted behind corebridge's back",
			module, hex.EncodeToString(head[:min(6, len(head))]))})
	}
}

func (w *ChainWalk) lastOf(module string) []byte {
	if h := w.last[module]; h != nil {
		return h
	}
	return ZeroHash[:]
}

// Report is what the walk found, breaks in module order.
func (w *ChainWalk) Report() VerifyReport {
	rep := w.rep
	rep.Breaks = append([]ChainBreak{}, w.rep.Breaks...)
	sort.Slice(rep.Breaks, func(i, j int) bool { return rep.Breaks[i].Module < rep.Breaks[j].Module })
	if w.progress != nil {
		w.progress(rep.Records)
	}
	return rep
}
