package main

import (
	"context"
	"time"

	"corebridge/internal/bridge"
)

// auditReloads records each reload of the auth file in the store's audit
// log (actor "system", target the trigger, records the tokens in use after
// it, detail the error of a failed one). The file is read before the store
// opens, so the hook is set here, once there is a store; the first load
// is not a reload and is not recorded.
func (m *serveMain) auditReloads(context.Context) error {
	if m.tokens == nil {
		return nil
	}
	store, log := m.store, m.log
	m.tokens.OnReload(func(trigger string, tokens int, err error) {
		e := bridge.AuditEntry{At: bridge.Now(), Actor: "system", Action: bridge.AuditTokensReloaded, Target: trigger, Records: tokens}
		if err != nil {
			e.Detail = err.Error()
		}
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		// The reload has happened either way; a lost entry is only logged.
		if err := store.AppendAudit(ctx, e); err != nil {
			log.Error("audit entry not recorded", "action", e.Action, "err", err)
		}
	})
	// Unset before the store closes (close runs its steps last first).
	m.undo = append(m.undo, func() { m.tokens.OnReload(nil) })
	return nil
}
