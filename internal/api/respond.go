package api

import (
	"encoding/json"
	"errors"
	"log/slog"
	"net/http"
	"strconv"
	"time"

	"corebridge/internal/bridge"
)

// statusOf maps an error code to its HTTP status: the one place that does.
func statusOf(code string) int {
	switch code {
	case bridge.EINVALID:
		return http.StatusUnprocessableEntity
	case bridge.ENOTFOUND:
		return http.StatusNotFound
	case bridge.ECONFLICT:
		return http.StatusConflict
	case bridge.EUNAUTHORIZED:
		return http.StatusUnauthorized
	case bridge.EFORBIDDEN:
		return http.StatusForbidden
	case bridge.ERATELIMITED:
		return http.StatusTooManyRequests
	case bridge.EUNAVAILABLE:
		return http.StatusServiceUnavailable
	case bridge.ETOOLARGE:
		return http.StatusRequestEntityTooLarge
	}
	return http.StatusInternalServerError
}

// errorBody is what every non-422 error answers: FastAPI's {"detail": msg},
// which the prototype's clients read, and a structured error with a code.
type errorBody struct {
	Detail string    `json:"detail"`
	Error  errorInfo `json:"error"`
}

type errorInfo struct {
	Code    string `json:"code"`
	Message string `json:"message"`
}

// writeError answers err. Validation errors use FastAPI's 422 shape;
// unavailable answers carry Retry-After; internal errors are logged with
// their detail and answered with a generic message.
func writeError(w http.ResponseWriter, r *http.Request, log *slog.Logger, err error) {
	code := bridge.ErrorCode(err)
	status := statusOf(code)
	if code == bridge.EINVALID {
		var e *bridge.Error
		if errors.As(err, &e) && len(e.Fields) > 0 {
			writeJSON(w, status, map[string]any{"detail": e.Fields})
			return
		}
	}
	if code == bridge.EINTERNAL {
		log.Error("request failed", "method", r.Method, "path", r.URL.Path, "err", err)
	}
	if status == http.StatusServiceUnavailable || status == http.StatusTooManyRequests {
		wait := retryAfterSeconds
		var rl *rateLimited
		var be *bridge.Error
		if errors.As(err, &rl) {
			wait = rl.retryAfter()
		} else if errors.As(err, &be) && be.RetryAfter > 0 {
			wait = int((be.RetryAfter + time.Second - 1) / time.Second)
		}
		w.Header().Set("Retry-After", strconv.Itoa(wait))
	}
	msg := bridge.ErrorMessage(err)
	writeJSON(w, status, errorBody{Detail: msg, Error: errorInfo{Code: code, Message: msg}})
}

// retryAfterSeconds is what a refused producer is told to wait.
const retryAfterSeconds = 1

func writeJSON(w http.ResponseWriter, status int, v any) {
	b, err := json.Marshal(v)
	if err != nil {
		status = http.StatusInternalServerError
		b = []byte(`{"detail":"internal error","error":{"code":"internal","message":"internal error"}}`)
	}
	w.Header().Set("Content-Type", "application/json")
	w.Header().Set("Content-Length", strconv.Itoa(len(b)+1))
	w.WriteHeader(status)
	w.Write(append(b, '\n'))
}
