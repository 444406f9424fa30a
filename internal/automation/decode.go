package automation

import (
	"bytes"
	"encoding/json"
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/robfig/cron/v3"
)

// decoder walks a config by hand rather than through struct tags, so that
// every problem can be reported with its job and exact field path.
type decoder struct {
	errs ConfigErrors
}

func (d *decoder) fail(job, field, problem string) {
	d.errs = append(d.errs, &ConfigError{Job: job, Field: field, Problem: problem})
}

// object decodes raw as a JSON object, or reports that it is not one.
func (d *decoder) object(job, path string, raw json.RawMessage) (map[string]json.RawMessage, bool) {
	var m map[string]json.RawMessage
	if err := json.Unmarshal(raw, &m); err != nil || m == nil {
		d.fail(job, path, "must be an object")
		return nil, false
	}
	return m, true
}

// keys reports every member of m not in allowed.
func (d *decoder) keys(job, path string, m map[string]json.RawMessage, allowed ...string) {
	var unknown []string
	for k := range m {
		if !slices.Contains(allowed, k) {
			unknown = append(unknown, k)
		}
	}
	slices.Sort(unknown)
	for _, k := range unknown {
		d.fail(job, join(path, k), fmt.Sprintf("unknown field (allowed: %s)", strings.Join(allowed, ", ")))
	}
}

func join(path, key string) string {
	if path == "" {
		return key
	}
	return path + "." + key
}

func (d *decoder) str(job, path string, raw json.RawMessage) (string, bool) {
	var s string
	if err := json.Unmarshal(raw, &s); err != nil {
		d.fail(job, path, "must be a string")
		return "", false
	}
	return s, true
}

// requiredStr reads m[key] as a string at path.key, failing "required"
// when it is missing (and as str does when it is not a string).
func (d *decoder) requiredStr(job, path string, m map[string]json.RawMessage, key string) (string, bool) {
	raw, ok := m[key]
	if !ok {
		d.fail(job, path+"."+key, "required")
		return "", false
	}
	return d.str(job, path+"."+key, raw)
}

func (d *decoder) job(path string, raw json.RawMessage) (Job, bool) {
	m, ok := d.object("", path, raw)
	if !ok {
		return Job{}, false
	}
	var j Job
	nerr := len(d.errs)
	if s, ok := d.requiredStr("", path, m, "name"); ok {
		if strings.TrimSpace(s) == "" {
			d.fail("", path+".name", "must not be empty")
		}
		j.Name = s
	}
	d.keys(j.Name, path, m, "name", "trigger", "catchUp", "actions")
	if rt, ok := m["trigger"]; ok {
		j.Trigger = d.trigger(j.Name, path+".trigger", rt)
	}
	j.CatchUp = CatchUpSkip
	if rc, ok := m["catchUp"]; ok {
		if s, ok := d.str(j.Name, path+".catchUp", rc); ok {
			if s != CatchUpSkip && s != CatchUpOnce {
				d.fail(j.Name, path+".catchUp", fmt.Sprintf("must be %q or %q, not %q", CatchUpSkip, CatchUpOnce, s))
			}
			j.CatchUp = s
		}
	}
	if ra, ok := m["actions"]; !ok {
		d.fail(j.Name, path+".actions", "required")
	} else {
		var acts []json.RawMessage
		if err := json.Unmarshal(ra, &acts); err != nil || acts == nil {
			d.fail(j.Name, path+".actions", "must be a list of actions")
		} else if len(acts) == 0 {
			d.fail(j.Name, path+".actions", "is empty: the job would do nothing")
		}
		for i, a := range acts {
			j.Actions = append(j.Actions, d.action(j.Name, fmt.Sprintf("%s.actions[%d]", path, i), a))
		}
	}
	return j, len(d.errs) == nerr
}

func (d *decoder) trigger(job, path string, raw json.RawMessage) Trigger {
	var t Trigger
	m, ok := d.object(job, path, raw)
	if !ok {
		return t
	}
	d.keys(job, path, m, "type", "value", "timezone")
	if t.Type, ok = d.requiredStr(job, path, m, "type"); !ok {
		return t
	}
	if _, ok := m["timezone"]; ok && t.Type != TriggerCron {
		d.fail(job, path+".timezone", "only a cron trigger takes a time zone")
	}
	switch t.Type {
	case TriggerStartup:
		// The prototype's onStartup triggers may carry a value; it means nothing.
	case TriggerMinutes, TriggerSeconds:
		unit := time.Minute
		if t.Type == TriggerSeconds {
			unit = time.Second
		}
		var v float64
		if err := json.Unmarshal(m["value"], &v); err != nil || m["value"] == nil {
			d.fail(job, path+".value", "must be a number ("+unitName(unit)+" between runs)")
		} else if ns := v * float64(unit); ns < float64(time.Second) || ns > float64(maxInterval) {
			d.fail(job, path+".value", fmt.Sprintf("must be between 1 second and 366 days, not %v %s", v, unitName(unit)))
		} else {
			t.Every = time.Duration(ns).Round(time.Millisecond)
		}
	case TriggerCron:
		d.cron(job, path, m, &t)
	default:
		d.fail(job, path+".type", fmt.Sprintf("unknown trigger type %q (want %s, %s, %s or %s)",
			t.Type, TriggerStartup, TriggerMinutes, TriggerSeconds, TriggerCron))
	}
	return t
}

// maxInterval bounds interval triggers: beyond a year is surely a typo.
const maxInterval = 366 * 24 * time.Hour

func unitName(u time.Duration) string {
	if u == time.Minute {
		return "minutes"
	}
	return "seconds"
}

// cronParser reads standard 5-field expressions and the @hourly-style
// descriptors.
var cronParser = cron.NewParser(cron.Minute | cron.Hour | cron.Dom | cron.Month | cron.Dow | cron.Descriptor)

func (d *decoder) cron(job, path string, m map[string]json.RawMessage, t *Trigger) {
	rv, ok := m["value"]
	if !ok {
		d.fail(job, path+".value", `required: a 5-field cron expression such as "*/15 * * * *"`)
		return
	}
	expr, ok := d.str(job, path+".value", rv)
	if !ok {
		return
	}
	expr = strings.TrimSpace(expr)
	switch {
	case expr == "":
		d.fail(job, path+".value", "must not be empty")
		return
	case strings.HasPrefix(expr, "TZ=") || strings.HasPrefix(expr, "CRON_TZ="):
		d.fail(job, path+".value", `give the time zone in "timezone", not in the expression`)
		return
	case strings.HasPrefix(expr, "@every"):
		d.fail(job, path+".value", "use an intervalSeconds or intervalMinutes trigger instead of @every")
		return
	}
	sched, err := cronParser.Parse(expr)
	if err != nil {
		d.fail(job, path+".value", fmt.Sprintf("invalid cron expression %q: %v", expr, err))
		return
	}
	if sched.Next(time.Now()).IsZero() {
		d.fail(job, path+".value", fmt.Sprintf("cron expression %q never matches a date", expr))
		return
	}
	t.Cron, t.sched, t.loc = expr, sched, time.Local
	if rz, ok := m["timezone"]; ok {
		tz, ok := d.str(job, path+".timezone", rz)
		if !ok {
			return
		}
		loc, err := time.LoadLocation(tz)
		if err != nil || tz == "" {
			d.fail(job, path+".timezone", fmt.Sprintf("unknown time zone %q (want an IANA name such as Europe/Berlin)", tz))
			return
		}
		t.TimeZone, t.loc = tz, loc
	}
}

// isNull reports whether raw is absent or JSON null.
func isNull(raw json.RawMessage) bool {
	return raw == nil || bytes.Equal(bytes.TrimSpace(raw), []byte("null"))
}
