package server

import (
	"encoding/json"
	"net/http"
	"strconv"

	"corebridge/internal/bridge"
)

// statusOf maps an error code to the Bucket's HTTP status: the one place
// that does. Unlike the Core-facing API, a bad request is a plain 400.
func statusOf(code string) int {
	switch code {
	case bridge.EINVALID:
		return http.StatusBadRequest
	case bridge.ETOOLARGE:
		return http.StatusRequestEntityTooLarge
	case bridge.ENOTFOUND:
		return http.StatusNotFound
	case bridge.ECONFLICT:
		return http.StatusConflict
	case bridge.EUNAUTHORIZED:
		return http.StatusUnauthorized
	case bridge.EUNAVAILABLE:
		return http.StatusServiceUnavailable
	}
	return http.StatusInternalServerError
}

// errorBody is every error answer of the Bucket.
type errorBody struct {
	Error string `json:"error"`
	Code  string `json:"code"`
}

// writeError answers err: internal errors are logged with their detail and
// answered with a generic message; 503 carries Retry-After.
func writeError(w http.ResponseWriter, r *http.Request, s *Server, err error) {
	code := bridge.ErrorCode(err)
	status := statusOf(code)
	if code == bridge.EINTERNAL {
		s.log.Error("bucket request failed", "method", r.Method, "path", r.URL.Path, "err", err)
	}
	if status == http.StatusServiceUnavailable {
		w.Header().Set("Retry-After", "1")
	}
	writeJSON(w, status, errorBody{Error: bridge.ErrorMessage(err), Code: code})
}

func writeJSON(w http.ResponseWriter, status int, v any) {
	b, err := json.Marshal(v)
	if err != nil {
		status = http.StatusInternalServerError
		b = []byte(`{"error":"internal error","code":"internal"}`)
	}
	w.Header().Set("Content-Type", "application/json")
	w.Header().Set("Content-Length", strconv.Itoa(len(b)+1))
	w.WriteHeader(status)
	w.Write(append(b, '\n'))
}
