package api

import (
	"errors"
	"fmt"
	"io"
	"net/http"
	"strings"

	"corebridge/internal/auth"
	"corebridge/internal/bridge"
	"corebridge/internal/ingest"
	"corebridge/internal/insight"
	"corebridge/internal/registry"
)

// updateResponse is the prototype's answer plus record_id (and duplicate,
// only when true).
type updateResponse struct {
	Status    string `json:"status"`
	Timestamp string `json:"timestamp"`
	SessionID string `json:"session_id"`
	Message   string `json:"message"`
	RecordID  string `json:"record_id"`
	Duplicate bool   `json:"duplicate,omitempty"`
}

func newUpdateResponse(module string, a bridge.Appended) updateResponse {
	return updateResponse{
		Status:    "success",
		Timestamp: bridge.FormatTime(a.ReceivedAt),
		SessionID: a.SessionID,
		Message:   "Data received and logged for module " + module,
		RecordID:  a.ID,
		Duplicate: a.Duplicate,
	}
}

// readBody reads at most limit bytes, answering 413 past it.
func readBody(w http.ResponseWriter, r *http.Request, limit int64) ([]byte, error) {
	body, err := io.ReadAll(http.MaxBytesReader(w, r.Body, limit))
	var mbe *http.MaxBytesError
	if errors.As(err, &mbe) {
		return nil, bridge.Errorf(bridge.ETOOLARGE, "request body is over the limit of %d bytes", limit)
	} else if err != nil {
		return nil, bridge.Errorf(bridge.EINVALID, "cannot read request body: %v", err)
	}
	return body, nil
}

// handleUpdate is POST /core/update: validate, commit, answer.
func handleUpdate(s *Server) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		body, err := readBody(w, r, s.cfg.MaxBody)
		var sigID string
		if err == nil {
			sigID, err = s.verifySignature(r, body)
		}
		var u bridge.Update
		if err == nil {
			u, err = decodeUpdateBody(r, body)
		}
		var load bool
		if err == nil {
			load, err = loadTestHeader(r)
		}
		if err != nil {
			s.fail(w, r, "update", u.Module, 1, err)
			return
		}
		ownKey := u.IdempotencyKey != ""
		signedKey(&u, sigID, -1)
		if err := s.allowed(r, 1, u.Module); err != nil {
			s.fail(w, r, "update", u.Module, 1, err)
			return
		}
		if sigID != "" {
			s.insight.SignatureValid(u.Module, s.cfg.Now())
		}
		if err := s.checkRegistry([]bridge.Update{u}, func(int) []any { return []any{"body"} }); err != nil {
			s.fail(w, r, "update", s.registryModule(u.Module), 1, err)
			return
		}
		done, err := s.admitModules(r, []string{u.Module}, func(int) []any { return []any{"body", "module"} })
		if err != nil {
			s.fail(w, r, "update", u.Module, 1, err)
			return
		}
		recs := []bridge.NewRecord{s.cfg.dedupe().Identify(u, s.keyOwner(r), bridge.Truncate(s.cfg.Now()))}
		recs[0].LoadTest = load
		res, err := s.ingest.Submit(r.Context(), recs)
		done(err == nil)
		if err != nil {
			s.fail(w, r, "update", u.Module, 1, updateConflict(err, r, u, ownKey))
			return
		}
		s.insight.IngestAccepted()
		writeJSON(w, http.StatusOK, newUpdateResponse(u.Module, res[0]))
		s.countReplay(sigID, res)
		s.insight.Ingest("update", u.Module, http.StatusOK, 1)
		s.insight.Accepted(recs, res)
	})
}

// decodeUpdateRequest reads and validates a single update, including the
// Idempotency-Key header. The ceiling server shares it.
func decodeUpdateRequest(w http.ResponseWriter, r *http.Request, limit int64) (bridge.Update, error) {
	body, err := readBody(w, r, limit)
	if err != nil {
		return bridge.Update{}, err
	}
	return decodeUpdateBody(r, body)
}

// decodeUpdateBody validates a single update read from r, including the
// Idempotency-Key header.
func decodeUpdateBody(r *http.Request, body []byte) (bridge.Update, error) {
	u, err := bridge.DecodeUpdate(body)
	if err != nil {
		return u, err
	}
	if k := r.Header.Get("Idempotency-Key"); k != "" {
		if !bridge.ValidIdempotencyKey(k) {
			return u, &bridge.Error{Code: bridge.EINVALID, Message: "invalid Idempotency-Key", Fields: []bridge.FieldError{{
				Loc: []any{"header", "idempotency-key"}, Msg: "String should have at most 255 characters", Type: "string_too_long"}}}
		}
		u.IdempotencyKey = k
	}
	return u, nil
}

// LoadTestHeader marks an ingest request's records as load-test traffic
// (bridge.NewRecord.LoadTest): "1" or "true" marks, "0", "false" or no
// header does not. `corebridge mock --load` sends it.
const LoadTestHeader = "Corebridge-Load-Test"

// loadTestHeader reads LoadTestHeader; any other value is invalid input.
func loadTestHeader(r *http.Request) (bool, error) {
	switch v := r.Header.Get(LoadTestHeader); strings.ToLower(v) {
	case "", "0", "false":
		return false, nil
	case "1", "true":
		return true, nil
	default:
		return false, &bridge.Error{Code: bridge.EINVALID, Message: "invalid " + LoadTestHeader, Fields: []bridge.FieldError{{
			Loc: []any{"header", "corebridge-load-test"}, Msg: "Input should be 1, true, 0 or false", Type: "bool_parsing"}}}
	}
}

type batchResult struct {
	RecordID  string `json:"record_id"`
	SessionID string `json:"session_id"`
	Timestamp string `json:"timestamp"`
	Duplicate bool   `json:"duplicate"`
}

type batchResponse struct {
	Status     string        `json:"status"`
	Count      int           `json:"count"`
	Duplicates int           `json:"duplicates"`
	Results    []batchResult `json:"results"`
}

// handleUpdates is POST /core/updates: all items valid or nothing stored;
// one transaction for the whole batch.
func handleUpdates(s *Server) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		body, err := readBody(w, r, s.cfg.MaxBatchBody)
		var sigID string
		if err == nil {
			sigID, err = s.verifySignature(r, body)
		}
		if err != nil {
			s.fail(w, r, "updates", "", 1, err)
			return
		}
		ups, err := bridge.DecodeBatch(body)
		var load bool
		if err == nil {
			load, err = loadTestHeader(r)
		}
		if err != nil {
			s.fail(w, r, "updates", "", 1, err)
			return
		}
		modules := make([]string, len(ups))
		for i, u := range ups {
			modules[i] = u.Module
		}
		if err := s.allowed(r, len(ups), modules...); err != nil {
			s.fail(w, r, "updates", batchModuleOf(modules), len(ups), err)
			return
		}
		// One item of an unknown module, or whose data does not match its
		// schema, refuses the whole batch (as an invalid item does),
		// naming every such item's fields.
		if err := s.checkRegistry(ups, func(i int) []any { return bridge.BatchItemLoc(body, i) }); err != nil {
			s.fail(w, r, "updates", s.registryModule(batchModuleOf(modules)), len(ups), err)
			return
		}
		done, err := s.admitModules(r, modules, func(i int) []any {
			return append(bridge.BatchItemLoc(body, i), "module")
		})
		if err != nil {
			s.fail(w, r, "updates", batchModuleOf(modules), len(ups), err)
			return
		}
		now := bridge.Truncate(s.cfg.Now())
		recs := make([]bridge.NewRecord, len(ups))
		dedupe, owner := s.cfg.dedupe(), s.keyOwner(r)
		for i, u := range ups {
			signedKey(&u, sigID, i)
			recs[i] = dedupe.Identify(u, owner, now)
			recs[i].LoadTest = load
			if sigID != "" {
				s.insight.SignatureValid(u.Module, now)
			}
		}
		res, err := s.ingest.Submit(r.Context(), recs)
		done(err == nil)
		if err != nil {
			s.fail(w, r, "updates", batchModule(recs), len(recs), batchConflict(err, body, ups))
			return
		}
		s.insight.IngestAccepted()
		out := batchResponse{Status: "success", Count: len(res), Results: make([]batchResult, len(res))}
		for i, a := range res {
			out.Results[i] = batchResult{RecordID: a.ID, SessionID: a.SessionID, Timestamp: bridge.FormatTime(a.ReceivedAt), Duplicate: a.Duplicate}
			if a.Duplicate {
				out.Duplicates++
			}
		}
		writeJSON(w, http.StatusOK, out)
		s.countReplay(sigID, res)
		s.insight.Ingest("updates", batchModule(recs), http.StatusOK, len(recs))
		s.insight.Accepted(recs, res)
	})
}

// batchModule is the module of a batch's updates when they share one
// ("" otherwise), to count a refused batch under it.
func batchModule(recs []bridge.NewRecord) string {
	for _, r := range recs[1:] {
		if r.Module != recs[0].Module {
			return ""
		}
	}
	return recs[0].Module
}

// allowed refuses n updates of modules that the request's principal may
// not send (a module not on its token, or past its rate limit): nothing
// of the request is stored, and the refusal is counted as a security event.
func (s *Server) allowed(r *http.Request, n int, modules ...string) error {
	p := auth.FromContext(r.Context())
	for _, m := range modules {
		if !p.MayProduce(m) {
			s.insight.Security(insight.SecForbidden)
			name := "(none)"
			if p != nil {
				name = p.Name
			}
			return bridge.Errorf(bridge.EFORBIDDEN, "token %q may not send updates of module %q", name, m)
		}
	}
	if err := s.limits.take(p, n, s.cfg.Now()); err != nil {
		s.insight.Security(insight.SecRateLimited)
		return err
	}
	return nil
}

// batchModuleOf is the module all of a batch's updates share, or "".
func batchModuleOf(modules []string) string {
	for _, m := range modules[1:] {
		if m != modules[0] {
			return ""
		}
	}
	return modules[0]
}

// fail answers err and counts it; a full queue also tells the hub.: invalid input (4xx) and the bridge's
// own failures (5xx, which error_count_24h includes) of n updates of
// module ("" when unknown or not valid).
func (s *Server) fail(w http.ResponseWriter, r *http.Request, route, module string, n int, err error) {
	if !s.cfg.Modules.Known(module) {
		// Counted without its name: a refused name must not grow the
		// per-module counts that --max-modules bounds.
		module = ""
	}
	if r.Context().Err() != nil {
		// The producer has gone; nothing was taken in, and no one reads the answer.
		err = bridge.Errorf(bridge.EUNAVAILABLE, "request cancelled before it was taken in")
	} else {
		s.insight.Ingest(route, module, statusOf(bridge.ErrorCode(err)), n)
	}
	if errors.Is(err, ingest.ErrQueueFull) {
		s.insight.IngestRefused("queue is full: more records wait for delivery than --max-pending allows", s.ingest.MaxPending())
	}
	writeError(w, r, s.log, err)
}

// admitModules holds a place for the request's new modules under
// --max-modules (call done with whether the records were stored), or
// refuses a new module past it: 422 naming the limit and the field
// (locate gives the field of modules[i]).
func (s *Server) admitModules(r *http.Request, modules []string, locate func(i int) []any) (done func(stored bool), err error) {
	c := s.cfg.Modules
	done, refused, err := c.Reserve(r.Context(), modules)
	if err != nil {
		return nil, err
	}
	if refused >= 0 {
		why := c.Limit()
		s.insight.CapRefused(insight.CapModules, fmt.Sprintf("new modules refused: --max-modules is %d", c.Max()))
		return nil, &bridge.Error{Code: bridge.EINVALID, Message: why, Fields: []bridge.FieldError{{
			Loc: locate(refused), Msg: fmt.Sprintf("%s (%q); existing modules keep working", why, modules[refused]), Type: "module_limit"}}}
	}
	return done, nil
}

// checkRegistry refuses updates that the registry (Config.Registry) does
// not accept: a module not in it, data that does not match the module's
// schema. It answers every problem of every update (locate gives where
// update i is in the body) as one 422, before anything is stored. With
// no registry it accepts everything.
func (s *Server) checkRegistry(ups []bridge.Update, locate func(i int) []any) error {
	reg := s.cfg.Registry
	if reg == nil {
		return nil
	}
	var fes []bridge.FieldError
	for i, u := range ups {
		fes = append(fes, reg.Check(u.Module, u.Data, locate(i))...)
		if len(fes) >= bridge.MaxBatchItems {
			break // enough to fix; a batch of bad items would answer megabytes
		}
	}
	if len(fes) == 0 {
		return nil
	}
	msg := fmt.Sprintf("%v: %s", fes[0].Loc, fes[0].Msg)
	if fes[0].Type != registry.TypeModuleUnknown {
		msg = fmt.Sprintf("data does not match the schema of its module: %s", msg)
	}
	return &bridge.Error{Code: bridge.EINVALID, Message: msg, Fields: fes}
}

// registryModule is module, to count a refusal under, or "" when the
// registry does not know it: refused names must not grow the per-module
// counts.
func (s *Server) registryModule(module string) string {
	if !s.cfg.Registry.Known(module) {
		return ""
	}
	return module
}
