package sqlite

import (
	"context"
	"fmt"

	"corebridge/internal/bridge"
)

// Exported is a record as `corebridge migrate` moves it to another store:
// the record with its state as read (synced by position included), and
// its dedupe key.
type Exported struct {
	bridge.Record
	DedupeKey string
}

// qExport reads records after a seq in seq order with the state Get would
// show, and their dedupe keys.
const qExport = `SELECT r.seq, r.id, r.module, r.session_id, r.data, r.received_at,
	CASE WHEN r.state = 0 AND r.seq <= m.synced_seq THEN 1 ELSE r.state END,
	r.attempts + (r.state = 0 AND r.seq <= m.synced_seq), r.next_attempt_at, r.last_error,
	CASE WHEN r.state = 0 AND r.seq <= m.synced_seq THEN coalesce((SELECT k.at FROM sync_marks k
		WHERE k.module = r.module AND k.seq >= r.seq ORDER BY k.seq LIMIT 1), 0)
		ELSE coalesce(r.synced_at, 0) END,
	coalesce(r.dedupe_key, '')
	FROM records r JOIN modules m ON m.module = r.module WHERE r.seq > ? ORDER BY r.seq LIMIT ?`

// Export returns up to limit records with seq > after, in seq order, with
// their dedupe keys, for a move to another store.
func (s *Store) Export(ctx context.Context, after int64, limit int) ([]Exported, error) {
	rows, err := s.r.QueryContext(ctx, qExport, after, limit)
	if err != nil {
		return nil, fmt.Errorf("export: %w", err)
	}
	defer rows.Close()
	var out []Exported
	for rows.Next() {
		var e Exported
		var data []byte
		var recv, next, synced int64
		var state int
		if err := rows.Scan(&e.Seq, &e.ID, &e.Module, &e.SessionID, &data, &recv, &state,
			&e.Attempts, &next, &e.LastError, &synced, &e.DedupeKey); err != nil {
			return nil, fmt.Errorf("export: %w", err)
		}
		if state == stateAgain {
			state = int(bridge.StatePending)
		}
		e.Data, e.State = data, bridge.State(state)
		e.ReceivedAt, e.NextAttemptAt, e.SyncedAt = fromMicros(recv), fromMicros(next), fromMicros(synced)
		out = append(out, e)
	}
	return out, rows.Err()
}
