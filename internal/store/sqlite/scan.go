package sqlite

import (
	"context"
	"database/sql"

	"corebridge/internal/bridge"
)

// recordCols are a record's columns, in the order scanRecords reads them.
const recordCols = `seq, id, module, session_id, data, received_at, state, attempts,
	next_attempt_at, last_error, coalesce(synced_at, 0)`

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
		if err := rows.Scan(&r.Seq, &r.ID, &r.Module, &r.SessionID, &data, &recv, &state,
			&r.Attempts, &next, &r.LastError, &synced); err != nil {
			return nil, err
		}
		r.Data = data
		r.State = bridge.State(state)
		r.ReceivedAt, r.NextAttemptAt, r.SyncedAt = fromMicros(recv), fromMicros(next), fromMicros(synced)
		out = append(out, r)
	}
	return out, rows.Err()
}
