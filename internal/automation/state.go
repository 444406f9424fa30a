package automation

import (
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"time"
)

// stateFileName holds each job's last run, so that a restarted runner
// keeps the jobs' rhythm and knows which runs it missed while down.
const stateFileName = "state.json"

type stateDoc struct {
	Jobs map[string]jobState `json:"jobs"`
}

type jobState struct {
	LastRun time.Time `json:"last_run"`
}

// loadState reads state.json once; a missing file is a first start.
func (r *Runner) loadState() error {
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.loaded || r.files == nil {
		return nil
	}
	if err := os.MkdirAll(r.files.dir, 0o700); err != nil {
		return fmt.Errorf("automation: reports directory: %w", err)
	}
	b, err := os.ReadFile(filepath.Join(r.files.dir, stateFileName))
	if errors.Is(err, fs.ErrNotExist) {
		r.loaded = true
		return nil
	}
	if err != nil {
		return fmt.Errorf("automation: %w", err)
	}
	var doc stateDoc
	if err := json.Unmarshal(b, &doc); err != nil {
		// A damaged state file costs at most a catch-up: say so and go on.
		r.log.Warn("ignoring an unreadable state file", "file", filepath.Join(r.files.dir, stateFileName), "err", err)
	}
	for name, js := range doc.Jobs {
		r.last[name] = js.LastRun
	}
	r.loaded = true
	return nil
}

func (r *Runner) lastRun(job string) (time.Time, bool) {
	r.mu.Lock()
	defer r.mu.Unlock()
	t, ok := r.last[job]
	return t, ok
}

func (r *Runner) setLastRun(job string, t time.Time) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.last[job] = t
}

// saveState writes state.json through a temporary file and a rename, so
// that a crash leaves the old state or the new, never half of one.
func (r *Runner) saveState() error {
	r.mu.Lock()
	doc := stateDoc{Jobs: map[string]jobState{}}
	for _, j := range r.cfg.Jobs { // jobs gone from the config are forgotten
		if t, ok := r.last[j.Name]; ok {
			doc.Jobs[j.Name] = jobState{LastRun: t.UTC()}
		}
	}
	r.mu.Unlock()
	b, err := json.MarshalIndent(doc, "", "  ")
	if err != nil {
		return fmt.Errorf("automation: encode state: %w", err)
	}
	r.files.stateMu.Lock()
	defer r.files.stateMu.Unlock()
	path := filepath.Join(r.files.dir, stateFileName)
	tmp := path + ".tmp"
	if err := os.WriteFile(tmp, append(b, '\n'), 0o600); err != nil {
		return fmt.Errorf("automation: write state: %w", err)
	}
	if err := os.Rename(tmp, path); err != nil {
		return fmt.Errorf("automation: write state: %w", err)
	}
	return nil
}
