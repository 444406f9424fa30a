package postgres

import (
	"context"
	"time"

	"github.com/jackc/pgx/v5"
)

// Listen calls wake whenever any handle on the database appends or
// replays records (LISTEN on a connection of its own, outside the pool),
// until ctx ends. When the connection is lost it logs once at WARN, keeps
// trying every few seconds, logs INFO when it listens again and wakes
// once then (notifications sent meanwhile were lost; the forwarder's own
// polling covers the gap). With a pooler in transaction mode LISTEN does
// not work: serve --postgres-no-listen polls instead.
func (s *Store) Listen(ctx context.Context, wake func()) {
	down := false
	for ctx.Err() == nil {
		err := s.listenOnce(ctx, func() {
			if down {
				down = false
				s.log.Info("listening for other replicas' records again", "channel", notifyChannel)
			}
			wake()
		})
		if ctx.Err() != nil {
			return
		}
		if !down {
			down = true
			s.log.Warn("lost the database connection that listens for other replicas' records; delivery polls until it is back",
				"err", redactErr(err))
		}
		select {
		case <-ctx.Done():
		case <-time.After(2 * time.Second):
		}
	}
}

// listenOnce listens on one connection until it fails; wake is called
// once listening starts and on every notification.
func (s *Store) listenOnce(ctx context.Context, wake func()) error {
	cctx, cancel := context.WithTimeout(ctx, 10*time.Second)
	conn, err := pgx.Connect(cctx, s.url)
	cancel()
	if err != nil {
		return err
	}
	defer conn.Close(context.WithoutCancel(ctx))
	if _, err := conn.Exec(ctx, "LISTEN "+notifyChannel); err != nil {
		return err
	}
	wake()
	for {
		if _, err := conn.WaitForNotification(ctx); err != nil {
			return err
		}
		wake()
	}
}
