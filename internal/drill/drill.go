// Package drill is `corebridge drill`: it proves the bridge's guarantees
// on the machine it runs on. In a scratch directory it starts the
// reference Bucket and one or more bridges (serve) as child processes of
// the corebridge binary, runs producers against them, injects faults in
// turn (kill -9 of a bridge with batches in flight, the Bucket stopped,
// flaky, slow, a full disk), measures how long each takes to recover, and
// at the end checks what the Bucket holds against what was acknowledged:
// nothing lost, nothing duplicated, each module in order.
package drill

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"time"

	"corebridge/internal/bucket"
)

// DefaultModules are the modules the producers send as, in turn.
var DefaultModules = []string{"education", "finance", "creative", "robotics"}

// Options configures a drill; zero values get the defaults.
type Options struct {
	// Binary is the corebridge executable to run as children (default:
	// this process's own, os.Executable).
	Binary string
	// Dir is the scratch directory (default a new temporary directory). It
	// must not exist or be empty. It is removed at the end unless Keep.
	Dir  string
	Keep bool
	// Duration is how long the producers send and the faults are spread
	// over (default 60 s). The drill takes longer: start, recoveries, the
	// final drain.
	Duration time.Duration
	// Records caps how many updates the producers send in all (0: as many
	// as Duration allows at Interval per producer).
	Records int
	// Modules is how many modules send, one producer each (default 4).
	Modules int
	// Interval is the pause between two updates of one producer (default
	// 25 ms: about 40 updates a second per module, a modest load).
	Interval time.Duration
	// Replicas is how many serve processes run (default 1); more than one
	// needs Store to be a PostgreSQL URL.
	Replicas int
	// Store is "" or "sqlite" (each bridge's own SQLite database in the
	// scratch directory) or a postgres:// URL (every replica shares it).
	Store string
	// BucketURL, if set, is a Bucket of the user's: the drill does not
	// start it or fault it, and cannot list it, so lost and duplicated
	// records are checked only through Reconcile.
	BucketURL string
	// Reconcile, when set, tells what the Bucket holds of the acknowledged
	// records, for a Bucket the drill cannot list (BucketURL). It is the
	// hook for `corebridge reconcile` / the bridge's reconciliation route.
	// Without it and with BucketURL, lost and duplicated cannot be checked
	// and the drill fails saying so.
	Reconcile func(ctx context.Context, acked []Acked) (Reconciled, error)
	// RecoveryTimeout bounds the wait for each fault's recovery (default 45 s).
	RecoveryTimeout time.Duration
	// DrainTimeout bounds the final wait for everything acknowledged to be
	// delivered (default 60 s).
	DrainTimeout time.Duration
	// Progress, if set, gets a line for each step as it happens.
	Progress io.Writer
}

// Reconciled is what Options.Reconcile found for the acknowledged records.
type Reconciled struct {
	// Held is how many of them the Bucket holds.
	Held int
	// Lost are the ids of acknowledged records the Bucket does not hold.
	Lost []string
	// Duplicates are producer updates held more than once.
	Duplicates []Duplicate
	// OrderChecked says whether the order was checked; OrderViolations
	// lists what was found then.
	OrderChecked    bool
	OrderViolations []OrderViolation
}

// Report is the drill's result, printed as text or (with JSON tags) JSON.
type Report struct {
	Passed bool `json:"passed"`
	// Interrupted: the drill ended (ctx, a child that would not start)
	// before its check; nothing was checked.
	Interrupted bool      `json:"interrupted"`
	Run         string    `json:"run"`
	Started     time.Time `json:"started"`
	Seconds     float64   `json:"seconds"`
	Dir         string    `json:"dir"`
	Kept        bool      `json:"kept"`
	Store       string    `json:"store"`
	Replicas    int       `json:"replicas"`
	Bucket      string    `json:"bucket"`
	// Checked says whether lost and duplicated records could be checked
	// (not with a Bucket of the user's and no Reconcile); OrderChecked the
	// same for the order.
	Checked      bool `json:"checked"`
	OrderChecked bool `json:"order_checked"`

	Sent            int `json:"sent"`
	Acknowledged    int `json:"acknowledged"`
	Held            int `json:"held"`
	HeldUnacked     int `json:"held_not_acknowledged"`
	Retries         int `json:"retries"`
	Refused503      int `json:"refused_503"`
	ConnErrors      int `json:"connection_errors"`
	LostCount       int `json:"lost_count"`
	DuplicatedCount int `json:"duplicated_count"`
	OrderCount      int `json:"order_violation_count"`

	Lost            []LostRecord     `json:"lost"`
	Duplicated      []Duplicate      `json:"duplicated"`
	OrderViolations []OrderViolation `json:"order_violations"`
	Unexpected      []string         `json:"unexpected_answers"`
	Statuses        map[string]int   `json:"statuses"`
	Modules         []ModuleReport   `json:"modules"`
	Faults          []FaultReport    `json:"faults"`
	// Problems says, in words, everything that made the drill fail.
	Problems []string `json:"problems"`
	// Reconciliation is the last step: the bridge reconciled with the
	// Bucket by fingerprints (corebridge reconcile), once all was delivered.
	Reconciliation *Reconciliation `json:"reconciliation,omitempty"`
}

// ModuleReport is one module's line of the report.
type ModuleReport struct {
	Module          string `json:"module"`
	Sent            int    `json:"sent"`
	Acknowledged    int    `json:"acknowledged"`
	Held            int    `json:"held"`
	Lost            int    `json:"lost"`
	Duplicated      int    `json:"duplicated"`
	OrderViolations int    `json:"order_violations"`
	Retries         int    `json:"retries"`
}

// FaultReport is one fault: when it came, how long it lasted, and how long
// the bridge took to recover from its end.
type FaultReport struct {
	Name       string  `json:"name"`
	What       string  `json:"what"`
	Skipped    bool    `json:"skipped"`
	SkipReason string  `json:"skip_reason,omitempty"`
	AtSeconds  float64 `json:"at_s"`
	LastedMs   int64   `json:"lasted_ms"`
	Recovered  bool    `json:"recovered"`
	RecoveryMs int64   `json:"time_to_recover_ms"`
	Observed   string  `json:"observed,omitempty"`
	Failure    string  `json:"failure,omitempty"`
}

// Run runs the drill. It returns an error only when the drill could not
// be run (a child would not start, the scratch directory is not usable,
// ctx ended); a drill that ran and found a problem returns a Report with
// Passed false. Every child process is killed and every mount undone
// before Run returns.
func Run(ctx context.Context, o Options) (rep Report, err error) {
	if err := o.defaults(); err != nil {
		return Report{}, err
	}
	d := &drill{o: o, run: runID()}
	rep = Report{Run: d.run, Started: time.Now().UTC(), Replicas: o.Replicas, Statuses: map[string]int{}}
	d.rep = &rep
	defer func() {
		if cerr := d.cleanup(); cerr != nil && err == nil {
			err = cerr
		}
		rep.Seconds = time.Since(rep.Started).Round(time.Millisecond).Seconds()
	}()
	if err := d.setup(ctx); err != nil {
		return rep, d.interrupted(ctx, err)
	}
	if err := d.exercise(ctx); err != nil {
		return rep, d.interrupted(ctx, err)
	}
	d.check(ctx)
	return rep, ctx.Err()
}

// interrupted marks the report of a drill that did not reach its check.
func (d *drill) interrupted(ctx context.Context, err error) error {
	d.rep.Interrupted = true
	if ctx.Err() != nil {
		d.rep.Problems = append(d.rep.Problems, "interrupted before the check: nothing was checked")
	} else {
		d.rep.Problems = append(d.rep.Problems, "stopped before the check: "+err.Error())
	}
	return err
}

func (o *Options) defaults() error {
	if o.Binary == "" {
		exe, err := os.Executable()
		if err != nil {
			return fmt.Errorf("find the corebridge binary: %w", err)
		}
		o.Binary = exe
	}
	if o.Duration <= 0 {
		o.Duration = 60 * time.Second
	}
	if o.Modules <= 0 {
		o.Modules = len(DefaultModules)
	}
	if o.Interval <= 0 {
		o.Interval = 25 * time.Millisecond
	}
	if o.Replicas <= 0 {
		o.Replicas = 1
	}
	if o.RecoveryTimeout <= 0 {
		o.RecoveryTimeout = 45 * time.Second
	}
	if o.DrainTimeout <= 0 {
		o.DrainTimeout = 60 * time.Second
	}
	if o.Records < 0 {
		return errors.New("records must be 0 (no cap) or more")
	}
	switch {
	case o.Store == "" || o.Store == "sqlite":
		o.Store = ""
		if o.Replicas > 1 {
			return errors.New("several replicas share one PostgreSQL database: give --store postgres://…")
		}
	case isPostgres(o.Store):
	default:
		return fmt.Errorf("store %q: want sqlite or a postgres:// URL", o.Store)
	}
	return nil
}

func isPostgres(s string) bool {
	return strings.HasPrefix(s, "postgres://") || strings.HasPrefix(s, "postgresql://")
}

// moduleNames are the first n modules: the four Core modules, then m5, m6, …
func moduleNames(n int) []string {
	out := make([]string, 0, n)
	for i := range n {
		if i < len(DefaultModules) {
			out = append(out, DefaultModules[i])
		} else {
			out = append(out, fmt.Sprintf("m%d", i+1))
		}
	}
	return out
}

func runID() string {
	b := make([]byte, 4)
	rand.Read(b)
	return time.Now().UTC().Format("20060102T150405") + "-" + hex.EncodeToString(b)
}

// drill is one run's state.
type drill struct {
	o   Options
	run string
	rep *Report

	dir, ownDir string // scratch directory; ownDir if the drill created it
	mounted     string // the tmpfs mount point, if any
	diskSkip    string // why there is no full-disk fault
	minFree     int64  // --min-free-disk on the tmpfs

	bucketProc *proc
	bucketArgs []string
	bucketURL  string
	bc         *bucket.Client // nil for a Bucket of the user's

	bridges    []*proc
	bridgeArgs [][]string
	prod       *producers
}

func (d *drill) logf(format string, args ...any) {
	if d.o.Progress != nil {
		fmt.Fprintf(d.o.Progress, "drill: "+format+"\n", args...)
	}
}

// setup makes the scratch directory, mounts the small disk if it can, and
// starts the Bucket and the bridges.
func (d *drill) setup(ctx context.Context) error {
	if d.o.Dir == "" {
		dir, err := os.MkdirTemp("", "corebridge-drill-")
		if err != nil {
			return err
		}
		d.dir, d.ownDir = dir, dir
	} else {
		abs, err := filepath.Abs(d.o.Dir)
		if err != nil {
			return err
		}
		if ents, err := os.ReadDir(abs); err == nil && len(ents) > 0 {
			return fmt.Errorf("--dir %s is not empty: the drill wants a scratch directory of its own", abs)
		}
		if err := os.MkdirAll(abs, 0o755); err != nil {
			return err
		}
		d.dir, d.ownDir = abs, abs
	}
	d.rep.Dir = d.dir
	d.logf("scratch directory %s, run %s", d.dir, d.run)

	// The data directory of a single SQLite bridge goes on a small tmpfs,
	// for the full-disk fault.
	if d.o.Store != "" {
		d.diskSkip = "the store is PostgreSQL, whose disk is not the drill's to fill"
		d.rep.Store = "postgres"
	} else {
		d.rep.Store = "sqlite"
		size := int64(64<<20) + int64(d.o.Duration.Seconds())*(512<<10)
		if err := mountSmallDisk(filepath.Join(d.dir, "data"), size); err != nil {
			d.diskSkip = err.Error()
		} else {
			d.mounted = filepath.Join(d.dir, "data")
			d.minFree = 16 << 20
			d.logf("data directory on a %d MiB tmpfs at %s", size>>20, d.mounted)
		}
	}
	if err := os.MkdirAll(filepath.Join(d.dir, "logs"), 0o755); err != nil {
		return err
	}

	if d.o.BucketURL == "" {
		d.rep.Bucket = "reference Bucket, started by the drill"
		d.bucketProc = &proc{name: "bucket", bin: d.o.Binary, logPath: filepath.Join(d.dir, "logs", "bucket.log")}
		d.bucketArgs = []string{"bucket", "--data-dir", filepath.Join(d.dir, "bucket")}
		if err := d.bucketProc.start(ctx, d.bucketArgs...); err != nil {
			return err
		}
		d.bucketURL = d.bucketProc.url()
		d.bc = bucket.NewClient(d.bucketURL, bucket.WithTimeout(10*time.Second))
		d.logf("reference Bucket on %s", d.bucketURL)
	} else {
		d.bucketURL = d.o.BucketURL
		d.rep.Bucket = "the user's Bucket (--bucket-url), not started or faulted by the drill"
	}

	for i := range d.o.Replicas {
		name := "bridge"
		if d.o.Replicas > 1 {
			name = fmt.Sprintf("bridge-%d", i)
		}
		dataDir := filepath.Join(d.dir, "data")
		if d.o.Replicas > 1 {
			dataDir = filepath.Join(d.dir, fmt.Sprintf("data-%d", i))
		}
		args := []string{"serve", "--data-dir", dataDir, "--bucket-url", d.bucketURL,
			"--instance", "drill-" + name,
			// The insight logs are not what the drill checks.
			"--core-sync-log", "off", "--flow-log", "off", "--metrics-log", "off",
			// The drill makes the Bucket fail on purpose: the 24 h success
			// rate would keep health degraded for a day after it.
			"--degraded-success-pct", "0",
		}
		if d.mounted != "" {
			args = append(args, "--min-free-disk", fmt.Sprint(d.minFree))
		}
		if d.o.Store != "" {
			args = append(args, "--postgres-url", d.o.Store)
		}
		p := &proc{name: name, bin: d.o.Binary, logPath: filepath.Join(d.dir, "logs", name+".log")}
		d.bridges = append(d.bridges, p)
		d.bridgeArgs = append(d.bridgeArgs, args)
		if err := p.start(ctx, args...); err != nil {
			return err
		}
		d.logf("%s on %s", name, p.url())
	}
	if d.o.Replicas > 1 {
		d.rep.Store = fmt.Sprintf("postgres, %d replicas", d.o.Replicas)
	}
	return nil
}

// cleanup kills every child, undoes the mount and removes the scratch
// directory (unless Keep).
func (d *drill) cleanup() error {
	for _, b := range d.bridges {
		b.stop(5 * time.Second)
	}
	if d.bucketProc != nil {
		d.bucketProc.stop(5 * time.Second)
	}
	var errs []error
	if d.mounted != "" {
		if d.o.Keep {
			if err := copyTree(d.mounted, d.mounted+".kept"); err != nil {
				errs = append(errs, fmt.Errorf("keep the data directory: %w", err))
			}
		}
		if err := unmountSmallDisk(d.mounted); err != nil {
			errs = append(errs, err)
		}
	}
	if d.ownDir != "" {
		if d.o.Keep {
			d.rep.Kept = true
			if d.mounted != "" {
				d.logf("kept %s (the tmpfs data directory copied to data.kept)", d.dir)
			} else {
				d.logf("kept %s", d.dir)
			}
		} else if err := os.RemoveAll(d.ownDir); err != nil {
			errs = append(errs, err)
		}
	}
	return errors.Join(errs...)
}

// copyTree copies the regular files under src to dst.
func copyTree(src, dst string) error {
	return filepath.WalkDir(src, func(path string, e os.DirEntry, err error) error {
		if err != nil {
			return err
		}
		rel, _ := filepath.Rel(src, path)
		to := filepath.Join(dst, rel)
		if e.IsDir() {
			return os.MkdirAll(to, 0o755)
		}
		if !e.Type().IsRegular() || e.Name() == "drill-ballast" {
			return nil
		}
		b, err := os.ReadFile(path)
		if err != nil {
			return err
		}
		return os.WriteFile(to, b, 0o644)
	})
}

// bases are the bridges' base URLs.
func (d *drill) bases() []string {
	out := make([]string, len(d.bridges))
	for i, b := range d.bridges {
		out[i] = b.url()
	}
	return out
}

// sortedModules is the module names of m in order.
func sortedModules[V any](m map[string]V) []string {
	out := make([]string, 0, len(m))
	for k := range m {
		out = append(out, k)
	}
	sort.Strings(out)
	return out
}
