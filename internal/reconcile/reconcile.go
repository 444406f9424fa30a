// Package reconcile compares what the bridge delivered with what the
// Bucket holds, by range-based set reconciliation over the Bucket
// protocol's reconciliation extension (docs/protocol.md, GET
// /v1/reconcile): for each module it asks the Bucket for the count and
// fingerprint of the parts of a range of record ids, computes the same of
// the records it synced in one pass over its store, and splits only the
// parts that differ, until the Bucket lists their records; those are
// compared one by one. One difference among a million records takes a
// handful of requests.
//
// What it finds, per module:
//   - missing: synced here (the Bucket confirmed it once) and not held
//     there: lost by the Bucket, or deleted behind the bridge's back;
//   - mismatched: held there with another content hash than the one here;
//   - unexpected: held there and unknown here (sent by someone else, or
//     pruned here below the floor the store reports);
//   - in flight: held there and pending here (the confirmation is on its
//     way): not a fault;
//   - dead here, held there: e.g. a conflict: not a fault.
//
// With Repair, the missing records are put back in their module's queue
// (bridge.Reconcilable.Requeue), keeping their ids.
package reconcile

import (
	"context"
	"crypto/sha256"
	"errors"
	"fmt"
	"slices"
	"sync"
	"sync/atomic"
	"time"

	"golang.org/x/sync/errgroup"

	"corebridge/internal/bridge"
	"corebridge/internal/bucket"
)

// Bucket is what reconciliation asks of the Bucket; *bucket.Client is one.
type Bucket interface {
	Reconcile(ctx context.Context, q bucket.ReconcileQuery) (bucket.ReconcileAnswer, error)
	ReconcileChain(ctx context.Context, module string, limit int) (bucket.ChainReport, error)
}

// ModuleLister lists the modules a store knows; a bridge.Store is one.
type ModuleLister interface {
	Modules(ctx context.Context) ([]bridge.ModuleSummary, error)
}

// Defaults of Options.
const (
	DefaultParts       = bucket.ReconcileMaxParts // parts per split: fewer levels
	DefaultList        = bucket.ReconcileMaxList  // ranges this small are listed
	DefaultConcurrency = 4                        // requests of one level at once
	DefaultMaxIDs      = 100                      // ids of each kind in a report
	// MaxRepair bounds the missing ids one run keeps for Repair; a run
	// that finds more requeues those and the next run the rest.
	MaxRepair = 1_000_000
	// chainLimit is how many chain gaps a report lists per module.
	chainLimit = 100
	// maxExplain bounds the hashes of records not synced here that are
	// kept to explain chain gaps.
	maxExplain = 100_000
)

// Options says what to reconcile.
type Options struct {
	Local  bridge.Reconcilable
	Bucket Bucket
	// Modules to reconcile; empty: every module the store knows (Local
	// must then be a ModuleLister too).
	Modules []string
	// Since: only records accepted at or after it (zero: all).
	Since time.Time
	// Repair requeues the missing records.
	Repair bool
	// Progress, when set, is called now and then, never concurrently.
	Progress func(Progress)
	// Now is the start of the run (default time.Now): records accepted
	// after it are not compared.
	Now func() time.Time
	// Parts and List are asked of the Bucket (defaults DefaultParts,
	// DefaultList); Concurrency bounds the requests of one level at once
	// (DefaultConcurrency); MaxIDs the ids of each kind listed in the
	// report per module (DefaultMaxIDs).
	Parts, List, Concurrency, MaxIDs int
}

// Progress is how far a run is.
type Progress struct {
	Module      string `json:"module"`
	ModuleIndex int    `json:"module_index"` // 1-based
	Modules     int    `json:"modules"`
	// Checked of Total: the records the Bucket holds in the module's
	// range that are settled (in parts found equal, or compared one by
	// one).
	Checked    int64 `json:"checked"`
	Total      int64 `json:"total"`
	RoundTrips int   `json:"round_trips"` // of the module so far
	Missing    int64 `json:"missing"`
	Unexpected int64 `json:"unexpected"`
	Mismatched int64 `json:"mismatched"`
	Done       bool  `json:"done"` // the module is done
}

// Report is what a run found.
type Report struct {
	StartedAt  time.Time `json:"started_at"`
	FinishedAt time.Time `json:"finished_at"`
	TookMS     int64     `json:"took_ms"`
	Since      string    `json:"since,omitempty"`
	Repair     bool      `json:"repair"`
	// Unsupported: the Bucket does not have the extension; Message says
	// what it answered. Nothing was compared.
	Unsupported bool   `json:"unsupported"`
	Message     string `json:"message,omitempty"`
	// Error, when set, stopped the run: the modules before it are
	// reported.
	Error   string         `json:"error,omitempty"`
	Totals  Totals         `json:"totals"`
	Modules []ModuleReport `json:"modules"`
}

// Totals adds up the modules.
type Totals struct {
	SyncedHere int64 `json:"synced_here"`
	HeldThere  int64 `json:"held_there"`
	Missing    int64 `json:"missing"`
	Unexpected int64 `json:"unexpected"`
	Mismatched int64 `json:"mismatched"`
	InFlight   int64 `json:"in_flight"`
	DeadHeld   int64 `json:"dead_held"`
	Requeued   int64 `json:"requeued"`
	RoundTrips int   `json:"round_trips"`
	ChainGaps  int64 `json:"chain_gaps"`
}

// Faults is what counts against the Bucket: missing, unexpected and
// mismatched records.
func (t Totals) Faults() int64 { return t.Missing + t.Unexpected + t.Mismatched }

// ModuleReport is one module's findings. The id lists hold the first
// ones (in id order), at most Options.MaxIDs of each kind.
type ModuleReport struct {
	Module string `json:"module"`
	// From and To are the compared range of ids: [From, To).
	From          string        `json:"from"`
	To            string        `json:"to"`
	SyncedHere    int64         `json:"synced_here"`
	HeldThere     int64         `json:"held_there"`
	Missing       int64         `json:"missing"`
	Unexpected    int64         `json:"unexpected"`
	Mismatched    int64         `json:"mismatched"`
	InFlight      int64         `json:"in_flight"`
	DeadHeld      int64         `json:"dead_held"`
	Requeued      int64         `json:"requeued"`
	RoundTrips    int           `json:"round_trips"`
	TookMS        int64         `json:"took_ms"`
	MissingIDs    []string      `json:"missing_ids"`
	UnexpectedIDs []string      `json:"unexpected_ids"`
	MismatchedIDs []string      `json:"mismatched_ids"`
	InFlightIDs   []string      `json:"in_flight_ids"`
	DeadHeldIDs   []string      `json:"dead_held_ids"`
	Chain         *ChainSummary `json:"chain,omitempty"`
}

// ChainSummary is the Bucket's view of the module's chain
// (GET /v1/reconcile/chain) with what this store can tell of each gap
// listed: a gap whose missing predecessor is a dead letter here is
// expected (the record never went out).
type ChainSummary struct {
	Records int64      `json:"records"`
	Chained int64      `json:"chained"`
	Gaps    int64      `json:"gaps"`
	First   []ChainGap `json:"first"`
	// Of the gaps in First, by what the missing predecessor is here.
	DeadHere    int `json:"dead_here"`    // a dead letter: expected
	PendingHere int `json:"pending_here"` // on its way: expected
	MissingHere int `json:"missing_here"` // counted in missing
	Unexplained int `json:"unexplained"`  // not found here (pruned, or out of the range)
	// Error, when set: the chain could not be read (the rest of the
	// module's report stands).
	Error string `json:"error,omitempty"`
}

// ChainGap is a record the Bucket holds whose predecessor it does not.
type ChainGap struct {
	ID          string `json:"id"`
	PrevHash    string `json:"prev_hash"`
	Predecessor string `json:"predecessor,omitempty"` // its id here, when found
	// Why: "dead_here", "pending_here", "missing" or "unknown".
	Why string `json:"why"`
}

// IDPrefix is the text prefix of the UUIDv7 ids of records accepted in
// t's millisecond, "xxxxxxxx-xxxx": every id accepted at or after t sorts
// at or above it, every one before below.
func IDPrefix(t time.Time) string {
	h := fmt.Sprintf("%012x", uint64(t.UnixMilli())&(1<<48-1))
	return h[:8] + "-" + h[8:]
}

// Run reconciles each module in turn. An unsupported Bucket is not an
// error: the report says Unsupported. Any other failure of the Bucket or
// the store stops the run with the modules before it reported (and
// Report.Error set).
func Run(ctx context.Context, o Options) (Report, error) {
	if o.Now == nil {
		o.Now = time.Now
	}
	if o.Parts <= 0 {
		o.Parts = DefaultParts
	}
	if o.List <= 0 {
		o.List = DefaultList
	}
	if o.Concurrency <= 0 {
		o.Concurrency = DefaultConcurrency
	}
	if o.MaxIDs <= 0 {
		o.MaxIDs = DefaultMaxIDs
	}
	start := o.Now()
	rep := Report{StartedAt: start, Repair: o.Repair, Modules: []ModuleReport{}}
	if !o.Since.IsZero() {
		rep.Since = o.Since.UTC().Format(time.RFC3339Nano)
	}
	finish := func(err error) (Report, error) {
		rep.FinishedAt = o.Now()
		rep.TookMS = rep.FinishedAt.Sub(start).Milliseconds()
		for _, m := range rep.Modules {
			t := &rep.Totals
			t.SyncedHere += m.SyncedHere
			t.HeldThere += m.HeldThere
			t.Missing += m.Missing
			t.Unexpected += m.Unexpected
			t.Mismatched += m.Mismatched
			t.InFlight += m.InFlight
			t.DeadHeld += m.DeadHeld
			t.Requeued += m.Requeued
			t.RoundTrips += m.RoundTrips
			if m.Chain != nil {
				t.ChainGaps += m.Chain.Gaps
			}
		}
		if err != nil {
			rep.Error = err.Error()
		}
		return rep, err
	}
	if o.Local == nil || o.Bucket == nil {
		return finish(errors.New("reconcile: no store or no Bucket"))
	}
	modules := o.Modules
	if len(modules) == 0 {
		ml, ok := o.Local.(ModuleLister)
		if !ok {
			return finish(errors.New("reconcile: the store cannot list its modules; name them"))
		}
		sums, err := ml.Modules(ctx)
		if err != nil {
			return finish(fmt.Errorf("reconcile: list modules: %w", err))
		}
		for _, s := range sums {
			if s.Module != "" {
				modules = append(modules, s.Module)
			}
		}
	}
	to := IDPrefix(start)
	var mu sync.Mutex // serializes Progress
	for i, name := range modules {
		m := &moduleRun{o: &o, name: name, progress: Progress{Module: name, ModuleIndex: i + 1, Modules: len(modules)},
			progressMu: &mu, explain: map[[sha256.Size]byte]heldInfo{}}
		mr, err := m.run(ctx, to)
		if errors.Is(err, bucket.ErrReconcileUnsupported) {
			rep.Unsupported, rep.Message = true, err.Error()
			rep.Modules = rep.Modules[:0]
			return finish(nil)
		}
		if err != nil {
			return finish(fmt.Errorf("reconcile %s: %w", name, err))
		}
		rep.Modules = append(rep.Modules, mr)
	}
	return finish(nil)
}

// heldInfo is a record here that is not synced (or is missing there),
// kept by hash to explain chain gaps.
type heldInfo struct {
	id  string
	why string
}

// moduleRun is one module's reconciliation.
type moduleRun struct {
	o    *Options
	name string

	trips atomic.Int64

	mu       sync.Mutex // guards what follows
	rep      ModuleReport
	missing  []string // every missing id, up to MaxRepair
	lists    [4][]string
	explain  map[[sha256.Size]byte]heldInfo
	checked  int64
	total    int64
	progress Progress

	progressMu *sync.Mutex
}

const (
	kUnexpected = iota
	kMismatched
	kInFlight
	kDeadHeld
)

// span is a range of ids to compare, with the Bucket's answer for it once
// asked.
type span struct {
	from, to string
	answer   *bucket.ReconcileAnswer
	top      bool
}

func (m *moduleRun) run(ctx context.Context, to string) (ModuleReport, error) {
	started := time.Now()
	o := m.o
	floor, err := o.Local.ReconcileFloor(ctx, m.name)
	if err != nil {
		return ModuleReport{}, fmt.Errorf("read the floor: %w", err)
	}
	from := ""
	if floor != "" {
		from = floor + "0" // ids have one length: the least id above floor
	}
	if !o.Since.IsZero() {
		from = max(from, IDPrefix(o.Since))
	}
	m.rep = ModuleReport{Module: m.name, From: from, To: to}
	// The chain report costs the Bucket a walk of the module: asked
	// meanwhile, explained once the comparison is done.
	chainCtx, cancelChain := context.WithCancel(ctx)
	type chainAnswer struct {
		r   bucket.ChainReport
		err error
	}
	chainc := make(chan chainAnswer, 1)
	var chainDone sync.WaitGroup
	// Whatever way this returns, the request is over before it does: no
	// goroutine outlives the run.
	defer chainDone.Wait()
	defer cancelChain()
	chainDone.Go(func() {
		m.trips.Add(1)
		r, err := o.Bucket.ReconcileChain(chainCtx, m.name, chainLimit)
		chainc <- chainAnswer{r, err}
	})
	if from < to {
		if err := m.compare(ctx, from, to); err != nil {
			return ModuleReport{}, err
		}
	}
	if o.Repair && len(m.missing) > 0 {
		for ids := range slices.Chunk(m.missing, 1000) {
			n, err := o.Local.Requeue(ctx, m.name, ids, bridge.Truncate(o.Now()))
			m.rep.Requeued += int64(n)
			if err != nil {
				return ModuleReport{}, fmt.Errorf("requeue missing records: %w", err)
			}
		}
	}
	ca := <-chainc
	m.rep.Chain = m.chain(ca.r, ca.err)
	m.rep.RoundTrips = int(m.trips.Load())
	m.rep.MissingIDs = firstIDs(m.missing, o.MaxIDs)
	m.rep.UnexpectedIDs = firstIDs(m.lists[kUnexpected], o.MaxIDs)
	m.rep.MismatchedIDs = firstIDs(m.lists[kMismatched], o.MaxIDs)
	m.rep.InFlightIDs = firstIDs(m.lists[kInFlight], o.MaxIDs)
	m.rep.DeadHeldIDs = firstIDs(m.lists[kDeadHeld], o.MaxIDs)
	m.rep.TookMS = time.Since(started).Milliseconds()
	m.mu.Lock()
	m.progress.Done = true
	m.mu.Unlock()
	m.report()
	return m.rep, nil
}

// firstIDs sorts ids (in place) and returns the first n, never nil.
func firstIDs(ids []string, n int) []string {
	slices.Sort(ids)
	return append([]string{}, ids[:min(n, len(ids))]...)
}

// compare walks the range level by level: each level's spans are asked
// of the Bucket (a few at once) and compared with one pass over the
// store each; the parts that differ make the next level.
func (m *moduleRun) compare(ctx context.Context, from, to string) error {
	top, err := m.ask(ctx, from, to)
	if err != nil {
		return err
	}
	m.mu.Lock()
	m.rep.HeldThere, m.total = top.Count, top.Count
	m.mu.Unlock()
	level := []span{{from: from, to: to, answer: &top, top: true}}
	for depth := 0; len(level) > 0; depth++ {
		if depth > 64 {
			return errors.New("the Bucket's parts do not get smaller")
		}
		var next []span
		var nextMu sync.Mutex
		g, gctx := errgroup.WithContext(ctx)
		g.SetLimit(m.o.Concurrency)
		for _, s := range level {
			g.Go(func() error {
				if s.answer == nil {
					a, err := m.ask(gctx, s.from, s.to)
					if err != nil {
						return err
					}
					s.answer = &a
				}
				more, err := m.step(gctx, s)
				if err != nil {
					return err
				}
				nextMu.Lock()
				next = append(next, more...)
				nextMu.Unlock()
				m.report()
				return nil
			})
		}
		if err := g.Wait(); err != nil {
			return err
		}
		level = next
	}
	return nil
}

// ask asks the Bucket for [from, to), counting the round trip.
func (m *moduleRun) ask(ctx context.Context, from, to string) (bucket.ReconcileAnswer, error) {
	m.trips.Add(1)
	a, err := m.o.Bucket.Reconcile(ctx, bucket.ReconcileQuery{Module: m.name, From: from, To: to, Parts: m.o.Parts, List: m.o.List})
	m.mu.Lock()
	m.progress.RoundTrips = int(m.trips.Load())
	m.mu.Unlock()
	return a, err
}

// partSum is the count and fingerprint of the records synced here in one
// part.
type partSum struct {
	n  int64
	fp bucket.Fingerprint
}

// step compares one answered span: a listed one record by record; a split
// one part by part, in one pass over the store, returning the parts that
// differ and that the Bucket holds records of (a part it holds none of
// is compared here at once: all its synced records are missing).
func (m *moduleRun) step(ctx context.Context, s span) ([]span, error) {
	a := s.answer
	if len(a.Parts) == 0 {
		return nil, m.leaf(ctx, s, a.Records)
	}
	sums := make([]partSum, len(a.Parts))
	i := 0
	var synced int64
	err := m.o.Local.ScanIDs(ctx, m.name, s.from, s.to, func(h bridge.HeldRecord) error {
		for i < len(a.Parts)-1 && h.ID >= a.Parts[i].To {
			i++
		}
		if s.top {
			m.noteTop(h)
		}
		if h.State == bridge.StateSynced {
			synced++
			sums[i].n++
			sums[i].fp.Add(bucket.RecordDigest(h.ID, h.Hash))
		}
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("scan the store: %w", err)
	}
	if s.top {
		m.mu.Lock()
		m.rep.SyncedHere = synced
		m.mu.Unlock()
	}
	var next []span
	var settled int64
	for j, p := range a.Parts {
		fp, _ := bucket.ParseHash(p.Fingerprint) // checked by the client
		if sums[j].n == p.Count && sums[j].fp == bucket.Fingerprint(fp) {
			settled += p.Count
			continue
		}
		if p.Count == 0 {
			if err := m.leaf(ctx, span{from: p.From, to: p.To}, nil); err != nil {
				return nil, err
			}
			continue
		}
		if p.From == s.from && p.To == s.to {
			return nil, fmt.Errorf("the Bucket answered [%q, %q) with one part as large as the range: it does not split it", s.from, s.to)
		}
		next = append(next, span{from: p.From, to: p.To})
	}
	m.mu.Lock()
	m.checked += settled
	m.mu.Unlock()
	return next, nil
}

// noteTop keeps, from the first pass, what explains chain gaps: the
// hashes of the records not synced here.
func (m *moduleRun) noteTop(h bridge.HeldRecord) {
	if h.State == bridge.StateSynced {
		return
	}
	why := "pending_here"
	if h.State == bridge.StateDead {
		why = "dead_here"
	}
	m.mu.Lock()
	if len(m.explain) < maxExplain {
		m.explain[h.Hash] = heldInfo{id: h.ID, why: why}
	}
	m.mu.Unlock()
}

// leaf compares a listed span record by record: a merge of the Bucket's
// list with one pass over the store.
func (m *moduleRun) leaf(ctx context.Context, s span, held []bucket.ReconcileRecord) error {
	var missing []string
	var lists [4][]string
	var counts [4]int64
	explain := map[[sha256.Size]byte]heldInfo{}
	var synced int64
	j := 0
	add := func(k int, id string) {
		counts[k]++
		if len(lists[k]) < m.o.MaxIDs {
			lists[k] = append(lists[k], id)
		}
	}
	err := m.o.Local.ScanIDs(ctx, m.name, s.from, s.to, func(h bridge.HeldRecord) error {
		if s.top {
			m.noteTop(h)
		}
		if h.State == bridge.StateSynced {
			synced++
		}
		for j < len(held) && held[j].ID < h.ID {
			add(kUnexpected, held[j].ID)
			j++
		}
		if j < len(held) && held[j].ID == h.ID {
			there, _ := bucket.ParseHash(held[j].Hash) // checked by the client
			j++
			switch h.State {
			case bridge.StateSynced:
				if there != h.Hash {
					add(kMismatched, h.ID)
				}
			case bridge.StateDead:
				add(kDeadHeld, h.ID)
			default:
				add(kInFlight, h.ID)
			}
			return nil
		}
		if h.State == bridge.StateSynced {
			missing = append(missing, h.ID)
			explain[h.Hash] = heldInfo{id: h.ID, why: "missing"}
		}
		return nil
	})
	if err != nil {
		return fmt.Errorf("scan the store: %w", err)
	}
	for ; j < len(held); j++ {
		add(kUnexpected, held[j].ID)
	}
	m.mu.Lock()
	defer m.mu.Unlock()
	if s.top {
		m.rep.SyncedHere = synced
	}
	m.checked += int64(len(held))
	m.rep.Missing += int64(len(missing))
	m.missing = append(m.missing, missing[:min(len(missing), max(0, MaxRepair-len(m.missing)))]...)
	m.rep.Unexpected += counts[kUnexpected]
	m.rep.Mismatched += counts[kMismatched]
	m.rep.InFlight += counts[kInFlight]
	m.rep.DeadHeld += counts[kDeadHeld]
	for k := range lists {
		m.lists[k] = append(m.lists[k], lists[k]...)
	}
	for h, info := range explain {
		if len(m.explain) < maxExplain {
			m.explain[h] = info
		}
	}
	return nil
}

// chain explains the gaps the Bucket's chain report lists with what this
// store holds.
func (m *moduleRun) chain(cr bucket.ChainReport, err error) *ChainSummary {
	if err != nil {
		return &ChainSummary{First: []ChainGap{}, Error: err.Error()}
	}
	out := &ChainSummary{Records: cr.Records, Chained: cr.Chained, Gaps: cr.Gaps, First: []ChainGap{}}
	m.mu.Lock()
	defer m.mu.Unlock()
	for _, g := range cr.First {
		v := ChainGap{ID: g.ID, PrevHash: g.PrevHash, Why: "unknown"}
		if h, err := bucket.ParseHash(g.PrevHash); err == nil {
			if info, ok := m.explain[h]; ok {
				v.Predecessor, v.Why = info.id, info.why
			}
		}
		switch v.Why {
		case "dead_here":
			out.DeadHere++
		case "pending_here":
			out.PendingHere++
		case "missing":
			out.MissingHere++
		default:
			out.Unexplained++
		}
		out.First = append(out.First, v)
	}
	return out
}

// report calls Progress with where the module is.
func (m *moduleRun) report() {
	if m.o.Progress == nil {
		return
	}
	m.mu.Lock()
	p := m.progress
	p.Checked, p.Total = min(m.checked, m.total), m.total
	p.RoundTrips = int(m.trips.Load())
	p.Missing, p.Unexpected, p.Mismatched = m.rep.Missing, m.rep.Unexpected, m.rep.Mismatched
	m.mu.Unlock()
	m.progressMu.Lock()
	defer m.progressMu.Unlock()
	m.o.Progress(p)
}
