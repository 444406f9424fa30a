package bridge

import (
	"errors"
	"fmt"
	"time"
)

// Error codes. Each maps to one HTTP status in the api package.
const (
	ECONFLICT     = "conflict"
	EINTERNAL     = "internal"
	EINVALID      = "invalid"
	ENOTFOUND     = "not_found"
	EUNAUTHORIZED = "unauthorized" // who sent it is not known: no or a wrong token
	EFORBIDDEN    = "forbidden"    // who sent it may not do it
	ERATELIMITED  = "rate_limited" // who sent it sends faster than allowed
	EUNAVAILABLE  = "unavailable"
	ETOOLARGE     = "too_large"
)

// Error is the error type of the application. Code says what kind of failure
// it is; Message is safe to show to the caller. Internal errors carry their
// cause in Err, which is logged but never sent to a client.
type Error struct {
	Code    string
	Message string
	Fields  []FieldError // for EINVALID: every problem found, by location
	Err     error
	// RetryAfter, for EUNAVAILABLE, is how long the caller should wait
	// before trying again (0: the API's default).
	RetryAfter time.Duration
}

// FieldError is one validation problem, in the shape FastAPI (pydantic)
// answers with, so that clients of the prototype read it unchanged: Loc is
// the path to the value ("body", then keys and indexes), Type a stable
// machine-readable kind.
type FieldError struct {
	Loc  []any  `json:"loc"`
	Msg  string `json:"msg"`
	Type string `json:"type"`
}

func (e *Error) Error() string {
	if e.Err != nil {
		return fmt.Sprintf("%s: %s: %v", e.Code, e.Message, e.Err)
	}
	return fmt.Sprintf("%s: %s", e.Code, e.Message)
}

func (e *Error) Unwrap() error { return e.Err }

// Errorf returns an *Error with the given code and a formatted message.
func Errorf(code, format string, args ...any) *Error {
	return &Error{Code: code, Message: fmt.Sprintf(format, args...)}
}

// ErrorCode returns the code of err, EINTERNAL for errors that are not *Error
// and "" for nil.
func ErrorCode(err error) string {
	var e *Error
	if err == nil {
		return ""
	} else if errors.As(err, &e) {
		return e.Code
	}
	return EINTERNAL
}

// ErrorMessage returns the client-safe message of err. Internal errors get a
// generic message so that no detail of the machine leaks.
func ErrorMessage(err error) string {
	var e *Error
	if err == nil {
		return ""
	} else if errors.As(err, &e) && e.Code != EINTERNAL {
		return e.Message
	}
	return "internal error"
}

// KeyConflict is why Store.Append refused a record: its DedupeKey is held,
// within the record's DedupeSince, by an original with another content.
// It travels inside an ECONFLICT *Error; errors.As finds it.
type KeyConflict struct {
	Index      int    // of the refused record in the records handed to Append
	OriginalID string // the stored record that holds the key
	Field      string // the first field that differs: "module", "session_id" or "data"
}

func (c *KeyConflict) Error() string {
	return fmt.Sprintf("dedupe key already used by record %s with another %s", c.OriginalID, c.Field)
}

// ConflictError wraps c in the ECONFLICT *Error that Append returns.
func ConflictError(c *KeyConflict) *Error {
	return &Error{Code: ECONFLICT, Message: c.Error(), Err: c}
}

// LeaseLost is why Settle or ExtendLease refused a lease: it is no longer
// live (it expired, was settled or released, or its module was leased
// again since). It travels inside an ECONFLICT *Error; errors.As finds it.
type LeaseLost struct {
	Module  string
	LeaseID string
	Epoch   int64
}

func (l *LeaseLost) Error() string {
	return fmt.Sprintf("lease %s of module %q (epoch %d) is no longer held: it expired or was taken over", l.LeaseID, l.Module, l.Epoch)
}

// LeaseLostError wraps a *LeaseLost for l in the ECONFLICT *Error that
// Settle and ExtendLease return.
func LeaseLostError(module, leaseID string, epoch int64) *Error {
	c := &LeaseLost{Module: module, LeaseID: leaseID, Epoch: epoch}
	return &Error{Code: ECONFLICT, Message: c.Error(), Err: c}
}

// IsLeaseLost reports whether err refuses a lease that is no longer live.
func IsLeaseLost(err error) bool {
	var l *LeaseLost
	return errors.As(err, &l)
}
