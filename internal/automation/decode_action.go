package automation

import (
	"encoding/json"
	"fmt"
	"net/http"
	"net/url"
	"regexp"
	"slices"
	"strings"

	"corebridge/client"
	"corebridge/internal/bridge"
)

// maxBatch is the bridge's limit on updates per POST /core/updates.
const maxBatch = 1000

func (d *decoder) action(job, path string, raw json.RawMessage) Action {
	var a Action
	m, ok := d.object(job, path, raw)
	if !ok {
		return a
	}
	d.keys(job, path, m, "type", "data", "attempts")
	if a.Type, ok = d.requiredStr(job, path, m, "type"); !ok {
		return a
	}
	a.Attempts = DefaultAttempts
	if rn, ok := m["attempts"]; ok {
		if err := json.Unmarshal(rn, &a.Attempts); err != nil || a.Attempts < 1 || a.Attempts > 10 {
			d.fail(job, path+".attempts", "must be a whole number from 1 to 10")
		}
	}
	data := m["data"]
	dpath := path + ".data"
	switch a.Type {
	case ActionUpdate:
		if isNull(data) {
			d.fail(job, dpath, `required: {"module": …, "data": {…}}`)
		} else {
			a.Update = d.update(job, dpath, data)
		}
	case ActionBucketStatus, ActionHealth:
		a.Asserts = d.asserts(job, dpath, data)
	case ActionBatch:
		a.Batch = d.batch(job, dpath, data)
	case ActionReplay:
		a.Replay = d.selector(job, dpath, data)
	case ActionHTTP:
		a.HTTP = d.httpAction(job, dpath, data)
	default:
		d.fail(job, path+".type", fmt.Sprintf("unknown action type %q (want %s)", a.Type, strings.Join(actionTypes, ", ")))
	}
	return a
}

// update reads {"module", "data", "session_id"?}, the body of POST /core/update.
func (d *decoder) update(job, path string, raw json.RawMessage) client.UpdateRequest {
	var u client.UpdateRequest
	m, ok := d.object(job, path, raw)
	if !ok {
		return u
	}
	d.keys(job, path, m, "module", "data", "session_id")
	if s, ok := d.requiredStr(job, path, m, "module"); ok {
		if !bridge.ValidModule(s) {
			d.fail(job, path+".module", fmt.Sprintf("invalid module name %q (want %s)", s, bridge.ModulePattern))
		}
		u.Module = s
	}
	if rd, ok := m["data"]; !ok {
		d.fail(job, path+".data", "required")
	} else if _, ok := d.object(job, path+".data", rd); ok {
		u.Data = json.RawMessage(rd)
	}
	if rs, ok := m["session_id"]; ok {
		u.SessionID, _ = d.str(job, path+".session_id", rs)
	}
	return u
}

func (d *decoder) batch(job, path string, raw json.RawMessage) []client.UpdateRequest {
	m, ok := d.object(job, path, raw)
	if !ok {
		return nil
	}
	d.keys(job, path, m, "updates")
	var items []json.RawMessage
	if err := json.Unmarshal(m["updates"], &items); err != nil || len(items) == 0 || len(items) > maxBatch {
		d.fail(job, path+".updates", fmt.Sprintf("must be a list of 1 to %d updates", maxBatch))
		return nil
	}
	out := make([]client.UpdateRequest, len(items))
	for i, it := range items {
		out[i] = d.update(job, fmt.Sprintf("%s.updates[%d]", path, i), it)
	}
	return out
}

// asserts reads the optional {"assert": ["field op value", …]} of the
// status and health actions; a single string is one assertion.
func (d *decoder) asserts(job, path string, raw json.RawMessage) []Assertion {
	if isNull(raw) {
		return nil
	}
	m, ok := d.object(job, path, raw)
	if !ok {
		return nil
	}
	d.keys(job, path, m, "assert")
	ra, ok := m["assert"]
	if !ok {
		return nil
	}
	var texts []string
	var one string
	if json.Unmarshal(ra, &one) == nil {
		texts = []string{one}
	} else if err := json.Unmarshal(ra, &texts); err != nil {
		d.fail(job, path+".assert", `must be a string or a list of strings such as "pending_queue < 100"`)
		return nil
	}
	var out []Assertion
	for i, s := range texts {
		a, err := ParseAssertion(s)
		if err != nil {
			d.fail(job, fmt.Sprintf("%s.assert[%d]", path, i), err.Error())
			continue
		}
		out = append(out, a)
	}
	return out
}

// selector reads which dead letters to replay: exactly one of ids, module, all.
func (d *decoder) selector(job, path string, raw json.RawMessage) client.Selector {
	var s client.Selector
	const want = `give exactly one of {"ids": [...]}, {"module": "…"} or {"all": true}`
	if isNull(raw) {
		d.fail(job, path, "required: "+want)
		return s
	}
	m, ok := d.object(job, path, raw)
	if !ok {
		return s
	}
	d.keys(job, path, m, "ids", "module", "all")
	if len(m) != 1 {
		d.fail(job, path, want)
		return s
	}
	switch {
	case m["ids"] != nil:
		if err := json.Unmarshal(m["ids"], &s.IDs); err != nil || len(s.IDs) == 0 || slices.Contains(s.IDs, "") {
			d.fail(job, path+".ids", "must be a non-empty list of record ids")
		}
	case m["module"] != nil:
		if s.Module, ok = d.str(job, path+".module", m["module"]); ok && !bridge.ValidModule(s.Module) {
			d.fail(job, path+".module", fmt.Sprintf("invalid module name %q (want %s)", s.Module, bridge.ModulePattern))
		}
	case m["all"] != nil:
		if err := json.Unmarshal(m["all"], &s.All); err != nil || !s.All {
			d.fail(job, path+".all", "must be true")
		}
	}
	return s
}

var methodRE = regexp.MustCompile(`^[A-Z]+$`)

func (d *decoder) httpAction(job, path string, raw json.RawMessage) HTTPAction {
	h := HTTPAction{Method: http.MethodGet}
	if isNull(raw) {
		d.fail(job, path, `required: {"url": …}`)
		return h
	}
	m, ok := d.object(job, path, raw)
	if !ok {
		return h
	}
	d.keys(job, path, m, "method", "url", "headers", "body", "expectStatus")
	if rm, ok := m["method"]; ok {
		if s, ok := d.str(job, path+".method", rm); ok {
			if !methodRE.MatchString(s) {
				d.fail(job, path+".method", fmt.Sprintf("%q is not an HTTP method (GET, POST, …)", s))
			}
			h.Method = s
		}
	}
	if s, ok := d.requiredStr(job, path, m, "url"); ok {
		u, err := url.Parse(s)
		relative := strings.HasPrefix(s, "/") && !strings.HasPrefix(s, "//")
		if err != nil || !relative && (u.Scheme != "http" && u.Scheme != "https" || u.Host == "") {
			d.fail(job, path+".url", fmt.Sprintf("%q must be an http(s) URL or a path on the bridge such as /core/health", s))
		}
		h.URL = s
	}
	if rh, ok := m["headers"]; ok {
		if err := json.Unmarshal(rh, &h.Headers); err != nil {
			d.fail(job, path+".headers", "must be an object of header names to string values")
		}
	}
	if rb, ok := m["body"]; ok && !isNull(rb) {
		// A string is sent as it is; anything else as its JSON.
		var s string
		if json.Unmarshal(rb, &s) == nil {
			h.Body = []byte(s)
		} else {
			h.Body = []byte(rb)
		}
	}
	if rs, ok := m["expectStatus"]; ok {
		var one int
		if json.Unmarshal(rs, &one) == nil {
			h.ExpectStatus = []int{one}
		} else if err := json.Unmarshal(rs, &h.ExpectStatus); err != nil || len(h.ExpectStatus) == 0 {
			d.fail(job, path+".expectStatus", "must be a status code or a list of them")
		}
		for _, c := range h.ExpectStatus {
			if c < 100 || c > 599 {
				d.fail(job, path+".expectStatus", fmt.Sprintf("%d is not an HTTP status code", c))
			}
		}
	}
	return h
}
