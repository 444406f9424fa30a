package ingest

import (
	"context"
	"errors"
	"log/slog"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"corebridge/internal/bridge"
	"corebridge/internal/logtest"
	"corebridge/internal/store/storetest"
)

func TestParseMinFree(t *testing.T) {
	for _, c := range []struct {
		in   string
		want MinFree
		str  string
	}{
		{"512MiB", MinFree{Bytes: 512 << 20}, "512MiB"},
		{"1GiB", MinFree{Bytes: 1 << 30}, "1GiB"},
		{" 2 GiB ", MinFree{Bytes: 2 << 30}, "2GiB"},
		{"500MB", MinFree{Bytes: 500_000_000}, "500000000"},
		{"1048576", MinFree{Bytes: 1 << 20}, "1MiB"},
		{"5%", MinFree{Percent: 5}, "5%"},
		{"0.5%", MinFree{Percent: 0.5}, "0.5%"},
		{"0", MinFree{}, "0"},
		{"0%", MinFree{}, "0"},
	} {
		t.Run(c.in, func(t *testing.T) {
			got, err := ParseMinFree(c.in)
			if err != nil || got != c.want {
				t.Fatalf("ParseMinFree(%q) = %+v, %v; want %+v", c.in, got, err, c.want)
			}
			if got.String() != c.str {
				t.Errorf("String() = %q, want %q", got.String(), c.str)
			}
			if again, err := ParseMinFree(got.String()); err != nil || again != got {
				t.Errorf("String() %q does not read back: %+v, %v", got.String(), again, err)
			}
		})
	}
	for _, bad := range []string{"", "lots", "-1GiB", "5 percent", "100%", "-5%", "1.5GiB", "GiB", "99999999999TiB"} {
		t.Run("bad "+bad, func(t *testing.T) {
			if m, err := ParseMinFree(bad); err == nil {
				t.Errorf("ParseMinFree(%q) = %+v, want an error", bad, m)
			}
		})
	}
}

func TestMinFreeBelow(t *testing.T) {
	const gib = 1 << 30
	for _, c := range []struct {
		min         MinFree
		free, total uint64
		want        bool
	}{
		{MinFree{Bytes: gib}, gib - 1, 100 * gib, true},
		{MinFree{Bytes: gib}, gib, 100 * gib, false},
		{MinFree{Percent: 5}, 4 * gib, 100 * gib, true},
		{MinFree{Percent: 5}, 6 * gib, 100 * gib, false},
		{MinFree{}, 0, 100 * gib, false}, // off
	} {
		if got := c.min.below(c.free, c.total); got != c.want {
			t.Errorf("%v.below(%d, %d) = %v, want %v", c.min, c.free, c.total, got, c.want)
		}
	}
}

// fakeDisk is a filesystem whose free space the test sets.
type fakeDisk struct {
	free, total atomic.Uint64
	reads       atomic.Int64
}

func (d *fakeDisk) space(string) (uint64, uint64, error) {
	d.reads.Add(1)
	return d.free.Load(), d.total.Load(), nil
}

// countingStore counts Append calls, to show a refusal wrote nothing.
type countingStore struct {
	stubStore
	appends atomic.Int64
}

func (s *countingStore) Append(ctx context.Context, recs []bridge.NewRecord) ([]bridge.Appended, error) {
	s.appends.Add(1)
	return s.stubStore.Append(ctx, recs)
}

// Below --min-free-disk the writer refuses every update with 503 (code
// unavailable, a Retry-After, a message naming free space and the flag)
// before the store is touched; the guard logs one WARN however many it
// refuses and however often it looks, one INFO when there is room again,
// and ingest resumes by itself.
func TestDiskGuardRefusesBeforeWriting(t *testing.T) {
	const mib = 1 << 20
	disk := &fakeDisk{}
	disk.free.Store(300 * mib)
	disk.total.Store(8192 * mib)
	var logs logtest.Buffer
	g := NewDiskGuard(GuardConfig{Dir: "/data", MinFree: MinFree{Bytes: 512 * mib}, Space: disk.space,
		Log: slog.New(slog.NewJSONHandler(&logs, nil))})
	st := &countingStore{stubStore: stubStore{Mem: storetest.NewMem()}}
	w := New(st, slog.New(slog.DiscardHandler), Config{MaxPending: -1, Guard: g})
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- w.Run(ctx) }()
	t.Cleanup(func() { cancel(); <-done })
	const refusing = "ingest refusing: disk almost full: 300 MiB free of 8 GiB, below --min-free-disk 512MiB"
	const accepting = "ingest accepts again: the disk has room"

	if err := submit(w, "before"); err != nil {
		t.Fatalf("submit before the guard looked: %v", err)
	}
	for range 3 {
		g.Check()
	}
	for _, id := range []string{"a", "b", "c"} {
		err := submit(w, id)
		var be *bridge.Error
		if !errors.As(err, &be) || be.Code != bridge.EUNAVAILABLE || be.RetryAfter <= 0 {
			t.Fatalf("submit %s below --min-free-disk: %v, want unavailable with a Retry-After", id, err)
		}
		if !strings.Contains(be.Message, "300 MiB free") || !strings.Contains(be.Message, "--min-free-disk 512MiB") {
			t.Errorf("refusal %q does not name the free space and the flag", be.Message)
		}
	}
	if n := st.appends.Load(); n != 1 {
		t.Errorf("%d store appends, want 1 (the one before the guard tripped)", n)
	}
	if why := g.Refusing(); !strings.Contains(why, "disk almost full: 300 MiB free") {
		t.Errorf("Refusing() = %q, want the reason", why)
	}
	if n := len(logs.Lines(t, "WARN", refusing)); n != 1 {
		t.Fatalf("%d WARN %q lines after three checks and three refusals, want 1\n%s", n, refusing, logs.String())
	}

	disk.free.Store(600 * mib)
	g.Check()
	g.Check()
	if err := submit(w, "d"); err != nil {
		t.Fatalf("submit once the disk has room: %v", err)
	}
	if g.Refusing() != "" {
		t.Errorf("still refusing: %q", g.Refusing())
	}
	if n := len(logs.Lines(t, "INFO", accepting)); n != 1 {
		t.Errorf("%d INFO %q lines, want 1", n, accepting)
	}
	if n := len(logs.Lines(t, "WARN", refusing)); n != 1 {
		t.Errorf("%d WARN lines, want still 1", n)
	}
}

// A failed commit makes a running guard look at the disk at once, not at
// its next tick: the disk may have filled between two.
func TestFailedCommitPokesTheGuard(t *testing.T) {
	disk := &fakeDisk{}
	disk.free.Store(1 << 40)
	disk.total.Store(2 << 40)
	g := NewDiskGuard(GuardConfig{Dir: "/data", MinFree: MinFree{Percent: 5}, Space: disk.space, Every: time.Hour})
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	go g.Run(ctx)
	st := &stubStore{Mem: storetest.NewMem()}
	w := New(st, slog.New(slog.DiscardHandler), Config{MaxPending: -1, Guard: g})
	done := make(chan error, 1)
	go func() { done <- w.Run(ctx) }()
	t.Cleanup(func() { cancel(); <-done })
	st.set(0, &bridge.Error{Code: bridge.EUNAVAILABLE, Message: "storage is full"})
	if err := submit(w, "a"); err == nil {
		t.Fatal("commit on a failing store succeeded")
	}
	deadline := time.Now().Add(5 * time.Second)
	for disk.reads.Load() == 0 {
		if time.Now().After(deadline) {
			t.Fatal("the guard did not read free space after a failed commit")
		}
		time.Sleep(time.Millisecond)
	}
}

// A nil guard, and a guard set to 0, never refuse.
func TestDiskGuardOff(t *testing.T) {
	var nilGuard *DiskGuard
	nilGuard.Check()
	nilGuard.Poke()
	if nilGuard.Refusal() != nil || nilGuard.Refusing() != "" {
		t.Error("a nil guard refuses")
	}
	disk := &fakeDisk{} // no free space at all
	g := NewDiskGuard(GuardConfig{Space: disk.space})
	g.Check()
	if g.Refusal() != nil || disk.reads.Load() != 0 {
		t.Errorf("a guard set to 0 read the disk (%d) or refuses (%v)", disk.reads.Load(), g.Refusal())
	}
}

// The platform's reading of free space works on the test's directory.
func TestDiskSpaceReadsTheFilesystem(t *testing.T) {
	free, total, err := diskSpace(t.TempDir())
	if err != nil {
		t.Skipf("no free-space reading here: %v", err)
	}
	if total == 0 || free > total {
		t.Errorf("diskSpace = free %d, total %d", free, total)
	}
}
