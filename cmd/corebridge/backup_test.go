package main

import (
	"context"
	"database/sql"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"corebridge/internal/bucket/server"
	"corebridge/internal/sqlitedb"
	"corebridge/internal/store/sqlite"
)

// storeIDs reads the ids of a store's (or a Bucket's) records that
// match where, as a reader.
func storeIDs(t *testing.T, path, where string) map[string]bool {
	t.Helper()
	db, err := sqlitedb.OpenReadOnly(path)
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	rows, err := db.Query(`SELECT id FROM records ` + where)
	if err != nil {
		t.Fatal(err)
	}
	defer rows.Close()
	out := map[string]bool{}
	for rows.Next() {
		var id string
		if err := rows.Scan(&id); err != nil {
			t.Fatal(err)
		}
		out[id] = true
	}
	return out
}

// TestBackupRestoreUnderLoad: producers post without pause while a
// backup is taken (the Bucket down for part of it, so that the copy holds
// pending records); every record acknowledged before the backup started
// is in the copy; restore refuses while serve holds the target; restored
// into a fresh directory the store opens, verify finds its chain whole,
// and serve on it delivers what was pending to the Bucket.
func TestBackupRestoreUnderLoad(t *testing.T) {
	ctx := context.Background()
	bucketDir := t.TempDir()
	b1, err := server.Start(ctx, server.Config{DataDir: bucketDir})
	if err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	base, stop := startServe(t, "--data-dir", dir, "--bucket-url", b1.URL)

	var mu sync.Mutex
	var acked []string
	var done atomic.Bool
	var wg sync.WaitGroup
	client := &http.Client{Timeout: 10 * time.Second}
	for g := range 4 {
		wg.Go(func() {
			for i := 0; !done.Load(); i++ {
				body := fmt.Sprintf(`{"module":"m%d","data":{"i":%d}}`, g, i)
				resp, err := client.Post(base+"/core/update", "application/json", strings.NewReader(body))
				if err != nil {
					continue
				}
				var out struct {
					RecordID string `json:"record_id"`
				}
				json.NewDecoder(resp.Body).Decode(&out)
				resp.Body.Close()
				if resp.StatusCode == 200 && out.RecordID != "" {
					mu.Lock()
					acked = append(acked, out.RecordID)
					mu.Unlock()
				}
			}
		})
	}
	count := func() int { mu.Lock(); defer mu.Unlock(); return len(acked) }
	waitFor(t, "records to be acknowledged", 20*time.Second, func() bool { return count() > 200 })
	// The Bucket goes away: what is acknowledged from now on stays pending.
	sctx, cancel := context.WithTimeout(ctx, 10*time.Second)
	if err := b1.Stop(sctx); err != nil {
		t.Fatal(err)
	}
	cancel()
	n0 := count()
	waitFor(t, "records acknowledged with the Bucket down", 20*time.Second, func() bool { return count() > n0+200 })

	mu.Lock()
	before := append([]string(nil), acked...) // acknowledged before the backup started
	mu.Unlock()
	bk := filepath.Join(t.TempDir(), "backup")
	out, err := runCmd("backup", "--to", bk, "--data-dir", dir)
	if err != nil {
		t.Fatalf("backup: %v\n%s", err, out)
	}
	n1 := count()
	waitFor(t, "records acknowledged after the backup", 20*time.Second, func() bool { return count() > n1+50 })
	done.Store(true)
	wg.Wait()

	// Restore refuses while serve holds the target, and changes nothing.
	if out, err := runCmd("restore", "--from", bk, "--data-dir", dir, "--force"); err == nil || !strings.Contains(err.Error(), "in use by another process") {
		t.Fatalf("restore onto a running serve: %v\n%s", err, out)
	}
	if ents, _ := filepath.Glob(filepath.Join(dir, "pre-restore-*")); len(ents) > 0 {
		t.Fatalf("a refused restore moved files: %v", ents)
	}
	if err := stop(); err != nil {
		t.Fatal(err)
	}

	// The copy: owner-only, described, holding every record acknowledged
	// before the backup started, some of them pending.
	if fi, err := os.Stat(bk); err != nil || fi.Mode().Perm() != 0o700 {
		t.Fatalf("backup dir: %v, %v", err, fi.Mode().Perm())
	}
	for _, name := range []string{storeDBFile, manifestFile} {
		if fi, err := os.Stat(filepath.Join(bk, name)); err != nil || fi.Mode().Perm() != 0o600 {
			t.Fatalf("%s: %v, %v", name, err, fi.Mode().Perm())
		}
	}
	if _, err := os.Stat(filepath.Join(bk, server.DBFile)); err == nil {
		t.Fatal("the backup holds a bucket.db though serve ran with --bucket-url")
	}
	copyIDs := storeIDs(t, filepath.Join(bk, storeDBFile), "")
	for _, id := range before {
		if !copyIDs[id] {
			t.Fatalf("record %s was acknowledged before the backup started but is not in it (%d acknowledged, %d in the copy)", id, len(before), len(copyIDs))
		}
	}
	pending := storeIDs(t, filepath.Join(bk, storeDBFile), "WHERE state = 0")
	if len(pending) == 0 {
		t.Fatal("the copy holds no pending record")
	}
	var man backupManifest
	if b, err := os.ReadFile(filepath.Join(bk, manifestFile)); err != nil || json.Unmarshal(b, &man) != nil {
		t.Fatalf("manifest: %v %s", err, b)
	}
	if len(man.Files) != 1 || man.Files[0].Records["total"] != int64(len(copyIDs)) || man.Files[0].Records["pending"] != int64(len(pending)) ||
		man.Files[0].SchemaVersion < 11 || man.Version == "" || man.CreatedAt.IsZero() {
		t.Fatalf("manifest %+v; the copy holds %d records, %d pending", man, len(copyIDs), len(pending))
	}

	// Restore into a fresh directory; verify; serve delivers the pending.
	dir2 := filepath.Join(t.TempDir(), "restored")
	if out, err := runCmd("restore", "--from", bk, "--data-dir", dir2); err != nil || !strings.Contains(out, "Records acknowledged after") {
		t.Fatalf("restore: %v\n%s", err, out)
	}
	if out, err := runVerifyCmd(t, "--data-dir", dir2); err != nil || !strings.Contains(out, "the chain is whole") {
		t.Fatalf("verify of the restored store: %v\n%s", err, out)
	}
	b2, err := server.Start(ctx, server.Config{DataDir: bucketDir})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { b2.Stop(context.Background()) })
	base2, stop2 := startServe(t, "--data-dir", dir2, "--bucket-url", b2.URL)
	waitFor(t, "the restored pending records to be delivered", 60*time.Second, func() bool {
		return num(getJSON(t, base2+"/core/health"), "pending_queue") == 0
	})
	held := storeIDs(t, filepath.Join(bucketDir, server.DBFile), "")
	for id := range pending {
		if !held[id] {
			t.Fatalf("record %s, pending in the backup, did not reach the Bucket", id)
		}
	}
	if err := stop2(); err != nil {
		t.Fatal(err)
	}
}

// TestBackupEmbeddedBucketAndForce: with the embedded Bucket the backup
// holds bucket.db too; restore refuses a directory that holds a store,
// and with --force moves that store aside rather than deleting it.
func TestBackupEmbeddedBucketAndForce(t *testing.T) {
	dir := t.TempDir()
	base, stop := startServe(t, "--data-dir", dir)
	postRoundRobin(t, base, []string{"alpha", "beta"}, 20)
	waitFor(t, "every record to sync", 20*time.Second, func() bool {
		return num(getJSON(t, base+"/bucket/status"), "total_sync_count") == 20
	})
	bk := filepath.Join(t.TempDir(), "bk")
	out, err := runCmd("backup", "--to", bk, "--data-dir", dir)
	if err != nil {
		t.Fatalf("backup: %v\n%s", err, out)
	}
	if out, err := runCmd("backup", "--to", bk, "--data-dir", dir); err == nil || !strings.Contains(err.Error(), "not empty") {
		t.Fatalf("backup into a used directory: %v\n%s", err, out)
	}
	postRoundRobin(t, base, []string{"gamma"}, 5) // after the backup
	if err := stop(); err != nil {
		t.Fatal(err)
	}
	if got := storeIDs(t, filepath.Join(bk, server.DBFile), ""); len(got) != 20 {
		t.Fatalf("the Bucket's copy holds %d records, want 20", len(got))
	}
	if out, err := runCmd("restore", "--from", bk, "--data-dir", dir); err == nil || !strings.Contains(err.Error(), "already holds a store") {
		t.Fatalf("restore over a store without --force: %v\n%s", err, out)
	}
	if out, err := runCmd("restore", "--from", bk, "--data-dir", dir, "--force"); err != nil {
		t.Fatalf("restore --force: %v\n%s", err, out)
	}
	aside, _ := filepath.Glob(filepath.Join(dir, "pre-restore-*"))
	if len(aside) != 1 {
		t.Fatalf("moved-aside directories: %v", aside)
	}
	if got := storeIDs(t, filepath.Join(aside[0], storeDBFile), ""); len(got) != 25 {
		t.Fatalf("the store moved aside holds %d records, want 25", len(got))
	}
	if got := storeIDs(t, filepath.Join(dir, storeDBFile), ""); len(got) != 20 {
		t.Fatalf("the restored store holds %d records, want 20", len(got))
	}
	if leftovers, _ := filepath.Glob(filepath.Join(dir, ".restore-*")); len(leftovers) > 0 {
		t.Fatalf("staging left behind: %v", leftovers)
	}

	// A damaged backup is refused before anything is touched.
	f, err := os.OpenFile(filepath.Join(bk, storeDBFile), os.O_WRONLY, 0)
	if err != nil {
		t.Fatal(err)
	}
	f.WriteAt([]byte("garbage"), 5000)
	f.Close()
	if out, err := runCmd("restore", "--from", bk, "--data-dir", t.TempDir()); err == nil || !strings.Contains(err.Error(), "changed after the backup") {
		t.Fatalf("restore of a damaged backup: %v\n%s", err, out)
	}
}

var newerRE = regexp.MustCompile(`this store was written by a newer corebridge \(schema 99, this binary knows up to \d+\): upgrade corebridge, or restore a backup made by this version`)

// bumpSchema records migration 99 in the database at path, as a newer
// corebridge would have.
func bumpSchema(t *testing.T, path string) {
	t.Helper()
	db, err := sql.Open("sqlite", "file:"+path)
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	if _, err := db.Exec(`INSERT INTO schema_migrations (version, name, applied_at) VALUES (99, '0099_future.sql', 0)`); err != nil {
		t.Fatal(err)
	}
}

// TestNewerSchemaRefused: a store or Bucket database written by a newer
// corebridge is refused at open, by the stores and by serve, saying what
// to do; so is a restore of a backup of one.
func TestNewerSchemaRefused(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, storeDBFile)
	st, err := sqlite.Open(path, sqlite.Options{})
	if err != nil {
		t.Fatal(err)
	}
	st.Close()
	bk := filepath.Join(t.TempDir(), "bk")
	if out, err := runCmd("backup", "--to", bk, "--data-dir", dir); err != nil {
		t.Fatalf("backup: %v\n%s", err, out)
	}
	bumpSchema(t, path)
	if _, err := sqlite.Open(path, sqlite.Options{}); err == nil || !newerRE.MatchString(err.Error()) {
		t.Fatalf("sqlite.Open of a newer store: %v", err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	err = run(ctx, []string{"corebridge", "serve", "--addr", "127.0.0.1:0", "--data-dir", dir}, func(string) string { return "" }, strings.NewReader(""), io.Discard, io.Discard)
	if err == nil || !newerRE.MatchString(err.Error()) {
		t.Fatalf("serve on a newer store: %v", err)
	}

	bpath := filepath.Join(t.TempDir(), server.DBFile)
	bs, err := server.OpenStore(bpath)
	if err != nil {
		t.Fatal(err)
	}
	bs.Close()
	bumpSchema(t, bpath)
	if _, err := server.OpenStore(bpath); err == nil || !newerRE.MatchString(err.Error()) {
		t.Fatalf("server.OpenStore of a newer Bucket db: %v", err)
	}

	// A backup of a newer store: restore refuses it and leaves nothing.
	bumpSchema(t, filepath.Join(bk, storeDBFile))
	var man backupManifest
	b, _ := os.ReadFile(filepath.Join(bk, manifestFile))
	json.Unmarshal(b, &man)
	man.Files[0].SchemaVersion = 99
	man.Files[0].SHA256, man.Files[0].Bytes, _ = fileSHA256(filepath.Join(bk, storeDBFile))
	if err := writeManifest(filepath.Join(bk, manifestFile), man); err != nil {
		t.Fatal(err)
	}
	target := filepath.Join(t.TempDir(), "target")
	if out, err := runCmd("restore", "--from", bk, "--data-dir", target); err == nil || !newerRE.MatchString(err.Error()) {
		t.Fatalf("restore of a newer backup: %v\n%s", err, out)
	}
	if ents, _ := os.ReadDir(target); len(ents) > 1 { // the lock file only
		t.Fatalf("a refused restore left %v", ents)
	}
}

// TestServePortTakenLeavesNothing: with its port taken, serve fails
// before it creates the data dir or starts the embedded Bucket.
func TestServePortTakenLeavesNothing(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	dir := filepath.Join(t.TempDir(), "data")
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	err = run(ctx, []string{"corebridge", "serve", "--addr", ln.Addr().String(), "--data-dir", dir}, func(string) string { return "" }, strings.NewReader(""), io.Discard, io.Discard)
	if err == nil || !strings.Contains(err.Error(), "listen on "+ln.Addr().String()) {
		t.Fatalf("serve on a taken port: %v", err)
	}
	if _, serr := os.Stat(dir); !os.IsNotExist(serr) {
		t.Fatalf("serve on a taken port left its data dir: %v", serr)
	}
}

// TestServeUnwritableDataDir: a data dir the user cannot write is named,
// with the uid, not left to SQLite's "unable to open database file (14)".
// As root, where permissions do not apply, the test runs serve in a copy
// of this test binary as the user nobody.
func TestServeUnwritableDataDir(t *testing.T) {
	if dir := os.Getenv("COREBRIDGE_TEST_UNWRITABLE_DIR"); dir != "" {
		return // the child's work is TestServeUnwritableDataDirChild
	}
	// Not t.TempDir(): its parent is 0700, closed to another user.
	root, err := os.MkdirTemp("", "corebridge-unwritable-")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { os.RemoveAll(root) })
	os.Chmod(root, 0o755)
	dir := filepath.Join(root, "data")
	if err := os.Mkdir(dir, 0o500); err != nil {
		t.Fatal(err)
	}
	if os.Getuid() != 0 {
		out := serveOnce(dir)
		checkUnwritable(t, out, dir, os.Getuid())
		return
	}
	// Root: run as nobody (65534), from a copy of this binary it can run.
	bin := filepath.Join(root, "corebridge.test")
	self, err := os.Executable()
	if err != nil {
		t.Fatal(err)
	}
	if err := copyFileSync(self, bin); err != nil {
		t.Fatal(err)
	}
	os.Chmod(bin, 0o755)
	cmd := exec.Command(bin, "-test.run=^TestServeUnwritableDataDirChild$", "-test.v")
	cmd.Dir = root
	cmd.Env = append(os.Environ(), "COREBRIDGE_TEST_UNWRITABLE_DIR="+dir, "HOME="+root)
	cmd.SysProcAttr = &syscall.SysProcAttr{Credential: &syscall.Credential{Uid: 65534, Gid: 65534}}
	out, err := cmd.CombinedOutput()
	if err != nil {
		t.Skipf("cannot run the check as nobody (%v): root bypasses directory permissions, so this is untested here\n%s", err, out)
	}
	checkUnwritable(t, string(out), dir, 65534)
}

func TestServeUnwritableDataDirChild(t *testing.T) {
	dir := os.Getenv("COREBRIDGE_TEST_UNWRITABLE_DIR")
	if dir == "" {
		t.Skip("run by TestServeUnwritableDataDir")
	}
	fmt.Printf("SERVE: %s\n", serveOnce(dir))
}

func serveOnce(dir string) string {
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	err := run(ctx, []string{"corebridge", "serve", "--addr", "127.0.0.1:0", "--data-dir", dir}, func(string) string { return "" }, strings.NewReader(""), io.Discard, io.Discard)
	return fmt.Sprint(err)
}

func checkUnwritable(t *testing.T, out, dir string, uid int) {
	t.Helper()
	want := fmt.Sprintf("data dir %s is not writable by this user (uid %d): ", dir, uid)
	if !strings.Contains(out, want) || strings.Contains(out, "(14)") {
		t.Fatalf("serve on a 0500 data dir said:\n%s\nwant %q", out, want)
	}
}
