package ingest

import (
	"context"
	"fmt"
	"log/slog"
	"sync"
	"sync/atomic"
	"time"

	"corebridge/internal/bridge"
)

// Defaults of the disk guard.
const (
	DefaultDiskCheckEvery = time.Second     // how often the guard reads free space
	DiskRetryAfter        = 5 * time.Second // what a producer it refuses is told to wait
)

// DiskSpace reports the free bytes (available to the process) and the
// size of the filesystem holding dir.
type DiskSpace func(dir string) (free, total uint64, err error)

// GuardConfig configures a DiskGuard; zero values get the defaults.
type GuardConfig struct {
	// Dir is a directory on the filesystem to watch: the store's.
	Dir string
	// MinFree is the free space to keep; zero: the guard never refuses.
	MinFree MinFree
	// Every is how often Run reads free space (default DefaultDiskCheckEvery).
	Every time.Duration
	// Space reads free space (default: the filesystem's, by statfs; where
	// the platform has none, the guard never refuses).
	Space DiskSpace
	Log   *slog.Logger
}

// DiskGuard refuses ingest while free space on the store's filesystem is
// below MinFree, before anything is written, so that the disk never fills
// under the store: delivery (whose settles need a little room) keeps
// draining, and ingest resumes by itself once there is room again. It
// reads free space off the hot path: every second, and at once after a
// failed commit (Poke). Its methods are nil-safe: a nil guard never refuses.
type DiskGuard struct {
	cfg  GuardConfig
	poke chan struct{}

	refusing atomic.Pointer[diskRefusal] // nil: there is room

	mu         sync.Mutex // one check at a time; guards the fields below
	spaceErred bool       // a failure to read free space was logged
}

type diskRefusal struct {
	why   string
	err   *bridge.Error // what the writer answers
	since time.Time
}

// NewDiskGuard returns a guard; Run runs it. Call Check once before
// serving, so that a bridge started on a full disk refuses from the start.
func NewDiskGuard(cfg GuardConfig) *DiskGuard {
	if cfg.Every <= 0 {
		cfg.Every = DefaultDiskCheckEvery
	}
	if cfg.Space == nil {
		cfg.Space = diskSpace
	}
	if cfg.Log == nil {
		cfg.Log = slog.New(slog.DiscardHandler)
	}
	return &DiskGuard{cfg: cfg, poke: make(chan struct{}, 1)}
}

// Run checks free space every cfg.Every, and when poked, until ctx ends.
func (g *DiskGuard) Run(ctx context.Context) error {
	if g == nil || g.cfg.MinFree.Off() {
		return nil
	}
	t := time.NewTicker(g.cfg.Every)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return nil
		case <-t.C:
		case <-g.poke:
		}
		g.Check()
	}
}

// Poke asks for a check now (a commit failed: the disk may have filled
// between two ticks). It never blocks.
func (g *DiskGuard) Poke() {
	if g == nil {
		return
	}
	select {
	case g.poke <- struct{}{}:
	default:
	}
}

// Check reads free space once and starts or stops refusing, logging the
// change (WARN when it starts, INFO when it stops; nothing while it lasts).
func (g *DiskGuard) Check() {
	if g == nil || g.cfg.MinFree.Off() {
		return
	}
	g.mu.Lock()
	defer g.mu.Unlock()
	free, total, err := g.cfg.Space(g.cfg.Dir)
	if err != nil {
		// Not knowing is no reason to refuse: a commit that fails still says so.
		if !g.spaceErred {
			g.cfg.Log.Warn("disk guard: cannot read free space; not guarding", "dir", g.cfg.Dir, "err", err)
			g.spaceErred = true
		}
		return
	}
	if g.spaceErred {
		g.cfg.Log.Info("disk guard: reads free space again", "dir", g.cfg.Dir)
		g.spaceErred = false
	}
	old := g.refusing.Load()
	if !g.cfg.MinFree.below(free, total) {
		if old != nil {
			g.refusing.Store(nil)
			g.cfg.Log.Info("ingest accepts again: the disk has room", "dir", g.cfg.Dir, "free", formatBytes(free),
				"min_free_disk", g.cfg.MinFree.String(), "refused_for", time.Since(old.since).Round(time.Second).String())
		}
		return
	}
	why := fmt.Sprintf("disk almost full: %s free of %s, below --min-free-disk %s", formatBytes(free), formatBytes(total), g.cfg.MinFree)
	r := &diskRefusal{why: why, since: time.Now(), err: &bridge.Error{Code: bridge.EUNAVAILABLE,
		Message: why + "; nothing was stored, retry later", RetryAfter: DiskRetryAfter}}
	if old != nil {
		r.since = old.since
	} else {
		g.cfg.Log.Warn("ingest refusing: "+why, "dir", g.cfg.Dir, "free", formatBytes(free), "min_free_disk", g.cfg.MinFree.String())
	}
	g.refusing.Store(r)
}

// Refusal is the error ingest answers while the guard refuses, or nil.
func (g *DiskGuard) Refusal() error {
	if g == nil {
		return nil
	}
	if r := g.refusing.Load(); r != nil {
		return r.err
	}
	return nil
}

// Refusing says why the guard refuses ingest now, and since when, or ""
// (for health and /readyz).
func (g *DiskGuard) Refusing() string {
	if g == nil {
		return ""
	}
	r := g.refusing.Load()
	if r == nil {
		return ""
	}
	return fmt.Sprintf("ingest refuses producers since %s: %s", bridge.FormatTime(r.since), r.why)
}
