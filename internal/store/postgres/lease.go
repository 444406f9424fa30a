package postgres

import (
	"context"
	"errors"
	"fmt"
	"time"

	"corebridge/internal/bridge"

	"github.com/google/uuid"
	"github.com/jackc/pgx/v5"
)

// qClaim takes the lease row of the module with the oldest due pending
// head among those not leased (or whose lease has expired on the
// database's clock), skipping rows another claim has locked, and gives it
// a new epoch and token. The head is one seek in records_pending per
// module, from the module's settled position (migration 0002). $1 now (µs, the caller's clock: due times are set by callers),
// $2 MaxWait (µs, 0: none), $3 strict for all, $4 strict modules, $5
// owner, $6 token, $7 TTL (µs).
const qClaim = `WITH cand AS (
	SELECT l.module FROM leases l JOIN modules m ON m.module = l.module
	CROSS JOIN LATERAL (SELECT seq, next_attempt_at FROM records r
		WHERE r.module = l.module AND r.state = 0 AND r.seq > m.pos ORDER BY r.module, r.seq LIMIT 1) h
	WHERE l.until < clock_timestamp()
	  AND (h.next_attempt_at <= $1 OR ($2 > 0 AND h.next_attempt_at - $1 > $2))
	  AND NOT (($3 OR l.module = ANY($4)) AND EXISTS (SELECT 1 FROM records d
		WHERE d.module = l.module AND d.state = 2 AND d.seq < h.seq))
	ORDER BY h.seq
	LIMIT 1
	FOR UPDATE OF l SKIP LOCKED)
UPDATE leases SET owner = $5, epoch = leases.epoch + 1, token = $6,
	until = clock_timestamp() + $7 * interval '1 microsecond'
FROM cand WHERE leases.module = cand.module
RETURNING leases.module, leases.epoch, leases.until`

// Lease claims the due head of one module; see bridge.Leaser. The lease
// is the module's row in leases: claimed, read and committed in one
// transaction, so a lease either exists in the database or not at all.
func (s *Store) Lease(ctx context.Context, p bridge.LeaseParams) (*bridge.Lease, error) {
	if p.MaxRecords <= 0 {
		return nil, bridge.Errorf(bridge.EINVALID, "lease: MaxRecords must be positive")
	}
	var l *bridge.Lease
	err := pgx.BeginFunc(ctx, s.pool, func(tx pgx.Tx) error {
		l = &bridge.Lease{ID: uuid.NewString(), Owner: p.Owner}
		strict := p.Strict.Modules
		if strict == nil {
			strict = []string{}
		}
		err := tx.QueryRow(ctx, qClaim, micros(p.Now), p.MaxWait.Microseconds(), p.Strict.All, strict,
			p.Owner, l.ID, p.TTL.Microseconds()).Scan(&l.Module, &l.Epoch, &l.Expires)
		if errors.Is(err, pgx.ErrNoRows) {
			l = nil
			return nil
		}
		if err != nil {
			return fmt.Errorf("claim: %w", err)
		}
		l.Expires = l.Expires.UTC()
		l0 := l
		// A strict module's lease stops before its oldest dead record.
		stop := int64(0)
		if p.Strict.Has(l.Module) {
			err := tx.QueryRow(ctx, `SELECT seq FROM records WHERE module = $1 AND state = 2 ORDER BY module, seq LIMIT 1`, l.Module).Scan(&stop)
			if err != nil && !errors.Is(err, pgx.ErrNoRows) {
				return fmt.Errorf("dead head: %w", err)
			}
		}
		rows, err := tx.Query(ctx, `SELECT `+recordCols+` FROM records
			WHERE module = $1 AND state = 0 AND seq > (SELECT pos FROM modules WHERE module = $1) AND ($2 = 0 OR seq < $2)
			ORDER BY module, seq LIMIT $3`, l.Module, stop, p.MaxRecords)
		if err != nil {
			return fmt.Errorf("batch: %w", err)
		}
		recs, err := scanRecords(rows)
		if err != nil {
			return fmt.Errorf("batch: %w", err)
		}
		// The claim read the head in its statement's snapshot; a settle
		// that committed just before the claim took the row may have
		// synced it since: then this is nothing to deliver (or nothing
		// due yet), and the claim is undone.
		if len(recs) == 0 || !p.Due(recs[0].NextAttemptAt) {
			l = nil
			_, err := tx.Exec(ctx, `UPDATE leases SET until = '-infinity', token = '' WHERE module = $1`, l0.Module)
			return err
		}
		size := 0
		for i, r := range recs {
			size += len(r.Data)
			if i > 0 && (!p.Due(r.NextAttemptAt) || p.MaxBytes > 0 && size > p.MaxBytes) {
				recs = recs[:i]
				break
			}
		}
		l.Records = recs
		return nil
	})
	if err != nil {
		return nil, unavailable("lease", err)
	}
	return l, nil
}

// ExtendLease gives a live lease ttl more; see bridge.Leaser.
func (s *Store) ExtendLease(ctx context.Context, l *bridge.Lease, ttl time.Duration) error {
	var until time.Time
	err := s.pool.QueryRow(ctx, `UPDATE leases SET until = clock_timestamp() + $3 * interval '1 microsecond'
		WHERE module = $1 AND token = $2 AND until > clock_timestamp() RETURNING until`,
		l.Module, l.ID, ttl.Microseconds()).Scan(&until)
	if errors.Is(err, pgx.ErrNoRows) {
		return bridge.LeaseLostError(l.Module, l.ID, l.Epoch)
	}
	if err != nil {
		return unavailable("extend lease", err)
	}
	l.Expires = until.UTC()
	return nil
}

// ReleaseLeases frees the live leases of owner; see bridge.Leaser.
func (s *Store) ReleaseLeases(ctx context.Context, owner string) (int, error) {
	tag, err := s.pool.Exec(ctx, `UPDATE leases SET until = '-infinity', token = ''
		WHERE owner = $1 AND until > clock_timestamp()`, owner)
	if err != nil {
		return 0, unavailable("release leases", err)
	}
	return int(tag.RowsAffected()), nil
}

// Settle applies a delivery outcome and releases the lease; see
// bridge.Leaser. Its first statement ends the lease if, and only if, it is
// still live (token and deadline): that is the fence, and the row stays
// locked until the settle commits, so nobody claims the module between
// the check and the commit. Transitions apply only to pending records.
func (s *Store) Settle(ctx context.Context, st bridge.Settlement) error {
	err := pgx.BeginFunc(ctx, s.pool, func(tx pgx.Tx) error { return s.settleTx(ctx, tx, st) })
	if err == nil {
		return nil
	}
	if !bridge.IsLeaseLost(err) {
		// A settle that fails releases its lease too (bridge.Leaser).
		rctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 5*time.Second)
		s.pool.Exec(rctx, `UPDATE leases SET until = '-infinity', token = '' WHERE module = $1 AND token = $2`, st.Module, st.LeaseID)
		cancel()
	}
	return unavailable("settle", err)
}

func (s *Store) settleTx(ctx context.Context, tx pgx.Tx, st bridge.Settlement) error {
	tag, err := tx.Exec(ctx, `UPDATE leases SET until = '-infinity', token = ''
		WHERE module = $1 AND token = $2 AND until > clock_timestamp()`, st.Module, st.LeaseID)
	if err != nil {
		return fmt.Errorf("fence: %w", err)
	}
	if tag.RowsAffected() == 0 {
		return bridge.LeaseLostError(st.Module, st.LeaseID, 0)
	}
	if len(st.Synced)+len(st.Dead)+len(st.Retry) == 0 && st.Attempt == nil {
		return nil // a release
	}
	now := micros(st.Now)
	roll := &bridge.Rollup{Minute: bridge.Minute(st.Now), Module: st.Module}
	var synced, dead, last, lastDead int64 // last: the greatest seq settled here
	if len(st.Synced) > 0 {
		rows, err := tx.Query(ctx, `UPDATE records SET state = 1, attempts = attempts + 1, synced_at = $2
			WHERE id = ANY($1) AND module = $3 AND state = 0 RETURNING received_at, seq`, st.Synced, now, st.Module)
		if err != nil {
			return fmt.Errorf("synced: %w", err)
		}
		for rows.Next() {
			var recv, seq int64
			if err := rows.Scan(&recv, &seq); err != nil {
				rows.Close()
				return err
			}
			last = max(last, seq)
			synced++
			roll.ObserveLatency(time.Duration(now-recv) * time.Microsecond)
		}
		rows.Close()
		if err := rows.Err(); err != nil {
			return fmt.Errorf("synced: %w", err)
		}
	}
	if len(st.Dead) > 0 {
		ids, reasons := make([]string, len(st.Dead)), make([]string, len(st.Dead))
		for i, d := range st.Dead {
			ids[i], reasons[i] = d.ID, d.Reason
		}
		err := tx.QueryRow(ctx, `WITH d AS (UPDATE records r SET state = 2, attempts = attempts + 1, last_error = u.reason
			FROM unnest($1::text[], $2::text[]) AS u(id, reason)
			WHERE r.id = u.id AND r.module = $3 AND r.state = 0 RETURNING r.seq)
			SELECT count(*), coalesce(max(seq), 0) FROM d`, ids, reasons, st.Module).Scan(&dead, &lastDead)
		if err != nil {
			return fmt.Errorf("dead: %w", err)
		}
		last = max(last, lastDead)
	}
	if len(st.Retry) > 0 {
		tag, err := tx.Exec(ctx, `UPDATE records SET attempts = attempts + 1, next_attempt_at = $2, last_error = $3
			WHERE id = ANY($1) AND module = $4 AND state = 0`, st.Retry, micros(st.RetryAt), st.Error, st.Module)
		if err != nil {
			return fmt.Errorf("retry: %w", err)
		}
		roll.Failed = tag.RowsAffected()
	}
	roll.Synced, roll.Dead = synced, dead
	b := &pgx.Batch{}
	if synced+dead > 0 {
		lastSync := int64(0)
		if synced > 0 {
			lastSync = now
		}
		// The position moves to just below the first record still
		// pending above it (a retry, a record not named), or over what
		// was settled here when none is: records committed later have
		// greater seqs (append.go), so none can appear below it.
		b.Queue(`UPDATE modules SET pending = pending - $2, synced = synced + $3, dead = dead + $4,
			dead_total = dead_total + $4, last_sync_at = greatest(last_sync_at, $5),
			pos = coalesce((SELECT r.seq - 1 FROM records r WHERE r.module = $1 AND r.state = 0 AND r.seq > modules.pos
				ORDER BY r.module, r.seq LIMIT 1), greatest(pos, $6))
			WHERE module = $1`,
			st.Module, synced+dead, synced, dead, lastSync, last)
	}
	queueRollups(b, bridge.RollupSet{{Minute: roll.Minute.Unix() / 60, Module: st.Module}: roll})
	if a := st.Attempt; a != nil {
		b.Queue(`INSERT INTO attempts (at, module, lease_id, first_seq, last_seq, records, outcome, http_status, error, latency_us)
			VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10)`,
			micros(a.At), a.Module, a.LeaseID, a.FirstSeq, a.LastSeq, a.Records, a.Outcome, a.HTTPStatus, a.Error, a.Latency.Microseconds())
	}
	if err := tx.SendBatch(ctx, b).Close(); err != nil {
		return fmt.Errorf("counts: %w", err)
	}
	return nil
}
