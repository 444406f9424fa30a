package main

import (
	"context"
	"crypto/sha256"
	"database/sql"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"time"

	"corebridge/internal/bucket/server"
	"corebridge/internal/sqlitedb"
	"corebridge/internal/store/sqlite"
)

// storeDBFile is the SQLite store's file in a data directory.
const storeDBFile = "corebridge.db"

// manifestFile describes a backup directory: what was copied, from where,
// by which version, at what schema, holding how many records.
const manifestFile = "manifest.json"

// manifestFormat is the manifest's own version; restore refuses others.
const manifestFormat = 1

type backupManifest struct {
	Format    int          `json:"format"`
	CreatedAt time.Time    `json:"created_at"` // when the backup started
	Version   string       `json:"corebridge_version"`
	DataDir   string       `json:"data_dir"`
	Files     []backupFile `json:"files"`
}

type backupFile struct {
	Name          string           `json:"name"` // corebridge.db or bucket.db
	Kind          string           `json:"kind"` // store or bucket
	SchemaVersion int              `json:"schema_version"`
	Bytes         int64            `json:"bytes"`
	SHA256        string           `json:"sha256"`
	Records       map[string]int64 `json:"records"`
}

// backupSources are the files a backup takes, in this order: the store
// first, so that a record the store's copy calls synced is in the
// Bucket's copy too (the Bucket's is taken later, so it holds at least as
// much). The other way round, the restored pair would show records
// synced that the restored Bucket lacks.
var backupSources = []struct{ name, kind string }{
	{storeDBFile, "store"},
	{server.DBFile, "bucket"},
}

// runBackup is `corebridge backup`: a consistent online copy of the
// SQLite store (and the embedded Bucket's database, if there is one)
// while serve runs, through SQLite's VACUUM INTO, never a byte copy of
// the live files.
func runBackup(ctx context.Context, args []string, e env) error {
	fl := newFlagSet("backup", "Copy the SQLite store (and the embedded Bucket's bucket.db) consistently into a new directory, while serve runs. PostgreSQL: use pg_dump.", e)
	to := fl.String("to", "", "the directory to write (created 0700; must not exist or be empty)")
	dataDir := fl.String("data-dir", "data", "the serve's --data-dir")
	if err := parseFlags(fl, args, e); err != nil {
		return err
	}
	if *to == "" {
		return usageError{"backup: --to DIR is required"}
	}
	src := filepath.Join(*dataDir, storeDBFile)
	if _, err := os.Stat(src); err != nil {
		return usageError{fmt.Sprintf("backup: no store at %s (give the serve's --data-dir; a PostgreSQL store is backed up with pg_dump)", src)}
	}
	if err := makeEmptyDir(*to); err != nil {
		return fmt.Errorf("backup: %w", err)
	}
	abs, _ := filepath.Abs(*dataDir)
	man := backupManifest{Format: manifestFormat, CreatedAt: time.Now().UTC(), Version: buildVersion(), DataDir: abs}
	ok := false
	defer func() {
		if !ok { // leave no half backup that looks whole
			for _, s := range backupSources {
				os.Remove(filepath.Join(*to, s.name))
			}
		}
	}()
	for _, s := range backupSources {
		from := filepath.Join(*dataDir, s.name)
		if _, err := os.Stat(from); errors.Is(err, fs.ErrNotExist) && s.kind != "store" {
			continue
		}
		dst := filepath.Join(*to, s.name)
		started := time.Now()
		if err := sqlitedb.Backup(ctx, from, dst); err != nil {
			return fmt.Errorf("backup: %w", err)
		}
		f, err := describeBackupFile(ctx, dst, s.name, s.kind)
		if err != nil {
			return fmt.Errorf("backup: %w", err)
		}
		man.Files = append(man.Files, f)
		fmt.Fprintf(e.stdout, "copied %s: schema %d, %d bytes, records %s (%s)\n", from, f.SchemaVersion, f.Bytes,
			formatCounts(f.Records), time.Since(started).Round(time.Millisecond))
	}
	if err := writeManifest(filepath.Join(*to, manifestFile), man); err != nil {
		return fmt.Errorf("backup: %w", err)
	}
	ok = true
	fmt.Fprintf(e.stdout, "backup written to %s (started %s); restore with `corebridge restore --from %s --data-dir DIR`\n",
		*to, man.CreatedAt.Format(time.RFC3339), *to)
	return nil
}

// makeEmptyDir creates dir (0700), or takes an empty one.
func makeEmptyDir(dir string) error {
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return err
	}
	ents, err := os.ReadDir(dir)
	if err != nil {
		return err
	}
	if len(ents) > 0 {
		return fmt.Errorf("%s is not empty: back up into a new directory", dir)
	}
	return os.Chmod(dir, 0o700)
}

// describeBackupFile reads a copied database's size, checksum, schema
// version and record counts.
func describeBackupFile(ctx context.Context, path, name, kind string) (backupFile, error) {
	f := backupFile{Name: name, Kind: kind}
	sum, n, err := fileSHA256(path)
	if err != nil {
		return f, err
	}
	f.SHA256, f.Bytes = sum, n
	db, err := sqlitedb.OpenReadOnly(path)
	if err != nil {
		return f, fmt.Errorf("%s: %w", path, err)
	}
	defer db.Close()
	if f.SchemaVersion, err = sqlitedb.SchemaVersion(ctx, db); err != nil {
		return f, fmt.Errorf("%s: %w", path, err)
	}
	if f.Records, err = countRecords(ctx, db, kind); err != nil {
		return f, fmt.Errorf("%s: %w", path, err)
	}
	return f, nil
}

// countRecords counts a store's records by state, or a Bucket's records.
func countRecords(ctx context.Context, db *sql.DB, kind string) (map[string]int64, error) {
	out := map[string]int64{}
	if kind == "bucket" {
		var n int64
		if err := db.QueryRowContext(ctx, `SELECT count(*) FROM records`).Scan(&n); err != nil {
			return nil, err
		}
		out["total"] = n
		return out, nil
	}
	rows, err := db.QueryContext(ctx, `SELECT state, count(*) FROM records GROUP BY state`)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	names := map[int]string{0: "pending", 1: "synced", 2: "dead"}
	out["pending"], out["synced"], out["dead"] = 0, 0, 0
	for rows.Next() {
		var state int
		var n int64
		if err := rows.Scan(&state, &n); err != nil {
			return nil, err
		}
		name, ok := names[state]
		if !ok {
			name = fmt.Sprintf("state_%d", state)
		}
		out[name] += n
		out["total"] += n
	}
	return out, rows.Err()
}

func formatCounts(m map[string]int64) string {
	if _, ok := m["pending"]; ok {
		return fmt.Sprintf("%d (%d pending, %d synced, %d dead)", m["total"], m["pending"], m["synced"], m["dead"])
	}
	return fmt.Sprintf("%d", m["total"])
}

func fileSHA256(path string) (string, int64, error) {
	f, err := os.Open(path)
	if err != nil {
		return "", 0, err
	}
	defer f.Close()
	h := sha256.New()
	n, err := io.Copy(h, f)
	if err != nil {
		return "", 0, err
	}
	return hex.EncodeToString(h.Sum(nil)), n, nil
}

// writeManifest writes m beside the copies (0600), durably.
func writeManifest(path string, m backupManifest) error {
	b, err := json.MarshalIndent(m, "", "  ")
	if err != nil {
		return err
	}
	tmp := path + ".tmp"
	if err := writeFileSync(tmp, append(b, '\n')); err != nil {
		os.Remove(tmp)
		return err
	}
	if err := os.Rename(tmp, path); err != nil {
		return err
	}
	return sqlitedb.SyncDir(filepath.Dir(path))
}

func writeFileSync(path string, b []byte) error {
	f, err := os.OpenFile(path, os.O_WRONLY|os.O_CREATE|os.O_TRUNC, 0o600)
	if err != nil {
		return err
	}
	if _, err := f.Write(b); err != nil {
		f.Close()
		return err
	}
	if err := f.Sync(); err != nil {
		f.Close()
		return err
	}
	return f.Close()
}

// readManifest reads and checks a backup directory's manifest and every
// file it names: present, the size and checksum written down, whole
// (integrity_check) and at the schema version written down.
func readManifest(ctx context.Context, dir string) (backupManifest, error) {
	var m backupManifest
	b, err := os.ReadFile(filepath.Join(dir, manifestFile))
	if err != nil {
		return m, fmt.Errorf("%s is not a corebridge backup (no %s): %w", dir, manifestFile, err)
	}
	if err := json.Unmarshal(b, &m); err != nil {
		return m, fmt.Errorf("%s: %w", filepath.Join(dir, manifestFile), err)
	}
	if m.Format != manifestFormat {
		return m, fmt.Errorf("%s: manifest format %d, this corebridge reads %d", dir, m.Format, manifestFormat)
	}
	hasStore := false
	for _, f := range m.Files {
		known := false
		for _, s := range backupSources {
			known = known || (s.name == f.Name && s.kind == f.Kind)
		}
		if !known {
			return m, fmt.Errorf("%s: the manifest names %q (%s), which is not a file corebridge backs up", dir, f.Name, f.Kind)
		}
		hasStore = hasStore || f.Kind == "store"
		path := filepath.Join(dir, f.Name)
		sum, n, err := fileSHA256(path)
		if err != nil {
			return m, err
		}
		if n != f.Bytes || sum != f.SHA256 {
			return m, fmt.Errorf("%s: %d bytes, sha256 %s; the manifest says %d bytes, %s: the file changed after the backup", path, n, sum, f.Bytes, f.SHA256)
		}
		db, err := sqlitedb.OpenReadOnly(path)
		if err != nil {
			return m, fmt.Errorf("%s: %w", path, err)
		}
		err = sqlitedb.IntegrityCheck(ctx, db)
		var v int
		if err == nil {
			v, err = sqlitedb.SchemaVersion(ctx, db)
		}
		db.Close()
		if err != nil {
			return m, fmt.Errorf("%s: %w", path, err)
		}
		if v != f.SchemaVersion {
			return m, fmt.Errorf("%s: schema version %d, the manifest says %d", path, v, f.SchemaVersion)
		}
	}
	if !hasStore {
		return m, fmt.Errorf("%s: the manifest names no %s", dir, storeDBFile)
	}
	return m, nil
}

// runRestore is `corebridge restore`: it puts a backup in place as a data
// directory's store, while no serve holds it (its lock), moving aside
// (never deleting) a store already there when told to with --force.
func runRestore(ctx context.Context, args []string, e env) error {
	fl := newFlagSet("restore", "Put a backup made by `corebridge backup` in place as a data directory's store (serve stopped). Records acknowledged after the backup are not in it.", e)
	from := fl.String("from", "", "the backup directory (written by corebridge backup)")
	dataDir := fl.String("data-dir", "data", "the data directory to restore into (the serve's --data-dir)")
	force := fl.Bool("force", false, "replace a store already there: its files are moved to DATA-DIR/pre-restore-TIME/, not deleted")
	if err := parseFlags(fl, args, e); err != nil {
		return err
	}
	if *from == "" {
		return usageError{"restore: --from DIR is required"}
	}
	man, err := readManifest(ctx, *from)
	if err != nil {
		return fmt.Errorf("restore: %w", err)
	}
	if err := os.MkdirAll(*dataDir, 0o700); err != nil {
		return fmt.Errorf("restore: %w", err)
	}
	// The store's own lock: a serve on this directory holds it, and no
	// serve starts while the restore runs.
	unlock, err := sqlitedb.Lock(filepath.Join(*dataDir, storeDBFile+".lock"))
	if err != nil {
		return fmt.Errorf("restore: %w: stop serve first", err)
	}
	defer func() { unlock() }()
	var present []string
	for _, s := range backupSources {
		for _, suffix := range []string{"", "-wal", "-shm"} {
			if _, err := os.Lstat(filepath.Join(*dataDir, s.name+suffix)); err == nil {
				present = append(present, s.name+suffix)
			}
		}
	}
	if len(present) > 0 && !*force {
		return fmt.Errorf("restore: %s already holds a store (%v): restore into an empty directory, or give --force to move those files aside", *dataDir, present)
	}
	stamp := time.Now().UTC().Format("20060102T150405Z")
	// The copies are made and opened in a staging directory beside the
	// store (the same filesystem, so that putting them in place is a
	// rename): what reaches the data directory has opened as a store.
	stage := filepath.Join(*dataDir, ".restore-"+stamp)
	if err := os.Mkdir(stage, 0o700); err != nil {
		return fmt.Errorf("restore: %w", err)
	}
	defer os.RemoveAll(stage)
	for _, f := range man.Files {
		if err := copyFileSync(filepath.Join(*from, f.Name), filepath.Join(stage, f.Name)); err != nil {
			return fmt.Errorf("restore: %w", err)
		}
	}
	if err := openRestored(stage, man); err != nil {
		return fmt.Errorf("restore: the backup does not open: %w", err)
	}
	if len(present) > 0 {
		aside := filepath.Join(*dataDir, "pre-restore-"+stamp)
		if err := os.Mkdir(aside, 0o700); err != nil {
			return fmt.Errorf("restore: %w", err)
		}
		for _, name := range present {
			if err := os.Rename(filepath.Join(*dataDir, name), filepath.Join(aside, name)); err != nil {
				return fmt.Errorf("restore: move %s aside: %w", name, err)
			}
		}
		if err := sqlitedb.SyncDir(aside); err != nil {
			return fmt.Errorf("restore: %w", err)
		}
		fmt.Fprintf(e.stdout, "moved the store that was there (%v) to %s\n", present, aside)
	}
	for _, f := range man.Files {
		for _, suffix := range []string{"", "-wal", "-shm"} {
			err := os.Rename(filepath.Join(stage, f.Name+suffix), filepath.Join(*dataDir, f.Name+suffix))
			if err != nil && (suffix == "" || !errors.Is(err, fs.ErrNotExist)) {
				return fmt.Errorf("restore: %w", err)
			}
		}
	}
	if err := sqlitedb.SyncDir(*dataDir); err != nil {
		return fmt.Errorf("restore: %w", err)
	}
	for _, f := range man.Files {
		fmt.Fprintf(e.stdout, "restored %s: schema %d, records %s\n", filepath.Join(*dataDir, f.Name), f.SchemaVersion, formatCounts(f.Records))
	}
	fmt.Fprintf(e.stdout, "restored the backup made %s by corebridge %s from %s.\n", man.CreatedAt.Format(time.RFC3339), man.Version, man.DataDir)
	fmt.Fprintf(e.stdout, "Records acknowledged after %s are not in it. Next: `corebridge verify --data-dir %s`, start serve, then `corebridge reconcile` shows what the Bucket holds that this store does not (unexpected).\n",
		man.CreatedAt.Format(time.RFC3339), *dataDir)
	return nil
}

// openRestored opens the staged copies as serve would (the store, and the
// Bucket's database if there is one): it applies this binary's
// migrations to an older backup and refuses one written by a newer
// corebridge.
func openRestored(dir string, man backupManifest) error {
	for _, f := range man.Files {
		path := filepath.Join(dir, f.Name)
		switch f.Kind {
		case "store":
			st, err := sqlite.Open(path, sqlite.Options{})
			if err != nil {
				return err
			}
			if err := st.Close(); err != nil {
				return err
			}
			os.Remove(path + ".lock")
		case "bucket":
			st, err := server.OpenStore(path)
			if err != nil {
				return err
			}
			if err := st.Close(); err != nil {
				return err
			}
		}
	}
	return nil
}

// copyFileSync copies src to a new dst (0600) and fsyncs it.
func copyFileSync(src, dst string) error {
	in, err := os.Open(src)
	if err != nil {
		return err
	}
	defer in.Close()
	out, err := os.OpenFile(dst, os.O_WRONLY|os.O_CREATE|os.O_EXCL, 0o600)
	if err != nil {
		return err
	}
	if _, err := io.Copy(out, in); err != nil {
		out.Close()
		return err
	}
	if err := out.Sync(); err != nil {
		out.Close()
		return err
	}
	return out.Close()
}
