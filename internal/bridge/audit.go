package bridge

import "time"

// Audit actions: what an operator (or the system, for token reloads) did.
const (
	AuditReplay         = "replay"          // dead letters replayed
	AuditPurge          = "purge"           // dead letters deleted for good
	AuditEdit           = "edit"            // a dead letter's data replaced
	AuditLogin          = "login"           // a dashboard session opened
	AuditLoginFailed    = "login_failed"    // a sign-in with a token that did not match
	AuditLogout         = "logout"          // a dashboard session closed
	AuditTokensReloaded = "tokens_reloaded" // the auth file read again (Detail: the error, if it failed)
)

// AuditEntry is one operator action, kept durably: who (Actor, Role), when,
// what (Action on Target) and how many records it touched.
type AuditEntry struct {
	Seq     int64     `json:"seq"`
	At      time.Time `json:"at"`
	Actor   string    `json:"actor"` // the principal's name; "" when unknown (a failed sign-in)
	Role    string    `json:"role,omitempty"`
	Action  string    `json:"action"`
	Target  string    `json:"target,omitempty"` // e.g. "ids: a, b", "module: m", "all", a record id
	Records int       `json:"records"`
	Detail  string    `json:"detail,omitempty"`
}

// AuditQuery pages the audit log newest first: entries with Seq < BeforeSeq
// (0: from the newest), up to Limit.
type AuditQuery struct {
	BeforeSeq int64
	Limit     int
}
