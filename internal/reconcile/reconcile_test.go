package reconcile

import (
	"context"
	"crypto/sha256"
	"encoding/binary"
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"sort"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"corebridge/internal/bridge"
	"corebridge/internal/bucket"
	"corebridge/internal/store/storetest"
)

// --- a Bucket double: what the reconciliation extension answers, over
// an in-memory sorted list, cut into parts of equal counts. Its answers
// pass bucket.CheckAnswer.

type heldThere struct {
	id   string
	hash [sha256.Size]byte
}

type fakeBucket struct {
	mu      sync.Mutex
	mods    map[string][]heldThere // sorted by id
	trips   atomic.Int64
	noChain bool
	unsupp  bool
}

func newFakeBucket() *fakeBucket { return &fakeBucket{mods: map[string][]heldThere{}} }

func (b *fakeBucket) put(module, id string, hash [sha256.Size]byte) {
	b.mu.Lock()
	defer b.mu.Unlock()
	rs := b.mods[module]
	i := sort.Search(len(rs), func(i int) bool { return rs[i].id >= id })
	if i < len(rs) && rs[i].id == id {
		rs[i].hash = hash
		return
	}
	b.mods[module] = slices.Insert(rs, i, heldThere{id, hash})
}

func (b *fakeBucket) del(module, id string) {
	b.mu.Lock()
	defer b.mu.Unlock()
	b.mods[module] = slices.DeleteFunc(b.mods[module], func(h heldThere) bool { return h.id == id })
}

func (b *fakeBucket) Reconcile(_ context.Context, q bucket.ReconcileQuery) (bucket.ReconcileAnswer, error) {
	b.trips.Add(1)
	if b.unsupp {
		return bucket.ReconcileAnswer{}, &bucket.UnsupportedError{Path: "/v1/reconcile", Status: 404}
	}
	b.mu.Lock()
	defer b.mu.Unlock()
	rs := b.mods[q.Module]
	lo := sort.Search(len(rs), func(i int) bool { return rs[i].id >= q.From })
	hi := len(rs)
	if q.To != "" {
		hi = sort.Search(len(rs), func(i int) bool { return rs[i].id >= q.To })
	}
	in := rs[lo:hi]
	a := bucket.ReconcileAnswer{Module: q.Module, From: q.From, To: q.To, Count: int64(len(in)), Fingerprint: fp(in).String()}
	if len(in) <= q.List {
		for _, r := range in {
			a.Records = append(a.Records, bucket.ReconcileRecord{ID: r.id, Hash: fmt.Sprintf("%x", r.hash)})
		}
	} else {
		per := (len(in) + q.Parts - 1) / q.Parts
		from := q.From
		for i := 0; i < len(in); i += per {
			j := min(i+per, len(in))
			to := q.To
			if j < len(in) {
				to = in[j].id
			}
			a.Parts = append(a.Parts, bucket.ReconcilePart{From: from, To: to, Count: int64(j - i), Fingerprint: fp(in[i:j]).String()})
			from = to
		}
	}
	if err := bucket.CheckAnswer(q, a); err != nil {
		panic("the double's answer is wrong: " + err.Error())
	}
	return a, nil
}

func (b *fakeBucket) ReconcileChain(_ context.Context, module string, limit int) (bucket.ChainReport, error) {
	b.trips.Add(1)
	if b.noChain {
		return bucket.ChainReport{}, &bucket.UnsupportedError{Path: "/v1/reconcile/chain", Status: 404}
	}
	b.mu.Lock()
	defer b.mu.Unlock()
	return bucket.ChainReport{Module: module, Records: int64(len(b.mods[module])), First: []bucket.ChainGap{}}, nil
}

func fp(rs []heldThere) bucket.Fingerprint {
	var f bucket.Fingerprint
	for _, r := range rs {
		f.Add(bucket.RecordDigest(r.id, r.hash))
	}
	return f
}

// --- a plain Reconcilable for the large checks (a sorted slice).

type fakeLocal struct {
	mu   sync.Mutex
	mods map[string][]bridge.HeldRecord // sorted by id
}

func (l *fakeLocal) ReconcileFloor(context.Context, string) (string, error) { return "", nil }

func (l *fakeLocal) ScanIDs(ctx context.Context, module, from, to string, fn func(bridge.HeldRecord) error) error {
	l.mu.Lock()
	rs := l.mods[module]
	l.mu.Unlock()
	i := sort.Search(len(rs), func(i int) bool { return rs[i].ID >= from })
	for ; i < len(rs) && (to == "" || rs[i].ID < to); i++ {
		if err := fn(rs[i]); err != nil {
			return err
		}
	}
	return nil
}

func (l *fakeLocal) Requeue(_ context.Context, module string, ids []string, _ time.Time) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	n := 0
	for _, id := range ids {
		rs := l.mods[module]
		i := sort.Search(len(rs), func(i int) bool { return rs[i].ID >= id })
		if i < len(rs) && rs[i].ID == id && rs[i].State == bridge.StateSynced {
			rs[i].State = bridge.StatePending
			n++
		}
	}
	return n, nil
}

func (l *fakeLocal) Modules(context.Context) ([]bridge.ModuleSummary, error) {
	var out []bridge.ModuleSummary
	for m := range l.mods {
		out = append(out, bridge.ModuleSummary{Module: m})
	}
	return out, nil
}

// uuid7 is a UUIDv7-shaped id of ms and n.
func uuid7(ms int64, n uint64) string {
	var b [16]byte
	binary.BigEndian.PutUint64(b[:8], uint64(ms)<<16|0x7000|(n>>48)&0xfff)
	binary.BigEndian.PutUint64(b[8:], 0x8000000000000000|n&0x3fffffffffffffff)
	h := fmt.Sprintf("%x", b)
	return h[:8] + "-" + h[8:12] + "-" + h[12:16] + "-" + h[16:20] + "-" + h[20:]
}

var epoch = time.Date(2026, 12, 1, 0, 0, 0, 0, time.UTC)

// million builds n synced records of module m here and there alike.
func million(n int) (*fakeLocal, *fakeBucket) {
	l := &fakeLocal{mods: map[string][]bridge.HeldRecord{}}
	b := newFakeBucket()
	rs := make([]bridge.HeldRecord, n)
	there := make([]heldThere, n)
	for i := range rs {
		id := uuid7(epoch.UnixMilli()+int64(i/10), uint64(i))
		h := sha256.Sum256([]byte(id))
		rs[i] = bridge.HeldRecord{ID: id, State: bridge.StateSynced, Hash: h}
		there[i] = heldThere{id, h}
	}
	l.mods["m"] = rs
	b.mods["m"] = there
	return l, b
}

func TestIDPrefix(t *testing.T) {
	at := time.UnixMilli(0x0193_89ab_cdef)
	if got := IDPrefix(at); got != "019389ab-cdef" {
		t.Fatalf("IDPrefix = %q", got)
	}
	id := uuid7(at.UnixMilli(), 5)
	if !(id >= IDPrefix(at) && id < IDPrefix(at.Add(time.Millisecond)) && uuid7(at.UnixMilli()-1, 1<<40) < IDPrefix(at)) {
		t.Fatalf("ids of %v do not sort from its prefix: %s vs %s", at, id, IDPrefix(at))
	}
}

// One difference among a million records: found in a few round trips,
// well within 10 s (the parts that agree cost one pass over the store).
func TestOneDifferenceInAMillion(t *testing.T) {
	if testing.Short() {
		t.Skip("a million records")
	}
	l, b := million(1_000_000)
	lost := l.mods["m"][654_321].ID
	b.del("m", lost)
	started := time.Now()
	rep, err := Run(t.Context(), Options{Local: l, Bucket: b, Now: func() time.Time { return epoch.Add(time.Hour) }})
	took := time.Since(started)
	if err != nil {
		t.Fatal(err)
	}
	m := rep.Modules[0]
	t.Logf("1,000,000 records, one missing: %d round trips, %v", m.RoundTrips, took)
	if m.Missing != 1 || len(m.MissingIDs) != 1 || m.MissingIDs[0] != lost || m.Unexpected+m.Mismatched != 0 {
		t.Fatalf("report = %+v, want the one missing %s", m, lost)
	}
	if m.RoundTrips > 20 || int64(m.RoundTrips) != b.trips.Load() {
		t.Fatalf("round trips = %d (the Bucket counted %d), want at most 20", m.RoundTrips, b.trips.Load())
	}
	if m.SyncedHere != 1_000_000 || m.HeldThere != 999_999 {
		t.Fatalf("synced here %d, held there %d", m.SyncedHere, m.HeldThere)
	}
	if took > 10*time.Second && !raceEnabled {
		t.Fatalf("took %v, want under 10 s", took)
	}
}

func BenchmarkOneDifferenceInAMillion(b *testing.B) {
	l, bk := million(1_000_000)
	bk.del("m", l.mods["m"][123_456].ID)
	for b.Loop() {
		bk.trips.Store(0)
		rep, err := Run(context.Background(), Options{Local: l, Bucket: bk, Now: func() time.Time { return epoch.Add(time.Hour) }})
		if err != nil || rep.Totals.Missing != 1 {
			b.Fatal(rep, err)
		}
		b.ReportMetric(float64(rep.Totals.RoundTrips), "round-trips/op")
	}
}

// Every kind of difference, at leaves and in parts the Bucket holds
// nothing of, with a store that has pending and dead records too.
func TestKinds(t *testing.T) {
	l, b := million(5000)
	rs := l.mods["m"]
	missing := []string{rs[10].ID, rs[4000].ID}
	for _, id := range missing {
		b.del("m", id)
	}
	// A whole run of records the Bucket lost: a part it holds none of.
	for _, r := range rs[2000:2300] {
		b.del("m", r.ID)
		missing = append(missing, r.ID)
	}
	mismatched := rs[77].ID
	b.put("m", mismatched, sha256.Sum256([]byte("other")))
	unexpected := uuid7(epoch.UnixMilli()+5, 1<<50)
	b.put("m", unexpected, sha256.Sum256([]byte("x")))
	rs[100].State = bridge.StatePending // held there, pending here: in flight
	rs[200].State = bridge.StateDead    // held there, dead here
	rs[300].State = bridge.StatePending // not held there either: nothing
	b.del("m", rs[300].ID)
	rep, err := Run(t.Context(), Options{Local: l, Bucket: b, Now: func() time.Time { return epoch.Add(time.Hour) }, List: 50, Parts: 8})
	if err != nil {
		t.Fatal(err)
	}
	m := rep.Modules[0]
	slices.Sort(missing)
	if m.Missing != int64(len(missing)) || !slices.Equal(m.MissingIDs, missing[:100]) {
		t.Errorf("missing = %d %v…, want %d", m.Missing, m.MissingIDs[:3], len(missing))
	}
	if m.Mismatched != 1 || m.MismatchedIDs[0] != mismatched || m.Unexpected != 1 || m.UnexpectedIDs[0] != unexpected {
		t.Errorf("mismatched %v, unexpected %v", m.MismatchedIDs, m.UnexpectedIDs)
	}
	if m.InFlight != 1 || m.DeadHeld != 1 || m.InFlightIDs[0] != rs[100].ID || m.DeadHeldIDs[0] != rs[200].ID {
		t.Errorf("in flight %v, dead held %v", m.InFlightIDs, m.DeadHeldIDs)
	}
	if rep.Totals.Faults() != int64(len(missing))+2 {
		t.Errorf("totals = %+v", rep.Totals)
	}
	// Repair requeues the missing ones; once delivered again, all is well.
	rep, err = Run(t.Context(), Options{Local: l, Bucket: b, Repair: true, Now: func() time.Time { return epoch.Add(time.Hour) }})
	if err != nil || rep.Totals.Requeued != int64(len(missing)) {
		t.Fatalf("repair: requeued %d, %v; want %d", rep.Totals.Requeued, err, len(missing))
	}
	for i := range rs {
		if slices.Contains(missing, rs[i].ID) {
			if rs[i].State != bridge.StatePending {
				t.Fatalf("%s not requeued", rs[i].ID)
			}
			b.put("m", rs[i].ID, rs[i].Hash)
			rs[i].State = bridge.StateSynced
		}
	}
	rep, _ = Run(t.Context(), Options{Local: l, Bucket: b, Now: func() time.Time { return epoch.Add(time.Hour) }})
	if rep.Totals.Missing != 0 || rep.Totals.Mismatched != 1 || rep.Totals.Unexpected != 1 {
		t.Fatalf("after the repair: %+v", rep.Totals)
	}
}

func TestRangeAndSince(t *testing.T) {
	l, b := million(1000)
	rs := l.mods["m"]
	b.del("m", rs[5].ID) // before since: not compared
	var progress []Progress
	since := epoch.Add(50 * time.Millisecond) // records 500 on
	rep, err := Run(t.Context(), Options{Local: l, Bucket: b, Since: since,
		Now:      func() time.Time { return epoch.Add(90 * time.Millisecond) }, // records 900 on: after the start
		Progress: func(p Progress) { progress = append(progress, p) }})
	if err != nil {
		t.Fatal(err)
	}
	m := rep.Modules[0]
	if m.Missing != 0 || m.SyncedHere != 400 || m.HeldThere != 400 || m.From != IDPrefix(since) {
		t.Fatalf("report = %+v", m)
	}
	last := progress[len(progress)-1]
	if !last.Done || last.Checked != 400 || last.Total != 400 || last.Module != "m" || last.Modules != 1 {
		t.Fatalf("last progress = %+v", last)
	}
}

func TestUnsupported(t *testing.T) {
	l, b := million(10)
	b.unsupp = true
	rep, err := Run(t.Context(), Options{Local: l, Bucket: b})
	if err != nil || !rep.Unsupported || len(rep.Modules) != 0 || rep.Message == "" {
		t.Fatalf("Run = %+v, %v", rep, err)
	}
	if !errors.Is(&bucket.UnsupportedError{}, bucket.ErrReconcileUnsupported) {
		t.Fatal("UnsupportedError is not ErrReconcileUnsupported")
	}
	// A Bucket with /v1/reconcile but without the chain report: the
	// module is reported, its chain says why not.
	b.unsupp, b.noChain = false, true
	rep, err = Run(t.Context(), Options{Local: l, Bucket: b})
	if err != nil || rep.Unsupported || rep.Modules[0].Chain == nil || rep.Modules[0].Chain.Error == "" {
		t.Fatalf("Run without the chain = %+v, %v", rep, err)
	}
}

// A real store: the Mem store of storetest, with records delivered (the
// Bucket double holds what was synced), one lost, one changed.
func TestWithMemStore(t *testing.T) {
	var s any = storetest.NewMem()
	local, ok := s.(bridge.Reconcilable)
	if !ok {
		t.Skip("storetest.Mem does not implement bridge.Reconcilable yet")
	}
	mem := s.(*storetest.Mem)
	ctx := t.Context()
	at := bridge.Truncate(epoch)
	var recs []bridge.NewRecord
	for i := range 300 {
		recs = append(recs, bridge.NewRecord{ID: uuid7(at.UnixMilli()+int64(i), uint64(i)), Module: "m", SessionID: "s",
			Data: json.RawMessage(fmt.Sprintf(`{"i":%d}`, i)), ReceivedAt: at.Add(time.Duration(i) * time.Millisecond)})
	}
	if _, err := mem.Append(ctx, recs); err != nil {
		t.Fatal(err)
	}
	b := newFakeBucket()
	for {
		l, err := mem.Lease(ctx, bridge.LeaseParams{Owner: "t", Now: at.Add(time.Hour), TTL: time.Minute, MaxRecords: 100})
		if err != nil {
			t.Fatal(err)
		}
		if l == nil {
			break
		}
		var ids []string
		for _, r := range l.Records {
			ids = append(ids, r.ID)
			h, _ := bucket.ParseHash(r.ContentHash())
			b.put("m", r.ID, h)
		}
		if err := mem.Settle(ctx, bridge.Settlement{LeaseID: l.ID, Module: "m", Now: at.Add(time.Hour), Synced: ids}); err != nil {
			t.Fatal(err)
		}
	}
	b.del("m", recs[42].ID)
	b.put("m", recs[43].ID, sha256.Sum256([]byte("changed")))
	rep, err := Run(ctx, Options{Local: local, Bucket: b, List: 20, Parts: 4, Now: func() time.Time { return at.Add(time.Hour) }})
	if err != nil {
		t.Fatal(err)
	}
	m := rep.Modules[0]
	if m.SyncedHere != 300 || m.Missing != 1 || m.MissingIDs[0] != recs[42].ID || m.Mismatched != 1 || m.MismatchedIDs[0] != recs[43].ID {
		t.Fatalf("report = %+v", m)
	}
	rep, err = Run(ctx, Options{Local: local, Bucket: b, Repair: true, Now: func() time.Time { return at.Add(time.Hour) }})
	if err != nil || rep.Totals.Requeued != 1 {
		t.Fatalf("repair = %+v, %v", rep.Totals, err)
	}
	if r, _ := mem.Get(ctx, recs[42].ID); r.State != bridge.StatePending {
		t.Fatalf("the missing record is %v after the repair, want pending", r.State)
	}
}

func TestServiceOneAtATime(t *testing.T) {
	l, b := million(100)
	block := make(chan struct{})
	entered := make(chan struct{}, 1)
	slow := &slowBucket{fakeBucket: b, block: block, entered: entered}
	s := NewService(ServiceConfig{Local: l, Bucket: slow})
	if s.Health() != nil {
		t.Fatal("health before any run")
	}
	done := make(chan error)
	go func() { _, err := s.Reconcile(context.Background(), Options{}); done <- err }()
	<-entered
	if _, err := s.Reconcile(context.Background(), Options{}); !errors.Is(err, ErrRunning) || !s.Running() {
		t.Fatalf("second run: %v, want ErrRunning", err)
	}
	close(block)
	if err := <-done; err != nil {
		t.Fatal(err)
	}
	b.del("m", l.mods["m"][3].ID)
	if _, err := s.Reconcile(context.Background(), Options{}); err != nil {
		t.Fatal(err)
	}
	h := s.Health()
	if h == nil || h.Missing != 1 || h.Degraded == "" {
		t.Fatalf("health = %+v", h)
	}
	if last, ok := s.Last(); !ok || last.Totals.Missing != 1 {
		t.Fatalf("last = %+v", last)
	}
}

type slowBucket struct {
	*fakeBucket
	block   chan struct{}
	entered chan struct{}
}

func (b *slowBucket) Reconcile(ctx context.Context, q bucket.ReconcileQuery) (bucket.ReconcileAnswer, error) {
	select {
	case b.entered <- struct{}{}:
	default:
	}
	<-b.block
	return b.fakeBucket.Reconcile(ctx, q)
}
