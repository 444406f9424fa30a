package api

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"unicode/utf8"

	"corebridge/internal/auth"
	"corebridge/internal/bridge"
	"corebridge/internal/insight"
)

// Limits of a heartbeat, as the API documents them.
const (
	MaxHeartbeatBody       = 64 << 10 // bytes of one POST /core/heartbeat body
	MaxHeartbeatMetrics    = 4096     // bytes of its metrics, compact
	MaxHeartbeatMessageLen = 256      // characters of its message
)

// heartbeatRequest is a decoded POST /core/heartbeat body.
type heartbeatRequest struct {
	Module  string
	Status  string          // ok (the default), degraded or down
	Message string          // "" when none
	Metrics json.RawMessage // compact object; nil when none
}

type heartbeatResponse struct {
	Status    string `json:"status"`
	Module    string `json:"module"`
	Timestamp string `json:"timestamp"`
	Message   string `json:"message"`
}

// decodeHeartbeat parses and validates the body of POST /core/heartbeat:
//
//	{"module": "robotics", "status": "ok", "message": "…", "metrics": {…}}
//
// module is required (the update's rule); status is ok (the default),
// degraded or down; message (at most MaxHeartbeatMessageLen characters)
// and metrics (an object of at most MaxHeartbeatMetrics bytes) are
// optional, null meaning absent. Other fields are ignored. Every problem
// is an EINVALID field error in the update's FastAPI shape.
func decodeHeartbeat(body []byte) (heartbeatRequest, error) {
	var hb heartbeatRequest
	invalid := func(fes ...bridge.FieldError) error {
		return &bridge.Error{Code: bridge.EINVALID, Message: fmt.Sprintf("%v: %s", fes[0].Loc, fes[0].Msg), Fields: fes}
	}
	if fe := bridge.CheckJSON(body); fe != nil {
		return hb, invalid(*fe)
	}
	var obj map[string]json.RawMessage // the last of a name counts
	if firstByteOf(body) != '{' || json.Unmarshal(body, &obj) != nil {
		return hb, invalid(bridge.FieldError{Loc: []any{"body"}, Msg: "Input should be a valid dictionary or object to extract fields from", Type: "model_attributes_type"})
	}
	var fes []bridge.FieldError
	add := func(field, msg, typ string) {
		fes = append(fes, bridge.FieldError{Loc: []any{"body", field}, Msg: msg, Type: typ})
	}
	str := func(raw json.RawMessage) (string, bool) {
		var s string
		if firstByteOf(raw) != '"' || json.Unmarshal(raw, &s) != nil {
			return "", false
		}
		return s, true
	}

	if m, ok := obj["module"]; !ok {
		add("module", "Field required", "missing")
	} else if s, ok := str(m); !ok {
		add("module", "Input should be a valid string", "string_type")
	} else if s == "" {
		add("module", "String should have at least 1 character", "string_too_short")
	} else if !bridge.ValidModule(s) {
		add("module", "String should match pattern '"+bridge.ModulePattern+"'", "string_pattern_mismatch")
	} else {
		hb.Module = s
	}

	hb.Status = insight.HeartbeatOK
	if raw, ok := obj["status"]; ok && !isJSONNull(raw) {
		switch s, ok := str(raw); {
		case !ok:
			add("status", "Input should be a valid string", "string_type")
		case s == insight.HeartbeatOK || s == insight.HeartbeatDegraded || s == insight.HeartbeatDown:
			hb.Status = s
		default:
			add("status", "Input should be 'ok', 'degraded' or 'down'", "literal_error")
		}
	}

	if raw, ok := obj["message"]; ok && !isJSONNull(raw) {
		if s, ok := str(raw); !ok {
			add("message", "Input should be a valid string", "string_type")
		} else if utf8.RuneCountInString(s) > MaxHeartbeatMessageLen {
			add("message", fmt.Sprintf("String should have at most %d characters", MaxHeartbeatMessageLen), "string_too_long")
		} else {
			hb.Message = s
		}
	}

	if raw, ok := obj["metrics"]; ok && !isJSONNull(raw) {
		var buf bytes.Buffer
		if firstByteOf(raw) != '{' || json.Compact(&buf, raw) != nil {
			add("metrics", "Input should be a valid dictionary", "dict_type")
		} else if buf.Len() > MaxHeartbeatMetrics {
			add("metrics", fmt.Sprintf("Metrics should be at most %d bytes of compact JSON, not %d", MaxHeartbeatMetrics, buf.Len()), "too_long")
		} else {
			hb.Metrics = buf.Bytes()
		}
	}
	if len(fes) > 0 {
		return heartbeatRequest{}, invalid(fes...)
	}
	return hb, nil
}

func firstByteOf(b []byte) byte {
	if b = bytes.TrimLeft(b, " \t\r\n"); len(b) > 0 {
		return b[0]
	}
	return 0
}

func isJSONNull(raw json.RawMessage) bool { return string(bytes.TrimSpace(raw)) == "null" }

// handleHeartbeat is POST /core/heartbeat: a module says it is alive
// without sending a record. Nothing is stored and nothing reaches the
// Bucket: the hub keeps the module's last heartbeat in memory, where
// silence detection, health and /api/modules read it. It costs a map
// write, so a heartbeat a second from thousands of modules is cheap; it
// takes nothing from the producer's rate limit (which bounds records).
func handleHeartbeat(s *Server) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		body, err := readBody(w, r, MaxHeartbeatBody)
		if err == nil {
			_, err = s.verifySignature(r, body)
		}
		var hb heartbeatRequest
		if err == nil {
			hb, err = decodeHeartbeat(body)
		}
		if err == nil {
			err = s.mayProduce(r, hb.Module)
		}
		if err == nil && !s.cfg.Registry.Known(hb.Module) {
			fe := s.cfg.Registry.UnknownModule(hb.Module, []any{"body", "module"})
			err = &bridge.Error{Code: bridge.EINVALID, Message: fe.Msg, Fields: []bridge.FieldError{fe}}
		}
		now := s.cfg.Now()
		if err == nil {
			err = s.insight.Heartbeat(insight.Heartbeat{Module: hb.Module, At: now, Status: hb.Status, Message: hb.Message, Metrics: hb.Metrics})
			var many *insight.ErrTooManyHeartbeatModules
			if errors.As(err, &many) {
				err = &bridge.Error{Code: bridge.EINVALID, Message: many.Error(), Fields: []bridge.FieldError{{
					Loc: []any{"body", "module"}, Msg: fmt.Sprintf("%s (%q); modules that already heartbeat keep working", many.Error(), hb.Module), Type: "module_limit"}}}
			}
		}
		if err != nil {
			writeError(w, r, s.log, err)
			return
		}
		writeJSON(w, http.StatusOK, heartbeatResponse{Status: "success", Module: hb.Module, Timestamp: bridge.FormatTime(now),
			Message: "Heartbeat received for module " + hb.Module})
	})
}

// mayProduce refuses a module that the request's principal may not send
// (403, counted as a security event), as allowed does for updates.
func (s *Server) mayProduce(r *http.Request, module string) error {
	p := auth.FromContext(r.Context())
	if p.MayProduce(module) {
		return nil
	}
	s.insight.Security(insight.SecForbidden)
	name := "(none)"
	if p != nil {
		name = p.Name
	}
	return bridge.Errorf(bridge.EFORBIDDEN, "token %q may not send heartbeats of module %q", name, module)
}
