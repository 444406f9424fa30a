package api

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"strconv"
	"unicode/utf8"

	"corebridge/internal/auth"
	"corebridge/internal/bridge"
	"corebridge/internal/insight"
)

// deadLetter is a dead record as the API shows it.
type deadLetter struct {
	ID         string          `json:"id"`
	Seq        int64           `json:"seq"`
	Module     string          `json:"module"`
	SessionID  string          `json:"session_id"`
	Data       json.RawMessage `json:"data"`
	ReceivedAt string          `json:"received_at"`
	// Attempts counts the attempts since the record was accepted or last
	// replayed (what --max-attempts counts); AttemptsTotal every attempt
	// in its history (GET /api/records/{id}'s attempts_history).
	Attempts      int    `json:"attempts"`
	AttemptsTotal int    `json:"attempts_total"`
	Reason        string `json:"reason"`
}

// toDeadLetter shows a dead record, with the length of its history.
func (s *Server) toDeadLetter(ctx context.Context, r bridge.Record) (deadLetter, error) {
	hist, err := s.store.Attempts(ctx, r.ID)
	if err != nil {
		return deadLetter{}, err
	}
	return deadLetter{ID: r.ID, Seq: r.Seq, Module: r.Module, SessionID: r.SessionID, Data: r.Data,
		ReceivedAt: bridge.FormatTime(r.ReceivedAt), Attempts: r.Attempts, AttemptsTotal: len(hist), Reason: r.LastError}, nil
}

// handleListDead is GET /api/dead-letters?module=&after=&limit=: dead
// records in acceptance order; after is the seq of the previous page's last.
func handleListDead(s *Server) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		q := r.URL.Query()
		var fes []bridge.FieldError
		after, limit := int64(0), 100
		if v := q.Get("after"); v != "" {
			n, err := strconv.ParseInt(v, 10, 64)
			if err != nil || n < 0 {
				fes = append(fes, bridge.FieldError{Loc: []any{"query", "after"}, Msg: "Input should be a non-negative integer (the seq of the last record of the previous page)", Type: "int_parsing"})
			}
			after = n
		}
		if v := q.Get("limit"); v != "" {
			n, err := strconv.Atoi(v)
			if err != nil || n < 1 || n > 1000 {
				fes = append(fes, bridge.FieldError{Loc: []any{"query", "limit"}, Msg: "Input should be an integer from 1 to 1000", Type: "int_parsing"})
			}
			limit = n
		}
		module := q.Get("module")
		if module != "" && !bridge.ValidModule(module) {
			fes = append(fes, bridge.FieldError{Loc: []any{"query", "module"}, Msg: "String should match pattern '" + bridge.ModulePattern + "'", Type: "string_pattern_mismatch"})
		}
		if len(fes) > 0 {
			writeError(w, r, s.log, &bridge.Error{Code: bridge.EINVALID, Message: "invalid query", Fields: fes})
			return
		}
		// One more than asked says whether there is a next page.
		recs, err := s.store.ListDead(r.Context(), bridge.DeadQuery{Module: module, AfterSeq: after, Limit: limit + 1})
		if err != nil {
			writeError(w, r, s.log, err)
			return
		}
		more := len(recs) > limit
		recs = recs[:min(len(recs), limit)]
		out := struct {
			DeadLetters []deadLetter `json:"dead_letters"`
			NextAfter   int64        `json:"next_after"`
			HasMore     bool         `json:"has_more"`
		}{DeadLetters: make([]deadLetter, len(recs)), HasMore: more}
		for i, rec := range recs {
			if out.DeadLetters[i], err = s.toDeadLetter(r.Context(), rec); err != nil {
				writeError(w, r, s.log, err)
				return
			}
			out.NextAfter = rec.Seq
		}
		writeJSON(w, http.StatusOK, out)
	})
}

// selector is the body of the replay and purge routes.
type selector struct {
	IDs    []string `json:"ids"`
	Module string   `json:"module"`
	All    bool     `json:"all"`
}

func decodeSelector(w http.ResponseWriter, r *http.Request) (bridge.ReplayParams, error) {
	body, err := readBody(w, r, 1<<20)
	if err != nil {
		return bridge.ReplayParams{}, err
	}
	var sel selector
	if err := json.Unmarshal(body, &sel); err != nil {
		loc, msg := []any{"body"}, `Body should be {"ids":[…]} or {"module":"…"} or {"all":true}`
		var te *json.UnmarshalTypeError
		if errors.As(err, &te) && te.Field != "" {
			loc = []any{"body", te.Field}
			msg = map[string]string{"ids": "Input should be a valid list of record ids", "module": "Input should be a valid string",
				"all": "Input should be a valid boolean"}[te.Field]
		}
		return bridge.ReplayParams{}, &bridge.Error{Code: bridge.EINVALID, Message: "invalid body", Fields: []bridge.FieldError{{
			Loc: loc, Msg: msg, Type: "model_type"}}}
	}
	n := 0
	if len(sel.IDs) > 0 {
		n++
	}
	if sel.Module != "" {
		n++
	}
	if sel.All {
		n++
	}
	if n != 1 {
		return bridge.ReplayParams{}, &bridge.Error{Code: bridge.EINVALID, Message: "give exactly one selector", Fields: []bridge.FieldError{{
			Loc: []any{"body"}, Msg: "Give exactly one of ids, module or all", Type: "value_error"}}}
	}
	return bridge.ReplayParams{IDs: sel.IDs, Module: sel.Module, All: sel.All}, nil
}

// handleReplayDead is POST /api/dead-letters/replay: dead records go back to
// their module's head, in their original order.
func handleReplayDead(s *Server) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		p, err := decodeSelector(w, r)
		if err != nil {
			writeError(w, r, s.log, err)
			return
		}
		p.Now = bridge.Truncate(s.cfg.Now())
		n, err := s.store.ReplayDead(r.Context(), p)
		if n > 0 {
			s.ingest.PendingChanged() // replayed records count towards --max-pending
			s.cfg.OnReplay()
			s.insight.Changed(insight.KindReplayed, p.Module, oneID(p.IDs), n)
		}
		if !s.auditDone(r, bridge.AuditReplay, p, n, err) {
			writeError(w, r, s.log, err)
			return
		}
		s.log.Info("dead letters replayed", "count", n, "module", p.Module, "ids", len(p.IDs), "all", p.All)
		writeJSON(w, http.StatusOK, map[string]int{"replayed": n})
	})
}

// handlePurgeDead is POST /api/dead-letters/purge: dead records deleted for good.
func handlePurgeDead(s *Server) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		p, err := decodeSelector(w, r)
		if err != nil {
			writeError(w, r, s.log, err)
			return
		}
		n, err := s.store.PurgeDead(r.Context(), p)
		if n > 0 {
			s.insight.Changed(insight.KindPurged, p.Module, oneID(p.IDs), n)
		}
		if !s.auditDone(r, bridge.AuditPurge, p, n, err) {
			writeError(w, r, s.log, err)
			return
		}
		s.log.Info("dead letters purged", "count", n, "module", p.Module, "ids", len(p.IDs), "all", p.All)
		writeJSON(w, http.StatusOK, map[string]int{"purged": n})
	})
}

// auditDone records a replay or purge of n records in the audit log, one
// entry per request: also when the store failed part way (it pages a
// module or all), since the records before the failure were changed; the
// entry's detail then says what went wrong. It reports whether err is nil.
func (s *Server) auditDone(r *http.Request, action string, p bridge.ReplayParams, n int, err error) bool {
	e := bridge.AuditEntry{Action: action, Target: selectorTarget(p), Records: n}
	if err != nil {
		if n == 0 {
			return false // nothing was done: nothing to record
		}
		e.Detail = fmt.Sprintf("stopped after %d records: %v", n, err)
	}
	s.audit(r.Context(), auth.FromContext(r.Context()), e)
	return err == nil
}

// recordView is any record with its delivery history: what is stuck and why.
type recordView struct {
	bridge.Record
	ReceivedAt    string           `json:"received_at"`
	NextAttemptAt string           `json:"next_attempt_at,omitempty"`
	SyncedAt      string           `json:"synced_at,omitempty"`
	History       []bridge.Attempt `json:"attempts_history"`
	Edits         []bridge.Edit    `json:"edits"`
}

// oneID names the record of a one-record selector, for the event feed.
func oneID(ids []string) string {
	if len(ids) == 1 {
		return ids[0]
	}
	return ""
}

// handleEditDead is PUT /api/dead-letters/{id}/data: replace a dead
// letter's data (validated like an update's) before replaying it. The old
// data is kept in the record's history.
func handleEditDead(s *Server) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		body, err := readBody(w, r, s.cfg.MaxBody)
		if err != nil {
			writeError(w, r, s.log, err)
			return
		}
		var in struct {
			Data json.RawMessage `json:"data"`
			Note string          `json:"note"`
		}
		if err := json.Unmarshal(body, &in); err != nil {
			writeError(w, r, s.log, &bridge.Error{Code: bridge.EINVALID, Message: "invalid body", Fields: []bridge.FieldError{{
				Loc: []any{"body"}, Msg: `Body should be {"data":{…},"note":"…"}: ` + err.Error(), Type: "json_invalid"}}})
			return
		}
		id := r.PathValue("id")
		// The new data must be what an update could carry: check it the
		// same way, through a whole update with a placeholder module.
		wrapped, _ := json.Marshal(map[string]any{"module": "m", "data": in.Data})
		u, err := bridge.DecodeUpdate(wrapped)
		if err != nil || len(in.Data) == 0 {
			writeError(w, r, s.log, &bridge.Error{Code: bridge.EINVALID, Message: "invalid data", Fields: []bridge.FieldError{{
				Loc: []any{"body", "data"}, Msg: "Input should be a valid dictionary (a JSON object)", Type: "dict_type"}}})
			return
		}
		if utf8.RuneCountInString(in.Note) > 500 {
			writeError(w, r, s.log, &bridge.Error{Code: bridge.EINVALID, Message: "invalid note", Fields: []bridge.FieldError{{
				Loc: []any{"body", "note"}, Msg: "String should have at most 500 characters", Type: "string_too_long"}}})
			return
		}
		who := auth.FromContext(r.Context())
		author := ""
		if who != nil {
			author = who.Name
		}
		err = s.store.EditDead(r.Context(), bridge.EditParams{ID: id, Data: u.Data, Note: in.Note, Author: author, Now: bridge.Truncate(s.cfg.Now())})
		if err != nil {
			writeError(w, r, s.log, err)
			return
		}
		rec, err := s.store.Get(r.Context(), id)
		if err != nil {
			writeError(w, r, s.log, err)
			return
		}
		s.insight.Changed(insight.KindEdited, rec.Module, id, 1)
		s.audit(r.Context(), who, bridge.AuditEntry{Action: bridge.AuditEdit, Target: id, Records: 1, Detail: in.Note})
		s.log.Info("dead letter edited", "id", id, "module", rec.Module)
		d, err := s.toDeadLetter(r.Context(), rec)
		if err != nil {
			writeError(w, r, s.log, err)
			return
		}
		writeJSON(w, http.StatusOK, d)
	})
}

// handleGetRecord is GET /api/records/{id}.
func handleGetRecord(s *Server) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		id := r.PathValue("id")
		rec, err := s.store.Get(r.Context(), id)
		if err != nil {
			writeError(w, r, s.log, err)
			return
		}
		hist, err := s.store.Attempts(r.Context(), id)
		if err != nil {
			writeError(w, r, s.log, err)
			return
		}
		edits, err := s.store.Edits(r.Context(), id)
		if err != nil {
			writeError(w, r, s.log, err)
			return
		}
		v := recordView{Record: rec, ReceivedAt: bridge.FormatTime(rec.ReceivedAt), SyncedAt: bridge.FormatTime(rec.SyncedAt),
			History: hist, Edits: edits}
		if v.Edits == nil {
			v.Edits = []bridge.Edit{}
		}
		if rec.State == bridge.StatePending {
			v.NextAttemptAt = bridge.FormatTime(rec.NextAttemptAt)
		}
		if v.History == nil {
			v.History = []bridge.Attempt{}
		}
		writeJSON(w, http.StatusOK, v)
	})
}
