package sqlitedb

import (
	"context"
	"path/filepath"
	"strings"
	"testing"
	"testing/fstest"
)

func open(t *testing.T, path string, o Options) *DB {
	t.Helper()
	d, err := Open(context.Background(), path, o)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { d.Close() })
	return d
}

func count(t *testing.T, d *DB, query string) int {
	t.Helper()
	var n int
	if err := d.R.QueryRow(query).Scan(&n); err != nil {
		t.Fatalf("%s: %v", query, err)
	}
	return n
}

func TestMigrationsApplyOnce(t *testing.T) {
	path := filepath.Join(t.TempDir(), "db")
	// Not idempotent: applied twice, the CREATE would fail and the row double.
	m := fstest.MapFS{"0001_init.sql": {Data: []byte("CREATE TABLE t (v INTEGER); INSERT INTO t VALUES (1);")}}
	d := open(t, path, Options{Migrations: m})
	if err := d.Close(); err != nil {
		t.Fatal(err)
	}
	m["0002_more.sql"] = &fstest.MapFile{Data: []byte("INSERT INTO t VALUES (2);")}
	for range 2 {
		d, err := Open(context.Background(), path, Options{Migrations: m})
		if err != nil {
			t.Fatal(err)
		}
		if n := count(t, d, "SELECT count(*) FROM t"); n != 2 {
			t.Errorf("t has %d rows, want 2", n)
		}
		if n := count(t, d, "SELECT count(*) FROM schema_migrations WHERE (version, name) IN (VALUES (1, '0001_init.sql'), (2, '0002_more.sql'))"); n != 2 {
			t.Errorf("schema_migrations records %d of the 2 migrations", n)
		}
		if err := d.Close(); err != nil {
			t.Fatal(err)
		}
	}
}

func TestMigrationBadName(t *testing.T) {
	m := fstest.MapFS{"init.sql": {Data: []byte("CREATE TABLE t (v INTEGER);")}}
	_, err := Open(context.Background(), filepath.Join(t.TempDir(), "db"), Options{Migrations: m})
	if err == nil || !strings.Contains(err.Error(), "name must start with a number") {
		t.Fatalf("Open = %v, want a bad-name error", err)
	}
}

func TestMigrationFailsWhole(t *testing.T) {
	path := filepath.Join(t.TempDir(), "db")
	m := fstest.MapFS{
		"0001_ok.sql":  {Data: []byte("CREATE TABLE a (v INTEGER);")},
		"0002_bad.sql": {Data: []byte("CREATE TABLE b (v INTEGER); INSERT INTO nowhere VALUES (1);")},
	}
	_, err := Open(context.Background(), path, Options{Migrations: m})
	if err == nil || !strings.Contains(err.Error(), "0002_bad.sql") {
		t.Fatalf("Open = %v, want an error naming 0002_bad.sql", err)
	}
	d := open(t, path, Options{})
	if n := count(t, d, "SELECT count(*) FROM sqlite_schema WHERE name IN ('a', 'b')"); n != 1 {
		t.Errorf("%d of tables a, b exist, want only a", n)
	}
	if n := count(t, d, "SELECT count(*) FROM schema_migrations"); n != 1 {
		t.Errorf("%d migrations recorded, want 1", n)
	}
}

func TestSynchronous(t *testing.T) {
	for _, tc := range []struct {
		asked string
		want  int
	}{{"", 2}, {"FULL", 2}, {"normal", 1}, {"NORMAL", 1}} {
		d := open(t, filepath.Join(t.TempDir(), "db"), Options{Synchronous: tc.asked})
		var w, r int
		if err := d.W.QueryRow("PRAGMA synchronous").Scan(&w); err != nil {
			t.Fatal(err)
		}
		if err := d.R.QueryRow("PRAGMA synchronous").Scan(&r); err != nil {
			t.Fatal(err)
		}
		if w != tc.want || r != tc.want {
			t.Errorf("Synchronous %q: writer %d, reader %d, want %d", tc.asked, w, r, tc.want)
		}
	}
	if _, err := Open(context.Background(), filepath.Join(t.TempDir(), "db"), Options{Synchronous: "OFF"}); err == nil {
		t.Error("Synchronous OFF: opened, want an error")
	}
}

func TestReaderRefusesWrites(t *testing.T) {
	m := fstest.MapFS{"0001_init.sql": {Data: []byte("CREATE TABLE t (v INTEGER);")}}
	d := open(t, filepath.Join(t.TempDir(), "db"), Options{Migrations: m})
	if _, err := d.R.Exec("INSERT INTO t VALUES (1)"); err == nil {
		t.Error("insert through the read pool succeeded")
	}
	if _, err := d.W.Exec("INSERT INTO t VALUES (1)"); err != nil {
		t.Errorf("insert through the writer: %v", err)
	}
	if n := count(t, d, "SELECT count(*) FROM t"); n != 1 {
		t.Errorf("t has %d rows, want 1", n)
	}
}
