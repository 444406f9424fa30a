package sqlite

import (
	"context"
	"database/sql"
	"encoding/hex"

	"corebridge/internal/bridge"
)

// recordCols are a record's columns, in the order scanRecords reads them,
// for records known not to be synced by position (pending above it,
// replayed, dead): qGet reads any record.
const recordCols = `seq, id, module, session_id, data, received_at, state, attempts,
	next_attempt_at, last_error, coalesce(synced_at, 0), hash, prev_hash`

// qGet reads one record by id. A record in state 0 at or below its
// module's synced position is synced (settle.go): its attempt that
// synced it and its sync time (from sync_marks) are not in its row.
const qGet = `SELECT r.seq, r.id, r.module, r.session_id, r.data, r.received_at,
	CASE WHEN r.state = 0 AND r.seq <= m.synced_seq THEN 1 ELSE r.state END,
	r.attempts + (r.state = 0 AND r.seq <= m.synced_seq), r.next_attempt_at, r.last_error,
	CASE WHEN r.state = 0 AND r.seq <= m.synced_seq THEN coalesce((SELECT k.at FROM sync_marks k
		WHERE k.module = r.module AND k.seq >= r.seq ORDER BY k.seq LIMIT 1), 0)
		ELSE coalesce(r.synced_at, 0) END, r.hash, r.prev_hash
	FROM records r JOIN modules m ON m.module = r.module WHERE r.id = ?`

// stateAgain is a replayed dead letter, pending again (settle.go): it
// reads as pending.
const stateAgain = 3

type querier interface {
	QueryContext(ctx context.Context, q string, args ...any) (*sql.Rows, error)
}

// queryRecords runs query, which selects recordCols, and scans its rows.
func queryRecords(ctx context.Context, q querier, query string, args ...any) ([]bridge.Record, error) {
	rows, err := q.QueryContext(ctx, query, args...)
	if err != nil {
		return nil, err
	}
	return scanRecords(rows)
}

// scanRecords reads recordCols rows and closes them.
func scanRecords(rows *sql.Rows) ([]bridge.Record, error) {
	defer rows.Close()
	var out []bridge.Record
	for rows.Next() {
		var r bridge.Record
		var data []byte
		var recv, next, synced int64
		var state int
		var hash, prev []byte
		if err := rows.Scan(&r.Seq, &r.ID, &r.Module, &r.SessionID, &data, &recv, &state,
			&r.Attempts, &next, &r.LastError, &synced, &hash, &prev); err != nil {
			return nil, err
		}
		if hash != nil && prev != nil {
			r.Hash, r.PrevHash = hex.EncodeToString(hash), hex.EncodeToString(prev)
		}
		r.Data = data
		if state == stateAgain {
			state = int(bridge.StatePending)
		}
		r.State = bridge.State(state)
		r.ReceivedAt, r.NextAttemptAt, r.SyncedAt = fromMicros(recv), fromMicros(next), fromMicros(synced)
		out = append(out, r)
	}
	return out, rows.Err()
}
