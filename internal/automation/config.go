package automation

import (
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"strings"
	"time"

	"github.com/robfig/cron/v3"

	"corebridge/client"
)

// Config is a parsed automation config: the jobs, in file order.
type Config struct {
	Jobs []Job
}

// Job is one named list of actions and the trigger that starts it.
type Job struct {
	Name    string
	Trigger Trigger
	// CatchUp says what to do about runs missed while the runner was
	// down: CatchUpSkip (the default) waits for the next slot,
	// CatchUpOnce runs the job once at start.
	CatchUp string
	Actions []Action
}

// Catch-up policies.
const (
	CatchUpSkip = "skip"
	CatchUpOnce = "once"
)

// Trigger types. A job without a trigger runs every Options.DefaultInterval.
const (
	TriggerStartup = "onStartup"
	TriggerMinutes = "intervalMinutes"
	TriggerSeconds = "intervalSeconds"
	TriggerCron    = "cron"
)

// Trigger says when a job runs in watch mode.
type Trigger struct {
	Type     string        // one of the Trigger* constants; "" = the default interval
	Every    time.Duration // for interval triggers
	Cron     string        // for cron: the 5-field expression (or @hourly, @daily, …)
	TimeZone string        // for cron: IANA zone; "" = the machine's local time

	sched cron.Schedule
	loc   *time.Location
}

// Action types.
const (
	ActionUpdate       = "send_core_update"
	ActionBucketStatus = "get_bucket_status"
	ActionHealth       = "check_health"
	ActionBatch        = "send_batch"
	ActionReplay       = "replay_dead_letters"
	ActionHTTP         = "http_request"
)

var actionTypes = []string{ActionUpdate, ActionBucketStatus, ActionHealth, ActionBatch, ActionReplay, ActionHTTP}

// DefaultAttempts is how many times an action is tried when it fails
// transiently and its config does not say otherwise.
const DefaultAttempts = 3

// Action is one step of a job. Type says which of the other fields apply.
type Action struct {
	Type     string
	Attempts int // 1–10; DefaultAttempts when the config gives none

	Update  client.UpdateRequest   // send_core_update
	Batch   []client.UpdateRequest // send_batch
	Asserts []Assertion            // check_health, get_bucket_status
	Replay  client.Selector        // replay_dead_letters
	HTTP    HTTPAction             // http_request
}

// HTTPAction is the request of an http_request action.
type HTTPAction struct {
	Method string
	// URL is absolute, or a path ("/core/health") on the bridge's API; only
	// the latter carries the runner's token, so that it never leaks to
	// another host.
	URL          string
	Headers      map[string]string
	Body         []byte // nil = no body
	ExpectStatus []int  // nil = any 2xx
}

// ConfigError is one problem of a config: the job it is in (by name, when
// the job has one), the JSON path of the field, and what is wrong.
type ConfigError struct {
	Job     string // "" for problems outside any job, or a job without a name
	Field   string // e.g. jobs[2].trigger.value
	Problem string
}

func (e *ConfigError) Error() string {
	var b strings.Builder
	if e.Job != "" {
		fmt.Fprintf(&b, "job %q: ", e.Job)
	}
	if e.Field != "" {
		b.WriteString(e.Field + ": ")
	}
	b.WriteString(e.Problem)
	return b.String()
}

// ConfigErrors lists every problem found in a config, in file order, so
// that one edit can fix them all.
type ConfigErrors []*ConfigError

func (es ConfigErrors) Error() string {
	msgs := make([]string, len(es))
	for i, e := range es {
		msgs[i] = e.Error()
	}
	return strings.Join(msgs, "\n")
}

// Load reads and checks the config file at path. Any problem, a missing
// file included, comes back as an error whose text names the file; the
// config's own problems are ConfigErrors (find them with errors.As).
func Load(path string) (*Config, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("automation config: %w", err)
	}
	cfg, err := Parse(b)
	if err != nil {
		return nil, fmt.Errorf("automation config %s:\n%w", path, err)
	}
	return cfg, nil
}

// Parse checks and decodes a config. Unknown fields and unknown trigger or
// action types are errors: a typo must not turn into a job that silently
// never runs.
func Parse(b []byte) (*Config, error) {
	var top map[string]json.RawMessage
	if err := json.Unmarshal(b, &top); err != nil {
		return nil, ConfigErrors{{Problem: jsonProblem(b, err)}}
	}
	d := &decoder{}
	d.keys("", "", top, "jobs")
	var cfg Config
	raw, ok := top["jobs"]
	if !ok {
		d.fail("", "jobs", "required")
		return nil, d.errs
	}
	var jobs []json.RawMessage
	if err := json.Unmarshal(raw, &jobs); err != nil || jobs == nil {
		d.fail("", "jobs", "must be a list of jobs")
		return nil, d.errs
	}
	if len(jobs) == 0 {
		d.fail("", "jobs", "is empty: nothing to run")
	}
	seen := map[string]int{}
	for i, rj := range jobs {
		j, ok := d.job(fmt.Sprintf("jobs[%d]", i), rj)
		if !ok {
			continue
		}
		if prev, dup := seen[j.Name]; dup {
			d.fail(j.Name, fmt.Sprintf("jobs[%d].name", i), fmt.Sprintf("duplicate of jobs[%d].name: job names must be unique", prev))
			continue
		}
		seen[j.Name] = i
		cfg.Jobs = append(cfg.Jobs, j)
	}
	if len(d.errs) > 0 {
		return nil, d.errs
	}
	return &cfg, nil
}

// jsonProblem describes a syntax error by line and column, which is what a
// person editing the file needs.
func jsonProblem(b []byte, err error) string {
	var se *json.SyntaxError
	if !errors.As(err, &se) {
		return "not a JSON object: " + err.Error()
	}
	line, col := 1, 1
	for _, c := range b[:min(max(int(se.Offset)-1, 0), len(b))] { // Offset is just past the bad byte
		if c == '\n' {
			line, col = line+1, 1
		} else {
			col++
		}
	}
	return fmt.Sprintf("invalid JSON at line %d, column %d: %v", line, col, se)
}
