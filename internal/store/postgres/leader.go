package postgres

import (
	"context"
	"errors"
	"sync/atomic"
	"time"

	"corebridge/internal/bridge"

	"github.com/jackc/pgx/v5"
)

// leaderLock is the advisory lock the leader holds ("cblead" as a number).
const leaderLock = 0x6362_6c65_6164

// Leadership elects, among the replicas on one database, the one that
// runs the work that must run once (retention pruning, the automation
// jobs): the holder of a session advisory lock on a connection of its
// own. When the leader dies its connection ends, the database releases
// the lock, and another replica takes it within a few seconds. A replica
// that loses its connection stops leading at once.
//
// Session advisory locks need a session: behind a pooler in transaction
// mode the leader's connection must go to the database directly.
type Leadership struct {
	s        *Store
	instance string
	every    time.Duration
	leading  atomic.Bool
}

// Leadership returns the election for this replica, named instance.
func (s *Store) Leadership(instance string) *Leadership {
	return &Leadership{s: s, instance: instance, every: 2 * time.Second}
}

// Leading reports whether this replica leads now.
func (l *Leadership) Leading() bool { return l.leading.Load() }

// Replicas reads who leads: the name the leader wrote, if a session still
// holds the leader lock ("" otherwise), and whether it is this replica.
func (l *Leadership) Replicas(ctx context.Context) (bridge.Replicas, error) {
	r := bridge.Replicas{Instance: l.instance, Leading: l.Leading()}
	var since time.Time
	err := l.s.pool.QueryRow(ctx, `SELECT instance, since FROM leader WHERE id = 1 AND EXISTS (SELECT 1 FROM pg_locks
		WHERE locktype = 'advisory' AND granted AND classid = $1 AND objid = $2 AND objsubid = 1)`,
		uint32(uint64(leaderLock)>>32), uint32(uint64(leaderLock)&0xffffffff)).Scan(&r.Leader, &since)
	if errors.Is(err, pgx.ErrNoRows) {
		return r, nil
	}
	r.LeaderSince = since.UTC()
	return r, unavailable("leader", err)
}

// Run campaigns until ctx ends: it tries the lock every few seconds, and
// once it holds it, checks its connection as often; it logs each change.
func (l *Leadership) Run(ctx context.Context) {
	for ctx.Err() == nil {
		err := l.term(ctx)
		switch {
		case !l.leading.Swap(false):
		case ctx.Err() != nil:
			l.s.log.Info("stepped down as leader: stopping", "instance", l.instance)
		default:
			l.s.log.Warn("no longer the leader: its database connection was lost", "instance", l.instance, "err", redactErr(err))
		}
		select {
		case <-ctx.Done():
		case <-time.After(l.every):
		}
	}
}

// term holds one connection: it tries the lock until it gets it, then
// leads until the connection fails or ctx ends.
func (l *Leadership) term(ctx context.Context) error {
	cctx, cancel := context.WithTimeout(ctx, 10*time.Second)
	conn, err := pgx.Connect(cctx, l.s.url)
	cancel()
	if err != nil {
		return err
	}
	defer conn.Close(context.WithoutCancel(ctx))
	t := time.NewTicker(l.every)
	defer t.Stop()
	for {
		if !l.leading.Load() {
			var got bool
			if err := conn.QueryRow(ctx, `SELECT pg_try_advisory_lock($1)`, int64(leaderLock)).Scan(&got); err != nil {
				return err
			}
			if got {
				if _, err := conn.Exec(ctx, `INSERT INTO leader (id, instance, since) VALUES (1, $1, now())
					ON CONFLICT (id) DO UPDATE SET instance = excluded.instance, since = excluded.since`, l.instance); err != nil {
					return err
				}
				l.leading.Store(true)
				l.s.log.Info("leading the replicas: pruning and automation jobs run here", "instance", l.instance)
			}
		} else if err := conn.Ping(ctx); err != nil {
			return err
		}
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-t.C:
		}
	}
}
