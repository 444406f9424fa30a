package bridge

import (
	"context"
	"time"
)

// Store is the durable outbox. Every implementation passes the conformance
// suite in internal/store/storetest. Times are stored with microsecond
// precision; callers pass times already truncated (see Now).
//
// The contract is split by consumer: the ingest writer appends
// (Appender), the forwarder leases and settles (Leaser), operators work
// dead letters (DeadLetters), status and the dashboard read (Reader), the
// janitor prunes (Pruner), the API records who did what (Auditor). Each
// consumer takes only its slice; a Store is all of them.
//
// # Several handles, several processes
//
// A store may be opened by several handles at once, in several processes
// (the PostgreSQL store: several serve replicas), or belong to one (the
// SQLite store locks its file). Either way:
//
//   - Dedupe holds across handles: records with the same DedupeKey
//     appended through two handles, even at the same instant, are stored
//     once (the second gets the first, or waits for it to commit).
//   - Per-module order is commit order: a record committed after another
//     of its module has a greater Seq, so a lease never passes a record of
//     its module that commits later with a smaller Seq. The SQLite store
//     has one writer; the PostgreSQL store takes the module's row lock
//     before it takes sequence numbers, so appends of one module commit
//     in the order of their seqs.
//   - Leases are fenced: a lease names its owner and an epoch that grows
//     each time its module is leased; it lives TTL on the store's clock
//     (the database's for a shared store, the monotonic clock for a store
//     of one process), not the caller's. A Settle or ExtendLease of a
//     lease that is no longer live changes nothing and fails with
//     ECONFLICT wrapping a *LeaseLost.
type Store interface {
	Appender
	Leaser
	DeadLetters
	Reader
	Pruner
	Auditor

	// Ping checks that the store can take a write.
	Ping(ctx context.Context) error

	// Close releases the store. Committed records survive it.
	Close() error
}

// Appender is the ingest writer's slice of the Store.
type Appender interface {
	// Append stores recs in one transaction, in order, and returns one
	// Appended per input. A record whose DedupeKey matches a stored record,
	// or an earlier record of the same call, received at or after its
	// DedupeSince, is not stored again: its Appended names the original.
	// If the original holds another update (its Module, SessionID or Data,
	// compared as stored bytes, differ), Append stores nothing and fails
	// with an ECONFLICT *Error wrapping a *KeyConflict that names the
	// record. An original received before DedupeSince does not count: the
	// record is stored, and later records with the key find it instead.
	// Either all new records are committed durably or none is and an
	// error is returned.
	Append(ctx context.Context, recs []NewRecord) ([]Appended, error)

	// Stats returns store-wide counts (see Reader); the writer reads the
	// pending count once at start.
	Stats(ctx context.Context) (Stats, error)
}

// Leaser is the forwarder's slice of the Store.
type Leaser interface {
	// Lease claims the head of one module's pending records for delivery:
	// up to MaxRecords (and MaxBytes of data) in acceptance order, starting
	// at the module's oldest pending record, which must be due
	// (LeaseParams.Due). A module has at most one live lease, whichever
	// handle or process asks, so per-module order holds across workers
	// and replicas. It returns nil when no module has due records that
	// are not leased. A lease lives TTL on the store's clock (see Store),
	// so that a step of a caller's wall clock neither ends a lease in
	// flight nor stretches it; Lease.Expires is that clock's deadline.
	//
	// Dead records do not block their module: later records pass them,
	// except in modules of p.Strict, where a module whose oldest dead
	// record precedes its oldest pending record is not leased at all, and
	// a lease of such a module stops before its oldest dead record. Either
	// way, a record being replayed or purged by a ReplayDead or PurgeDead
	// still running may hold its module back until that call returns.
	Lease(ctx context.Context, p LeaseParams) (*Lease, error)

	// ExtendLease gives a live lease ttl more from now on the store's
	// clock, for a batch still in flight, and updates l.Expires. A lease
	// that is no longer live is not revived: ECONFLICT wrapping *LeaseLost.
	ExtendLease(ctx context.Context, l *Lease, ttl time.Duration) error

	// ReleaseLeases frees every lease held by owner, for a process that
	// restarts after a crash under the same owner name. It returns how
	// many. Other owners' leases are untouched.
	ReleaseLeases(ctx context.Context, owner string) (int, error)

	// Settle applies the outcome of delivering a lease and releases it.
	// Each record named counts one attempt. Records of the lease not named
	// stay pending and due as they were.
	//
	// The lease must be live: a Settle of a lease that has expired, was
	// settled or released, or whose module another handle has leased
	// since, changes nothing and fails with ECONFLICT wrapping *LeaseLost
	// (the records go out again under the lease that holds them now; the
	// Bucket answers duplicate for what it already has).
	// A Settle that fails otherwise changes no record and releases the
	// lease too, so the batch can be leased and sent again at once.
	Settle(ctx context.Context, s Settlement) error
}

// DeadLetters is the operators' slice of the Store.
type DeadLetters interface {
	// PurgeDead deletes the selected dead records for good (same selectors
	// as ReplayDead, paged the same way) and returns how many.
	PurgeDead(ctx context.Context, p ReplayParams) (int, error)

	// ReplayDead makes dead records pending and due now, with their
	// attempts reset; they keep their place in acceptance order, so they
	// go out before newer records of their module. It returns how many.
	//
	// A selection by Module or All may be applied in pages (several
	// transactions, in acceptance order) so that it does not hold up
	// ingest for its whole length; the modules it selects are not leased
	// until it returns, so replayed records still go out in their place.
	// Each page is committed whole, counters included: after a crash or
	// an error between pages some of the selection is replayed (the
	// oldest) and the rest still dead, and the call can simply be made
	// again. The count is over every page.
	ReplayDead(ctx context.Context, p ReplayParams) (int, error)

	// ListDead pages through dead records in acceptance order.
	ListDead(ctx context.Context, q DeadQuery) ([]Record, error)

	// EditDead replaces a dead record's data, keeping the old data and the
	// time in the record's history (Edits). It is an ENOTFOUND error if no
	// dead record has the id.
	EditDead(ctx context.Context, p EditParams) error

	// Edits returns the data edits of a record, oldest first.
	Edits(ctx context.Context, recordID string) ([]Edit, error)
}

// Reader is the slice of the Store that status, health and the dashboard
// read.
type Reader interface {
	// Get returns one record by id, or an ENOTFOUND error.
	Get(ctx context.Context, id string) (Record, error)

	// Attempts returns the delivery attempts that included the record with
	// the given id, oldest first, or an ENOTFOUND error.
	Attempts(ctx context.Context, recordID string) ([]Attempt, error)

	// AttemptCounts counts delivery attempts made at or after since, by outcome.
	AttemptCounts(ctx context.Context, since time.Time) (map[string]int64, error)

	// Stats returns store-wide counts, read from counters kept as records
	// change state, so their cost does not grow with the number of records.
	Stats(ctx context.Context) (Stats, error)

	// Modules returns one summary per module ever seen, sorted by name.
	Modules(ctx context.Context) ([]ModuleSummary, error)

	// Rollups returns the per-minute, per-module counters of the minutes
	// that overlap [q.From, q.To), ordered by minute then module. Minutes where nothing
	// happened have no row.
	Rollups(ctx context.Context, q RollupQuery) ([]Rollup, error)

	// AddRollups adds counts the store does not see itself (rejected
	// input, ingest failures) to the rollups of their minute and module.
	AddRollups(ctx context.Context, rs []Rollup) error
}

// Pruner is the janitor's slice of the Store.
type Pruner interface {
	// Prune deletes up to Limit synced records synced before SyncedBefore
	// (and up to Limit attempts made before AttemptsBefore) and returns how
	// many records it deleted. Dead and pending records are kept.
	Prune(ctx context.Context, p PruneParams) (int, error)
}

// Auditor keeps the audit log.
type Auditor interface {
	// AppendAudit stores e durably in the audit log. The store assigns
	// e.Seq (greater than every Seq before it, across reopen); the
	// caller's Seq is ignored.
	AppendAudit(ctx context.Context, e AuditEntry) error

	// ListAudit pages the audit log newest first (by Seq, descending):
	// entries with Seq < q.BeforeSeq (every entry when it is 0), up to
	// q.Limit (100 when not > 0).
	ListAudit(ctx context.Context, q AuditQuery) ([]AuditEntry, error)
}

// LeaseParams says who leases, for how long, and how much.
type LeaseParams struct {
	Owner      string        // free text shown in diagnostics, e.g. host:pid
	Now        time.Time     // the caller's clock
	TTL        time.Duration // after TTL (on the store's clock) the lease may be taken by another
	MaxRecords int           // > 0
	MaxBytes   int           // 0 = no byte bound; at least one record is always returned

	// Strict names the modules a dead record blocks (see Store.Lease).
	Strict StrictOrder

	// MaxWait is the longest wait the caller ever gives a retry (its
	// backoff cap, its Retry-After cap, a margin). A record due further
	// ahead of Now than that was given its due time by a clock that has
	// since gone back: it is due now (see Due). 0: no such bound.
	MaxWait time.Duration
}

// Due reports whether a record due at next may be leased at p.Now: when
// next has come, or when it lies further ahead than p.MaxWait, which no
// retry wait explains: the wall clock stepped back since next was set
// (records accepted before the step look due "in the future"), and a step
// back must not stall a module for as long as the step.
func (p LeaseParams) Due(next time.Time) bool {
	return !next.After(p.Now) || p.MaxWait > 0 && next.Sub(p.Now) > p.MaxWait
}

// Lease is a claimed batch of one module's head records.
type Lease struct {
	ID      string // unique among every lease the store ever gave
	Module  string
	Owner   string // LeaseParams.Owner
	Epoch   int64  // grows each time the module is leased: the fencing token
	Records []Record
	Expires time.Time // the deadline on the store's clock
}

// DeadMark dead-letters one record with the reason.
type DeadMark struct {
	ID     string
	Reason string
}

// Settlement is the outcome of delivering (part of) a lease.
type Settlement struct {
	LeaseID string
	Module  string
	Now     time.Time
	Synced  []string   // confirmed by the Bucket: state synced, synced_at Now
	Dead    []DeadMark // given up on: state dead, last_error the reason
	Retry   []string   // to try again at RetryAt
	RetryAt time.Time
	Error   string // recorded as last_error on Retry records
	// Attempt, when set, is recorded in the attempt history.
	Attempt *Attempt
}

// Attempt outcomes.
const (
	AttemptOK       = "ok"       // the Bucket stored (or already had) every record
	AttemptPartial  = "partial"  // the Bucket answered; it rejected some records
	AttemptFailed   = "failed"   // transient: network, timeout, 5xx, 408, 429; retried
	AttemptRejected = "rejected" // the Bucket refused the batch (4xx) or every record of it: dead-lettered
)

// Attempt is one delivery attempt of a batch. A batch is a run of one
// module's pending records in acceptance order, so FirstSeq..LastSeq names
// its records.
type Attempt struct {
	At         time.Time     `json:"at"`
	Module     string        `json:"module"`
	LeaseID    string        `json:"lease_id"`
	FirstSeq   int64         `json:"first_seq"`
	LastSeq    int64         `json:"last_seq"`
	Records    int           `json:"records"`
	Outcome    string        `json:"outcome"`
	HTTPStatus int           `json:"http_status,omitempty"`
	Error      string        `json:"error,omitempty"`
	Latency    time.Duration `json:"latency_ns"`
}

// ReplayParams selects dead records to replay: by IDs, or all of Module, or
// all (All). Exactly one selector is used, in that order of precedence.
type ReplayParams struct {
	IDs    []string
	Module string
	All    bool
	Now    time.Time
}

// DeadQuery pages dead records: those with Seq > AfterSeq, up to Limit.
type DeadQuery struct {
	Module   string
	AfterSeq int64
	Limit    int
}

// PruneParams bounds one prune pass.
type PruneParams struct {
	SyncedBefore   time.Time
	AttemptsBefore time.Time // zero: keep every attempt
	RollupsBefore  time.Time // zero: keep every rollup; else drop minutes before it
	Limit          int
}

// Stats are store-wide figures.
type Stats struct {
	Received        int64     // records ever stored (duplicates excluded)
	Pending         int64     // accepted, neither synced nor dead
	Synced          int64     // ever synced (pruning does not lower it)
	Dead            int64     // dead now
	LastSyncAt      time.Time // zero before the first sync
	OldestPendingAt time.Time // received_at of the oldest pending record; zero if none
}

// ModuleSummary is the per-module view of Stats.
type ModuleSummary struct {
	Module     string    `json:"module"`
	Received   int64     `json:"received"`
	Pending    int64     `json:"pending"`
	Synced     int64     `json:"synced"`
	Dead       int64     `json:"dead"`
	LastSeenAt time.Time `json:"last_seen_at,omitzero"`
	LastSyncAt time.Time `json:"last_sync_at,omitzero"`
	// DeadTotal counts records ever dead-lettered (replays and purges do
	// not lower it); Replayed counts records ever replayed.
	DeadTotal int64 `json:"dead_total"`
	Replayed  int64 `json:"replayed_total"`
	// Interval is the module's usual time between records, learnt from
	// Intervals gaps between the distinct seconds of its commits (whole
	// seconds, never under one): each gap moves it up by 1/8 of a longer
	// gap's excess or down by 1/32 of a shorter one's, so a burst barely
	// moves it. Load-test records (NewRecord.LoadTest) teach nothing.
	// Silence detection compares the time since LastSeenAt with it.
	Interval  time.Duration `json:"-"`
	Intervals int64         `json:"-"`
	// OldestDead is the id of the module's oldest dead record ("" when it
	// has none); DeadFirst says that it precedes every pending record of
	// the module and some are pending: a module of LeaseParams.Strict is
	// then blocked by it until it is replayed or purged.
	OldestDead string `json:"-"`
	DeadFirst  bool   `json:"-"`
}

// Now returns the current time truncated to what stores keep (microseconds),
// in UTC, so that values read back compare equal to values written.
func Now() time.Time { return Truncate(time.Now()) }

// Truncate rounds t down to microseconds, in UTC.
func Truncate(t time.Time) time.Time { return t.UTC().Truncate(time.Microsecond) }

// DeliveryStatus is the forwarder's view of the Bucket, shown in health.
type DeliveryStatus struct {
	BucketURL     string    `json:"bucket_url"`
	Reachable     bool      `json:"bucket_reachable"`
	Breaker       string    `json:"breaker"` // closed, open, half-open
	BreakerOpened time.Time `json:"breaker_opened_at,omitzero"`
	// FailingSince is the first failed attempt (or check of /healthz) of
	// the current outage: when the Bucket became unreachable, which is
	// earlier than BreakerOpened. Zero while deliveries go through.
	FailingSince time.Time `json:"bucket_failing_since,omitzero"`
	LastError    string    `json:"last_delivery_error,omitempty"`
	// Misconfigured, when the last attempt failed for the bridge's own
	// configuration rather than the Bucket's health (credentials refused,
	// a URL that is no Bucket), says so in a few words; "" otherwise.
	Misconfigured string    `json:"-"`
	LastOK        time.Time `json:"last_delivery_ok_at,omitzero"`
}

// A DedupeProber is a Store that can look records' dedupe keys up ahead
// of Append, concurrently and off the single path that commits: it
// leaves what it found in each record's Probe, so that Append only asks
// what changed since. Ingest probes a request's records before they
// queue for the group commit. A probe that fails leaves Probe as it was.
type DedupeProber interface {
	ProbeDedupe(ctx context.Context, recs []NewRecord)
}

// A DeferredAppender is a Store whose appends can be committed at once and
// made durable afterwards, one sync for several commits: the group-commit
// writer writes the next batch while the disk syncs the previous one, and
// answers a batch only once Sync has returned after its AppendDeferred.
// Records appended this way are visible to reads and to dedupe at once,
// but are not leased for delivery before a Sync has made them durable.
// Append remains AppendDeferred followed by Sync.
type DeferredAppender interface {
	AppendDeferred(ctx context.Context, recs []NewRecord) ([]Appended, error)
	// Sync makes every AppendDeferred that returned before it durable.
	// Once it has failed it keeps failing: the store must be reopened.
	Sync(ctx context.Context) error
}

// Replicas is what a replica of a shared store knows of the others: its
// own name, and the one that leads (runs the work that must run once).
type Replicas struct {
	Instance    string    `json:"instance"`
	Leader      string    `json:"leader"` // "" while none holds the lead
	Leading     bool      `json:"leading"`
	LeaderSince time.Time `json:"leader_since,omitzero"`
}
