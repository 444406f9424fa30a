package main

import (
	"context"
	"fmt"
	"os"
	"strings"
	"time"

	"corebridge/internal/auth"
	"corebridge/internal/bridge"
	"corebridge/internal/ingest"
	"corebridge/internal/store/postgres"
	"corebridge/internal/store/sqlite"
)

// migrateBatch is how many records one import transaction moves.
const migrateBatch = 2000

// runMigrate moves a SQLite store into an empty PostgreSQL database:
// pending and dead records with their attempts, due times and last
// errors; synced records still within the dedupe window (so that a
// producer's resend is still recognised); the module counters and the
// rollups. It refuses while a serve holds the SQLite store (its lock).
func runMigrate(ctx context.Context, args []string, e env) error {
	fs := newFlagSet("migrate", "Move the queue from the embedded SQLite store to PostgreSQL, so that several serve replicas can share it.", e)
	from := fs.String("from", "", "the SQLite store: sqlite:PATH (e.g. sqlite:data/corebridge.db)")
	to := fs.String("to", "", "the PostgreSQL database, postgres://user@host:port/db (empty; a password is better in PGPASSWORD)")
	window := fs.Duration("synced-within", ingest.DefaultDedupeWindow, "also move synced records received within this (dedupe of resends keeps working); 0 = none")
	if err := parseFlags(fs, args, e); err != nil {
		return err
	}
	path, ok := strings.CutPrefix(*from, "sqlite:")
	if !ok || path == "" {
		return usageError{"migrate: --from must be sqlite:PATH"}
	}
	if !strings.HasPrefix(*to, "postgres://") && !strings.HasPrefix(*to, "postgresql://") {
		return usageError{"migrate: --to must be a postgres:// URL"}
	}
	if _, err := os.Stat(path); err != nil {
		return usageError{fmt.Sprintf("migrate: --from %s: %v", path, err)}
	}
	src, err := sqlite.Open(path, sqlite.Options{})
	if err != nil {
		return fmt.Errorf("migrate: %w (stop the serve that holds it first)", err)
	}
	defer src.Close()
	dst, err := postgres.Open(ctx, *to, postgres.Options{MaxConns: 2})
	if err != nil {
		return fmt.Errorf("migrate: %s: %w", auth.RedactURL(*to), err)
	}
	defer dst.Close()
	if empty, err := dst.Empty(ctx); err != nil {
		return fmt.Errorf("migrate: %w", err)
	} else if !empty {
		return fmt.Errorf("migrate: %s already holds records: migrate into an empty database", auth.RedactURL(*to))
	}
	before, err := src.Stats(ctx)
	if err != nil {
		return fmt.Errorf("migrate: %w", err)
	}
	since := time.Time{}
	if *window > 0 {
		since = time.Now().Add(-*window)
	}
	fmt.Fprintf(e.stdout, "moving %s (%d pending, %d dead) to %s\n", path, before.Pending, before.Dead, auth.RedactURL(*to))
	moved := map[bridge.State]int{}
	var after int64
	for {
		page, err := src.Export(ctx, after, migrateBatch)
		if err != nil {
			return fmt.Errorf("migrate: %w", err)
		}
		if len(page) == 0 {
			break
		}
		after = page[len(page)-1].Seq
		var batch []postgres.Imported
		for _, r := range page {
			if r.State == bridge.StateSynced && (since.IsZero() || r.ReceivedAt.Before(since)) {
				continue
			}
			batch = append(batch, postgres.Imported{Record: r.Record, DedupeKey: r.DedupeKey})
			moved[r.State]++
		}
		if err := dst.Import(ctx, batch); err != nil {
			return fmt.Errorf("migrate: %w", err)
		}
	}
	mods, err := src.Modules(ctx)
	if err != nil {
		return fmt.Errorf("migrate: %w", err)
	}
	if err := dst.ImportModules(ctx, mods); err != nil {
		return fmt.Errorf("migrate: %w", err)
	}
	rolls, err := src.Rollups(ctx, bridge.RollupQuery{From: time.Unix(0, 0), To: time.Now().Add(24 * time.Hour)})
	if err != nil {
		return fmt.Errorf("migrate: %w", err)
	}
	if err := dst.AddRollups(ctx, rolls); err != nil {
		return fmt.Errorf("migrate: %w", err)
	}
	after2, err := dst.Stats(ctx)
	if err != nil {
		return fmt.Errorf("migrate: %w", err)
	}
	if after2.Pending != before.Pending || after2.Dead != before.Dead {
		return fmt.Errorf("migrate: the database counts %d pending and %d dead, the SQLite store %d and %d: check before starting serve on it",
			after2.Pending, after2.Dead, before.Pending, before.Dead)
	}
	fmt.Fprintf(e.stdout, "moved %d pending, %d dead and %d recently synced records, %d modules' counters and %d rollup rows\n",
		moved[bridge.StatePending], moved[bridge.StateDead], moved[bridge.StateSynced], len(mods), len(rolls))
	fmt.Fprintf(e.stdout, "next: start serve with --postgres-url; keep %s as a backup but do not serve it again (its pending records would go out twice; the Bucket would answer duplicate)\n", path)
	return nil
}
