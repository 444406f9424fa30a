package sqlitedb

import (
	"bytes"
	"context"
	"errors"
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"sync/atomic"
	"testing"
	"testing/fstest"
	"time"
)

// TestMigrationsLogWhatTheyApply: each migration applied is one INFO
// line naming it; a second open applies and logs nothing.
func TestMigrationsLogWhatTheyApply(t *testing.T) {
	path := filepath.Join(t.TempDir(), "db")
	m := fstest.MapFS{
		"0001_init.sql":  {Data: []byte("CREATE TABLE t (v INTEGER);")},
		"0002_more.sql":  {Data: []byte("INSERT INTO t VALUES (2);")},
		"0011_chain.sql": {Data: []byte("INSERT INTO t VALUES (11);")},
	}
	var buf bytes.Buffer
	log := slog.New(slog.NewTextHandler(&buf, nil))
	d := open(t, path, Options{Migrations: m, Log: log})
	d.Close()
	out := buf.String()
	for _, name := range []string{"0001_init.sql", "0002_more.sql", "0011_chain.sql"} {
		if !strings.Contains(out, "level=INFO msg=\"applied migration "+name+"\"") {
			t.Errorf("no INFO line for %s:\n%s", name, out)
		}
	}
	buf.Reset()
	d = open(t, path, Options{Migrations: m, Log: log})
	d.Close()
	if buf.Len() != 0 {
		t.Errorf("a second open logged:\n%s", buf.String())
	}
}

// TestNewerSchemaRefused: a database whose schema_migrations holds a
// version past this binary's last migration is refused at open, saying
// what to do, and is left as it was.
func TestNewerSchemaRefused(t *testing.T) {
	path := filepath.Join(t.TempDir(), "db")
	m := fstest.MapFS{
		"0001_init.sql": {Data: []byte("CREATE TABLE t (v INTEGER);")},
		"0011_x.sql":    {Data: []byte("INSERT INTO t VALUES (11);")},
	}
	d := open(t, path, Options{Migrations: m})
	if _, err := d.W.Exec(`INSERT INTO schema_migrations (version, name, applied_at) VALUES (12, '0012_future.sql', 0)`); err != nil {
		t.Fatal(err)
	}
	d.Close()
	_, err := Open(context.Background(), path, Options{Migrations: m})
	var newer *NewerSchemaError
	if !errors.As(err, &newer) || newer.Have != 12 || newer.Know != 11 {
		t.Fatalf("Open = %v, want a NewerSchemaError 12 > 11", err)
	}
	want := "this store was written by a newer corebridge (schema 12, this binary knows up to 11): upgrade corebridge, or restore a backup made by this version"
	if !strings.Contains(err.Error(), want) || !strings.Contains(err.Error(), path) {
		t.Fatalf("Open = %q, want it to name %s and say %q", err, path, want)
	}
}

// TestBackupWhileWriting: a backup taken while a writer commits holds
// every row committed before it started, passes integrity_check, is
// owner-only, and did not hold the writer up for its duration.
func TestBackupWhileWriting(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "db")
	m := fstest.MapFS{"0001_init.sql": {Data: []byte("CREATE TABLE t (v INTEGER PRIMARY KEY, pad BLOB);")}}
	d := open(t, path, Options{Migrations: m, SyncByCaller: true, BackgroundCheckpoint: true})
	var committed atomic.Int64
	stop := make(chan struct{})
	done := make(chan error, 1)
	go func() {
		for i := int64(1); ; i++ {
			select {
			case <-stop:
				done <- nil
				return
			default:
			}
			if _, err := d.W.Exec(`INSERT INTO t VALUES (?, zeroblob(512))`, i); err != nil {
				done <- err
				return
			}
			committed.Store(i)
		}
	}()
	for committed.Load() < 2000 {
		time.Sleep(5 * time.Millisecond)
	}
	before := committed.Load()
	dst := filepath.Join(dir, "copy.db")
	if err := Backup(context.Background(), path, dst); err != nil {
		t.Fatal(err)
	}
	time.Sleep(50 * time.Millisecond)
	close(stop)
	if err := <-done; err != nil {
		t.Fatal(err)
	}
	if after := committed.Load(); after <= before {
		t.Errorf("the writer committed nothing while the backup ran (%d, %d)", before, after)
	}
	if fi, err := os.Stat(dst); err != nil || fi.Mode().Perm() != 0o600 {
		t.Fatalf("backup file: %v, mode %v; want 0600", err, fi.Mode().Perm())
	}
	c, err := OpenReadOnly(dst)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	if err := IntegrityCheck(context.Background(), c); err != nil {
		t.Fatal(err)
	}
	var n, maxV int64
	if err := c.QueryRow(`SELECT count(*), max(v) FROM t`).Scan(&n, &maxV); err != nil {
		t.Fatal(err)
	}
	if maxV < before || n != maxV {
		t.Fatalf("the copy holds %d rows up to %d; %d were committed before the backup started", n, maxV, before)
	}
	if v, err := SchemaVersion(context.Background(), c); err != nil || v != 1 {
		t.Fatalf("SchemaVersion of the copy = %d, %v", v, err)
	}
	if err := Backup(context.Background(), path, dst); err == nil {
		t.Fatal("Backup over an existing file succeeded")
	}
}

// TestIntegrityCheckFindsDamage: a copy with pages overwritten fails.
func TestIntegrityCheckFindsDamage(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "db")
	m := fstest.MapFS{"0001_init.sql": {Data: []byte("CREATE TABLE t (v INTEGER PRIMARY KEY, s TEXT); CREATE INDEX t_s ON t (s);")}}
	d := open(t, path, Options{Migrations: m})
	for i := range 2000 {
		if _, err := d.W.Exec(`INSERT INTO t VALUES (?, ?)`, i, strings.Repeat("x", i%50)); err != nil {
			t.Fatal(err)
		}
	}
	dst := filepath.Join(dir, "copy.db")
	if err := Backup(context.Background(), path, dst); err != nil {
		t.Fatal(err)
	}
	f, err := os.OpenFile(dst, os.O_RDWR, 0)
	if err != nil {
		t.Fatal(err)
	}
	fi, _ := f.Stat()
	if _, err := f.WriteAt(bytes.Repeat([]byte{0xA5}, 4096), fi.Size()/2/4096*4096); err != nil {
		t.Fatal(err)
	}
	f.Close()
	c, err := OpenReadOnly(dst)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	if err := IntegrityCheck(context.Background(), c); err == nil {
		t.Fatal("integrity_check passed a damaged copy")
	}
}

// TestLockExcludes: a second Lock on the same file fails, naming the
// store, until the first is released.
func TestLockExcludes(t *testing.T) {
	p := filepath.Join(t.TempDir(), "corebridge.db.lock")
	unlock, err := Lock(p)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := Lock(p); err == nil || !strings.Contains(err.Error(), "in use by another process") {
		t.Fatalf("second Lock = %v", err)
	}
	unlock()
	u2, err := Lock(p)
	if err != nil {
		t.Fatal(err)
	}
	u2()
}
