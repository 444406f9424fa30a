package bridge

import (
	"encoding/json"
	"fmt"
	"time"
)

// State is where a record is in its life: pending until the Bucket confirms
// it (synced) or it is given up on (dead). A dead record can be replayed,
// which makes it pending again.
type State int

const (
	StatePending State = 0
	StateSynced  State = 1
	StateDead    State = 2
)

func (s State) String() string {
	switch s {
	case StatePending:
		return "pending"
	case StateSynced:
		return "synced"
	case StateDead:
		return "dead"
	}
	return fmt.Sprintf("State(%d)", int(s))
}

// MarshalText makes states read as words in JSON.
func (s State) MarshalText() ([]byte, error) { return []byte(s.String()), nil }

// Record is one accepted update on its way to the Bucket.
type Record struct {
	ID            string          `json:"id"`
	Seq           int64           `json:"seq"` // acceptance order within this store
	Module        string          `json:"module"`
	SessionID     string          `json:"session_id"`
	Data          json.RawMessage `json:"data"`
	ReceivedAt    time.Time       `json:"received_at"`
	State         State           `json:"state"`
	Attempts      int             `json:"attempts"`
	NextAttemptAt time.Time       `json:"next_attempt_at"`
	LastError     string          `json:"last_error,omitempty"`
	SyncedAt      time.Time       `json:"synced_at,omitzero"`
	// Hash is the record's content hash at acceptance (ContentHash, hex),
	// and PrevHash that of the record its module accepted before it
	// (ZeroHash for a module's first): the tamper-evident chain (see
	// chain.go). Both "" for a record accepted before the chain existed.
	// An edit changes Data but not Hash.
	Hash     string `json:"hash,omitempty"`
	PrevHash string `json:"prev_hash,omitempty"`
}

// NewRecord is what ingest hands to Store.Append: a validated update with its
// id and acceptance time already chosen.
type NewRecord struct {
	ID         string
	Module     string
	SessionID  string
	Data       json.RawMessage // compact JSON object
	ReceivedAt time.Time
	// DedupeKey identifies "the same update", so that duplicates are
	// absorbed: records with an equal non-empty key are stored once while
	// the original is within DedupeSince (see Store.Append). Ingest makes
	// it (ingest.DedupeKey).
	DedupeKey string
	// DedupeSince bounds how far back DedupeKey looks: a stored record
	// with the same key is the original only if its ReceivedAt is at or
	// after DedupeSince; an older one is not (this record is stored, and
	// the key then stands for it). Ingest sets it to ReceivedAt minus the
	// window of the key's kind (--dedupe-window, --content-dedupe-window).
	// The zero time: no bound.
	DedupeSince time.Time
	// LoadTest marks load-test traffic (the Corebridge-Load-Test header,
	// sent by `corebridge mock --load`): stored, delivered and counted
	// like any record, but the module's usual interval, which silence
	// detection compares against, is not learnt from it.
	LoadTest bool
	// Probe is what the store's DedupeProber found for DedupeKey ahead of
	// Append, if it is one; only that store reads it, and Append is right
	// without it (it looks the key up in full).
	Probe any
}

// Differs names the first field in which a stored original (module,
// session, data) differs from the record n that has its key, or "" when
// they hold the same update. Data is compared as bytes: both are compact
// JSON (Update.Data), so formatting does not count, but key order does.
func (n NewRecord) Differs(module, session string, data []byte) string {
	switch {
	case module != n.Module:
		return "module"
	case session != n.SessionID:
		return "session_id"
	case string(data) != string(n.Data):
		return "data"
	}
	return ""
}

// Appended is the outcome of one NewRecord: the stored record's identity,
// which for a duplicate is the original's.
type Appended struct {
	ID         string
	SessionID  string
	ReceivedAt time.Time
	Duplicate  bool
}

// TimeFormat is how timestamps are written in the API: RFC 3339, UTC, with
// microseconds and a Z, like the prototype's datetime.isoformat()+"Z".
const TimeFormat = "2006-01-02T15:04:05.000000Z"

// FormatTime writes t in TimeFormat, or "" for the zero time.
func FormatTime(t time.Time) string {
	if t.IsZero() {
		return ""
	}
	return t.UTC().Format(TimeFormat)
}
