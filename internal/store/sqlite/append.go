package sqlite

import (
	"context"
	"database/sql"
	"fmt"

	"corebridge/internal/bridge"
)

// Append stores recs in one transaction; see bridge.Store.
func (s *Store) Append(ctx context.Context, recs []bridge.NewRecord) ([]bridge.Appended, error) {
	if len(recs) == 0 {
		return nil, nil
	}
	out := make([]bridge.Appended, len(recs))
	tx, err := s.w.BeginTx(ctx, nil)
	if err != nil {
		return nil, fmt.Errorf("append: begin: %w", err)
	}
	defer tx.Rollback()
	st, err := s.ws.stmt(ctx, tx, qInsertRecord)
	if err != nil {
		return nil, fmt.Errorf("append: prepare: %w", err)
	}
	ins := st

	type counter struct{ n, firstSeen, lastSeen int64 }
	perModule := map[string]*counter{}
	rollups := bridge.RollupSet{}
	for i, r := range recs {
		var key any
		if r.DedupeKey != "" {
			key = r.DedupeKey
		}
		res, err := ins.ExecContext(ctx, r.ID, r.Module, r.SessionID, []byte(r.Data),
			micros(r.ReceivedAt), micros(r.ReceivedAt), key)
		if err != nil {
			return nil, fmt.Errorf("append: insert: %w", err)
		}
		n, err := res.RowsAffected()
		if err != nil {
			return nil, err
		}
		if n == 0 {
			if r.DedupeKey == "" {
				return nil, bridge.Errorf(bridge.ECONFLICT, "record id %q already exists", r.ID)
			}
			a, err := s.original(ctx, tx, r.DedupeKey)
			if err != nil {
				return nil, err
			}
			out[i] = a
			rollups.At(r.ReceivedAt, r.Module).Duplicates++
			continue
		}
		out[i] = bridge.Appended{ID: r.ID, SessionID: r.SessionID, ReceivedAt: r.ReceivedAt}
		rollups.At(r.ReceivedAt, r.Module).Received++
		c := perModule[r.Module]
		if c == nil {
			c = &counter{firstSeen: micros(r.ReceivedAt)}
			perModule[r.Module] = c
		}
		c.n++
		c.firstSeen = min(c.firstSeen, micros(r.ReceivedAt))
		c.lastSeen = max(c.lastSeen, micros(r.ReceivedAt))
	}
	for m, c := range perModule {
		if _, err := s.ws.exec(ctx, tx, qCountModule, m, c.n, c.n, c.lastSeen, c.firstSeen); err != nil {
			return nil, fmt.Errorf("append: count module: %w", err)
		}
	}
	if err := s.addRollups(ctx, tx, rollups); err != nil {
		return nil, fmt.Errorf("append: %w", err)
	}
	if err := tx.Commit(); err != nil {
		return nil, fmt.Errorf("append: commit: %w", err)
	}
	return out, nil
}

// original finds the stored record a duplicate stands for.
func (s *Store) original(ctx context.Context, tx *sql.Tx, key string) (bridge.Appended, error) {
	var a bridge.Appended
	var at int64
	rows, err := s.ws.query(ctx, tx, qFindOriginal, key)
	if err != nil {
		return a, fmt.Errorf("append: find original: %w", err)
	}
	defer rows.Close()
	if rows.Next() {
		err = rows.Scan(&a.ID, &a.SessionID, &at)
	} else if err = rows.Err(); err == nil {
		err = sql.ErrNoRows
	}
	if err == sql.ErrNoRows {
		// The insert conflicted on id, not on the dedupe key.
		return a, bridge.Errorf(bridge.ECONFLICT, "record id already exists")
	} else if err != nil {
		return a, fmt.Errorf("append: find original: %w", err)
	}
	a.ReceivedAt = fromMicros(at)
	a.Duplicate = true
	return a, nil
}
