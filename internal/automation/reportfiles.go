package automation

import (
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"log/slog"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"time"

	"gopkg.in/natefinch/lumberjack.v2"
)

// The report files, named as the prototype named them.
const (
	runPrefix    = "run_"
	runSuffix    = ".jsonl"
	runStamp     = "20060102T150405Z"
	runnerLog    = "runner.log"
	dailyLogName = "daily_log.txt"
)

// runner.log and daily_log.txt rotate by size, as the InsightFlow logs do
// (lumberjack): past logMaxSizeMB the file is renamed with a timestamp
// (runner-2026-12-08T10-00-00.000.log) and a new one started; the newest
// logBackups renamed files are kept.
const (
	logMaxSizeMB = 10
	logBackups   = 5
)

// reportFiles writes a reports directory. Watch mode runs batches in
// parallel, so the files every batch shares are written under locks.
type reportFiles struct {
	dir    string
	keep   int
	maxAge time.Duration

	// maxSizeMB and backups rotate runner.log and daily_log.txt (0:
	// logMaxSizeMB, logBackups).
	maxSizeMB, backups int

	dailyMu sync.Mutex
	stateMu sync.Mutex
	logMu   sync.Mutex
	pruneMu sync.Mutex

	daily, runLog *lumberjack.Logger // opened at first use, under dailyMu and logMu
}

// rotating returns the rotating writer of the reports directory's file
// name, opening it the first time (the caller holds that file's lock).
func (rf *reportFiles) rotating(lj **lumberjack.Logger, name string) (*lumberjack.Logger, error) {
	// Reports may name modules and hold errors: the owner's only
	// (lumberjack would create the directory 0755, the file 0600).
	if err := os.MkdirAll(rf.dir, 0o700); err != nil {
		return nil, fmt.Errorf("automation: reports directory: %w", err)
	}
	if *lj == nil {
		size, backups := rf.maxSizeMB, rf.backups
		if size <= 0 {
			size = logMaxSizeMB
		}
		if backups <= 0 {
			backups = logBackups
		}
		*lj = &lumberjack.Logger{Filename: filepath.Join(rf.dir, name), MaxSize: size, MaxBackups: backups}
	}
	return *lj, nil
}

// runFile is one run_<UTC timestamp>.jsonl: one line per job.
type runFile struct {
	name, path string
	f          *os.File
}

// create makes the run file of a run started at t. Two runs in one second
// (watch mode) get _2, _3, … rather than sharing a file.
func (rf *reportFiles) create(t time.Time) (*runFile, error) {
	if err := os.MkdirAll(rf.dir, 0o700); err != nil {
		return nil, fmt.Errorf("automation: reports directory: %w", err)
	}
	base := runPrefix + t.UTC().Format(runStamp)
	for i := 1; i < 1000; i++ {
		name := base + runSuffix
		if i > 1 {
			name = fmt.Sprintf("%s_%d%s", base, i, runSuffix)
		}
		path := filepath.Join(rf.dir, name)
		f, err := os.OpenFile(path, os.O_WRONLY|os.O_CREATE|os.O_EXCL, 0o600)
		if errors.Is(err, fs.ErrExist) {
			continue
		}
		if err != nil {
			return nil, fmt.Errorf("automation: %w", err)
		}
		return &runFile{name: name, path: path, f: f}, nil
	}
	return nil, fmt.Errorf("automation: too many run files named %s*", base)
}

// add writes a job's line as soon as the job ends, so that a run cut
// short still reports the jobs it finished.
func (f *runFile) add(res JobResult) error {
	b, err := json.Marshal(res)
	if err != nil {
		return fmt.Errorf("automation: encode report of job %q: %w", res.Job, err)
	}
	if _, err := f.f.Write(append(b, '\n')); err != nil {
		return fmt.Errorf("automation: %w", err)
	}
	return nil
}

func (f *runFile) close() error {
	if err := f.f.Close(); err != nil {
		return fmt.Errorf("automation: %w", err)
	}
	return nil
}

// summarize appends the run's one line to daily_log.txt, e.g.
//
//	2026-11-29T14:03:07Z run_20261129T140307Z.jsonl trigger=once jobs=5 ok=4 failed=1 skipped=0 duration=1.204s failed_jobs=education-sync
func (rf *reportFiles) summarize(rep Report) error {
	var failed []string
	for _, j := range rep.Jobs {
		if j.Status == StatusFailed {
			failed = append(failed, j.Job)
		}
	}
	line := fmt.Sprintf("%s %s trigger=%q jobs=%d ok=%d failed=%d skipped=%d duration=%s",
		rep.Started.UTC().Format(time.RFC3339), filepath.Base(rep.File), rep.Trigger, len(rep.Jobs),
		rep.Count(StatusOK), rep.Failed(), rep.Count(StatusSkipped), rep.Duration.Round(time.Millisecond))
	if len(failed) > 0 {
		line += fmt.Sprintf(" failed_jobs=%q", strings.Join(failed, ","))
	}
	rf.dailyMu.Lock()
	defer rf.dailyMu.Unlock()
	w, err := rf.rotating(&rf.daily, dailyLogName)
	if err != nil {
		return err
	}
	if _, err := w.Write([]byte(line + "\n")); err != nil {
		return fmt.Errorf("automation: %w", err)
	}
	return nil
}

// logWriter appends each log record to runner.log, rotated by size. The
// file stays open for the runner's life (a runner lives as long as its
// process and has nothing to close).
func (rf *reportFiles) logWriter() logFile { return logFile{rf} }

type logFile struct{ rf *reportFiles }

func (l logFile) Write(p []byte) (int, error) {
	l.rf.logMu.Lock()
	defer l.rf.logMu.Unlock()
	w, err := l.rf.rotating(&l.rf.runLog, runnerLog)
	if err != nil {
		return 0, err
	}
	return w.Write(p)
}

// prune deletes run files beyond the newest keep and those older than
// maxAge, going by the time in their names (the clock's, not the disk's).
func (rf *reportFiles) prune(now time.Time, log *slog.Logger) {
	rf.pruneMu.Lock()
	defer rf.pruneMu.Unlock()
	entries, err := os.ReadDir(rf.dir)
	if err != nil {
		log.Warn("cannot list reports to prune", "err", err)
		return
	}
	type run struct {
		name string
		at   time.Time
	}
	var runs []run
	for _, e := range entries {
		n := e.Name()
		if !strings.HasPrefix(n, runPrefix) || !strings.HasSuffix(n, runSuffix) || len(n) < len(runPrefix)+len(runStamp) {
			continue
		}
		at, err := time.Parse(runStamp, n[len(runPrefix):len(runPrefix)+len(runStamp)])
		if err != nil {
			continue // not one of ours
		}
		runs = append(runs, run{n, at})
	}
	slices.SortFunc(runs, func(a, b run) int { return strings.Compare(b.name, a.name) }) // newest first
	for i, r := range runs {
		tooMany := rf.keep >= 0 && i >= rf.keep
		tooOld := rf.maxAge >= 0 && now.Sub(r.at) > rf.maxAge
		if !tooMany && !tooOld {
			continue
		}
		if err := os.Remove(filepath.Join(rf.dir, r.name)); err != nil && !errors.Is(err, fs.ErrNotExist) {
			log.Warn("cannot prune a report", "file", r.name, "err", err)
		}
	}
}
