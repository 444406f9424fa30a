package automation

import (
	"context"
	"encoding/json"
	"errors"
	"net/http"

	"github.com/google/uuid"

	"corebridge/client"
)

// ActionResult is one action of a run, as the run file shows it.
type ActionResult struct {
	Index      int       `json:"index"`
	Type       string    `json:"type"`
	Status     string    `json:"status"` // ok or failed
	Request    Request   `json:"request"`
	Response   *Response `json:"response,omitempty"` // the last attempt's answer; nil if none came
	Attempts   []Attempt `json:"attempts"`
	DurationMs float64   `json:"duration_ms"`
	Error      string    `json:"error,omitempty"`
}

// Request is what an action sent.
type Request struct {
	Method  string            `json:"method"`
	URL     string            `json:"url"` // a path on the bridge, or the absolute URL of an http_request
	Headers map[string]string `json:"headers,omitempty"`
	Body    any               `json:"body,omitempty"`
}

// Response is the answer an action got.
type Response struct {
	StatusCode int `json:"status_code"`
	Body       any `json:"body,omitempty"`
}

// doAction runs one action with its retries.
func (r *Runner) doAction(ctx context.Context, i int, a Action) ActionResult {
	res := ActionResult{Index: i, Type: a.Type}
	var try func(context.Context) outcome
	switch a.Type {
	case ActionUpdate:
		// One idempotency key for every attempt: an attempt whose answer
		// was lost and that is sent again is stored once.
		u := a.Update
		u.IdempotencyKey = uuid.NewString()
		res.Request = Request{Method: http.MethodPost, URL: "/core/update", Headers: map[string]string{"Idempotency-Key": u.IdempotencyKey}, Body: a.Update}
		try = func(ctx context.Context) outcome {
			out, err := r.api.Update(ctx, u)
			return answer(ctx, out, err)
		}
	case ActionBatch:
		us := make([]client.UpdateRequest, len(a.Batch))
		for k, u := range a.Batch {
			u.IdempotencyKey = uuid.NewString()
			us[k] = u
		}
		res.Request = Request{Method: http.MethodPost, URL: "/core/updates", Body: map[string]any{"updates": us}}
		try = func(ctx context.Context) outcome {
			out, err := r.api.Updates(ctx, us)
			return answer(ctx, out, err)
		}
	case ActionBucketStatus:
		res.Request = Request{Method: http.MethodGet, URL: "/bucket/status"}
		try = func(ctx context.Context) outcome {
			st, err := r.api.BucketStatus(ctx)
			return checked(answer(ctx, withExtra(st, st.Extra), err), a.Asserts)
		}
	case ActionHealth:
		res.Request = Request{Method: http.MethodGet, URL: "/core/health"}
		try = func(ctx context.Context) outcome {
			h, err := r.api.Health(ctx)
			return checked(answer(ctx, withExtra(h, h.Extra), err), a.Asserts)
		}
	case ActionReplay:
		res.Request = Request{Method: http.MethodPost, URL: "/api/dead-letters/replay", Body: a.Replay}
		try = func(ctx context.Context) outcome {
			n, err := r.api.Replay(ctx, a.Replay)
			return answer(ctx, map[string]int{"replayed": n}, err)
		}
	case ActionHTTP:
		res.Request = r.httpRequestOf(a.HTTP)
		try = func(ctx context.Context) outcome { return r.doHTTP(ctx, a.HTTP) }
	default: // Parse refuses unknown types; a Config built by hand might not.
		try = func(context.Context) outcome { return outcome{err: errors.New("unknown action type " + a.Type)} }
	}
	start := r.clock.Now()
	attempts, out := r.retry(ctx, a.Attempts, try)
	res.Attempts = attempts
	res.DurationMs = ms(r.clock.Now().Sub(start))
	if out.status != 0 || out.response != nil {
		res.Response = &Response{StatusCode: out.status, Body: out.response}
	}
	res.Status = StatusOK
	if out.err != nil {
		res.Status, res.Error = StatusFailed, out.err.Error()
	}
	return res
}

// answer turns a client call's result into an outcome; the status code
// comes from statusTransport, which saw the real answer.
func answer(ctx context.Context, body any, err error) outcome {
	if err != nil {
		return classify(err)
	}
	return outcome{status: statusOf(ctx), response: body}
}

// checked applies the assertions to a successful answer; a failed one
// fails the action without a retry: the answer is what it is.
func checked(out outcome, asserts []Assertion) outcome {
	if out.err != nil || len(asserts) == 0 {
		return out
	}
	doc, _ := out.response.(map[string]any)
	var errs []error
	for _, a := range asserts {
		if err := a.Check(doc); err != nil {
			errs = append(errs, err)
		}
	}
	out.err = errors.Join(errs...)
	return out
}

// withExtra re-encodes a decoded answer as a generic object, with the
// fields the client type does not name put back, so that assertions and
// reports see the whole answer.
func withExtra(v any, extra map[string]json.RawMessage) map[string]any {
	doc := map[string]any{}
	if b, err := json.Marshal(v); err == nil {
		_ = json.Unmarshal(b, &doc)
	}
	for k, raw := range extra {
		var x any
		if json.Unmarshal(raw, &x) == nil {
			doc[k] = x
		}
	}
	return doc
}
