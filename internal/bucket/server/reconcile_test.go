package server_test

import (
	"context"
	"database/sql"
	"fmt"
	"io"
	"math/rand/v2"
	"net/http"
	"net/url"
	"os/exec"
	"slices"
	"sort"
	"strconv"
	"strings"
	"testing"

	"corebridge/internal/bucket"
	"corebridge/internal/bucket/buckettest"
	"corebridge/internal/bucket/server"

	_ "modernc.org/sqlite"
)

// uuid7 is a UUIDv7-shaped id for the millisecond ms, with random low bits.
func uuid7(r *rand.Rand, ms uint64) string {
	return fmt.Sprintf("%08x-%04x-7%03x-%04x-%012x", ms>>16, ms&0xffff, r.IntN(1<<12), 0x8000|r.IntN(1<<14), r.Uint64()&(1<<48-1))
}

// model is what a module's reconcile answers must be computed from: the
// ids it holds and their hashes, kept apart from the Bucket.
type model map[string][32]byte

func (m model) ids() []string {
	ids := make([]string, 0, len(m))
	for id := range m {
		ids = append(ids, id)
	}
	sort.Strings(ids)
	return ids
}

// rangeOf is the brute-force count, fingerprint and records of [from, to).
func (m model) rangeOf(ids []string, from, to string) (int64, string, []bucket.ReconcileRecord) {
	var fp bucket.Fingerprint
	var recs []bucket.ReconcileRecord
	for _, id := range ids {
		if id < from || (to != "" && id >= to) {
			continue
		}
		h := m[id]
		fp.Add(bucket.RecordDigest(id, h))
		hx := ""
		if h != ([32]byte{}) {
			hx = fmt.Sprintf("%x", h)
		}
		recs = append(recs, bucket.ReconcileRecord{ID: id, Hash: hx})
	}
	return int64(len(recs)), fp.String(), recs
}

// put stores recs through the Bucket's Go path and adds them to m.
func (m model) put(t testing.TB, s *server.Store, recs []bucket.Record) {
	t.Helper()
	for len(recs) > 0 {
		n := min(len(recs), 500)
		res, err := s.Put(context.Background(), recs[:n])
		if err != nil {
			t.Fatal(err)
		}
		for i, r := range res {
			if r.Status != bucket.StatusStored {
				t.Fatalf("record %s: %s %s", r.ID, r.Status, r.Error)
			}
			h, _ := bucket.ParseHash(recs[i].Hash)
			m[recs[i].ID] = h
		}
		recs = recs[n:]
	}
}

// reconcileURL is GET /v1/reconcile's URL with these parameters.
func reconcileURL(base, module, from, to string, parts, list int) string {
	q := url.Values{"module": {module}, "from": {from}, "to": {to},
		"parts": {strconv.Itoa(parts)}, "list": {strconv.Itoa(list)}}
	return base + "/v1/reconcile?" + q.Encode()
}

func askReconcile(t testing.TB, base, module, from, to string, parts, list int) bucket.ReconcileAnswer {
	t.Helper()
	status, body := get(t, reconcileURL(base, module, from, to, parts, list))
	if status != http.StatusOK {
		t.Fatalf("reconcile %q [%q, %q): %d %s", module, from, to, status, body)
	}
	return decode[bucket.ReconcileAnswer](t, body)
}

// checkAnswer compares an answer with the brute-force one, and checks that
// its parts cover the range exactly, each with its own brute-force count
// and fingerprint.
func checkAnswer(t *testing.T, m model, ids []string, a bucket.ReconcileAnswer, from, to string, parts, list int) {
	t.Helper()
	n, fp, recs := m.rangeOf(ids, from, to)
	if a.Count != n || a.Fingerprint != fp || a.From != from || a.To != to {
		t.Fatalf("[%q, %q): count %d fp %s, want %d %s", from, to, a.Count, a.Fingerprint, n, fp)
	}
	if n <= int64(list) {
		if len(a.Parts) != 0 || !slices.Equal(a.Records, recs) {
			t.Fatalf("[%q, %q) holds %d <= list %d: want them listed, got %d records, %d parts", from, to, n, list, len(a.Records), len(a.Parts))
		}
		return
	}
	if len(a.Records) != 0 || len(a.Parts) == 0 || len(a.Parts) > parts {
		t.Fatalf("[%q, %q) holds %d > list %d: want 1..%d parts, got %d records, %d parts", from, to, n, list, parts, len(a.Records), len(a.Parts))
	}
	if a.Parts[0].From != from || a.Parts[len(a.Parts)-1].To != to {
		t.Fatalf("parts run from %q to %q, want [%q, %q)", a.Parts[0].From, a.Parts[len(a.Parts)-1].To, from, to)
	}
	var sum int64
	for i, p := range a.Parts {
		if i > 0 && p.From != a.Parts[i-1].To {
			t.Fatalf("part %d starts at %q, the one before ends at %q", i, p.From, a.Parts[i-1].To)
		}
		if p.From > p.To && p.To != "" {
			t.Fatalf("part %d is [%q, %q)", i, p.From, p.To)
		}
		pn, pfp, _ := m.rangeOf(ids, p.From, p.To)
		if p.Count != pn || p.Fingerprint != pfp {
			t.Fatalf("part %d [%q, %q): count %d fp %s, want %d %s", i, p.From, p.To, p.Count, p.Fingerprint, pn, pfp)
		}
		sum += p.Count
	}
	if sum != n {
		t.Fatalf("parts count %d records, the range %d", sum, n)
	}
}

// randomRecords returns n records of module with ids of many shapes: most
// UUIDv7 over about 17 minutes, bursts that fill one 256 ms slot, and odd
// ids (short, non-ASCII, prefixes of others); some without a hash. Ids
// in seen are skipped; the new ones are added.
func randomRecords(r *rand.Rand, module string, n int, seen map[string]bool) []bucket.Record {
	const base = uint64(0x0193a6f27c1e)
	bursts := []uint64{base + 5000, base + 300000, base + 700123}
	var out []bucket.Record
	for len(out) < n {
		var id string
		switch k := r.IntN(20); {
		case k < 9:
			id = uuid7(r, base+r.Uint64N(1<<20))
		case k < 18:
			id = uuid7(r, bursts[r.IntN(len(bursts))]+r.Uint64N(200))
		default:
			odd := []string{"a", "ab", "b", "é", "éa", "zz", "0193a6f2", "0193a6f2-7c", "0193a6f2-7c1", "x-" + strconv.Itoa(r.IntN(1000))}
			id = odd[r.IntN(len(odd))]
		}
		if seen[id] {
			continue
		}
		seen[id] = true
		rc := rec(id, module)
		if r.IntN(10) > 0 {
			rc = hashed(rc)
		}
		out = append(out, rc)
	}
	return out
}

// randomBound is a range end: unbounded, a held id, a slot key, a prefix
// or a neighbour of one, or any short string.
func randomBound(r *rand.Rand, ids []string) string {
	id := ids[r.IntN(len(ids))]
	switch r.IntN(7) {
	case 0:
		return ""
	case 1, 2:
		return id
	case 3:
		return id[:min(len(id), 8)]
	case 4:
		return id[:min(len(id), 11)]
	case 5:
		return id[:r.IntN(len(id)+1)] + "0"
	}
	return string(rune('0' + r.IntN(75)))
}

// TestReconcileMatchesBruteForce: over random record sets and random
// ranges, every answer (and every part of it) has the count, fingerprint
// and records a brute-force computation gives; a part asked for again
// answers what it did in the split; another module's records never count.
func TestReconcileMatchesBruteForce(t *testing.T) {
	run := buckettest.Start(t, server.Config{})
	r := rand.New(rand.NewPCG(1, 2))
	m, other := model{}, model{}
	seen := map[string]bool{}
	m.put(t, run.Store, randomRecords(r, "edu", 2500, seen))
	other.put(t, run.Store, randomRecords(r, "fin", 500, seen))
	ids := m.ids()
	for i := range 80 {
		from, to := randomBound(r, ids), randomBound(r, ids)
		if to != "" && from > to {
			from, to = to, from
		}
		if i == 0 {
			from, to = "", ""
		}
		parts := 2 + r.IntN(bucket.ReconcileMaxParts-1)
		list := []int{0, 1, 5, 64, 200}[r.IntN(5)]
		a := askReconcile(t, run.URL, "edu", from, to, parts, list)
		checkAnswer(t, m, ids, a, from, to, parts, list)
		for _, j := range []int{0, len(a.Parts) - 1, r.IntN(max(len(a.Parts), 1))} {
			if j < 0 || len(a.Parts) == 0 {
				break
			}
			p := a.Parts[j]
			again := askReconcile(t, run.URL, "edu", p.From, p.To, parts, list)
			if again.Count != p.Count || again.Fingerprint != p.Fingerprint {
				t.Fatalf("part [%q, %q) asked again: %d %s, in the split %d %s", p.From, p.To, again.Count, again.Fingerprint, p.Count, p.Fingerprint)
			}
			checkAnswer(t, m, ids, again, p.From, p.To, parts, list)
		}
	}
}

// TestReconcileFindsOneDifference walks down to a record the Bucket lacks,
// as a sender does: a handful of requests for thousands of records.
func TestReconcileFindsOneDifference(t *testing.T) {
	run := buckettest.Start(t, server.Config{})
	r := rand.New(rand.NewPCG(3, 4))
	m := model{}
	all := randomRecords(r, "edu", 3000, map[string]bool{})
	m.put(t, run.Store, all)
	mine := model{}
	for id, h := range m {
		mine[id] = h
	}
	missing := all[1234].ID
	if _, err := sqlOpen(t, run.Store.Path()).Exec(`DELETE FROM records WHERE id = ?`, missing); err != nil {
		t.Fatal(err)
	}
	ids := mine.ids()
	from, to, requests := "", "", 0
	for {
		requests++
		a := askReconcile(t, run.URL, "edu", from, to, 16, 64)
		if a.Parts == nil {
			if n, _, _ := mine.rangeOf(ids, from, to); a.Count != n-1 || slices.ContainsFunc(a.Records, func(x bucket.ReconcileRecord) bool { return x.ID == missing }) {
				t.Fatalf("listed %d records of [%q, %q), want all of the %d but %s", a.Count, from, to, n, missing)
			}
			break
		}
		differ := 0
		for _, p := range a.Parts {
			if n, fp, _ := mine.rangeOf(ids, p.From, p.To); n != p.Count || fp != p.Fingerprint {
				from, to = p.From, p.To
				differ++
			}
		}
		if differ != 1 {
			t.Fatalf("%d parts differ, want 1", differ)
		}
	}
	t.Logf("found the difference in %d requests", requests)
	if requests > 6 {
		t.Errorf("%d requests, want a handful", requests)
	}
}

func TestReconcileListThreshold(t *testing.T) {
	run := buckettest.Start(t, server.Config{})
	m := model{}
	m.put(t, run.Store, recs("r", "edu", 10))
	ids := m.ids()
	for _, list := range []int{0, 1, 9, 10, 11} {
		a := askReconcile(t, run.URL, "edu", "", "", 4, list)
		checkAnswer(t, m, ids, a, "", "", 4, list)
		if listed := a.Records != nil; listed != (list >= 10) {
			t.Errorf("list=%d: listed %v, want %v", list, listed, list >= 10)
		}
	}
	// Defaults: 16 parts, list 64; an empty range is listed (empty).
	status, body := get(t, run.URL+"/v1/reconcile?module=edu")
	if a := decode[bucket.ReconcileAnswer](t, body); status != 200 || a.Count != 10 || len(a.Records) != 10 {
		t.Errorf("defaults: %d %s", status, body)
	}
	status, body = get(t, run.URL+"/v1/reconcile?module=none")
	if a := decode[bucket.ReconcileAnswer](t, body); status != 200 || a.Count != 0 || a.Fingerprint != bucket.ZeroHash || a.Records != nil || a.Parts != nil {
		t.Errorf("unknown module: %d %s", status, body)
	}
}

// sqlOpen opens the Bucket's database file beside the Bucket, as an
// operator's script would.
func sqlOpen(t testing.TB, path string) *sql.DB {
	t.Helper()
	db, err := sql.Open("sqlite", "file:"+path+"?_pragma=busy_timeout(10000)")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { db.Close() })
	return db
}

// Rows deleted or changed with plain SQL, behind the Bucket's back, show
// in the next answer.
func TestReconcileSeesChangesBehindTheBucketsBack(t *testing.T) {
	run := buckettest.Start(t, server.Config{})
	r := rand.New(rand.NewPCG(5, 6))
	m := model{}
	m.put(t, run.Store, randomRecords(r, "edu", 1500, map[string]bool{}))
	db := sqlOpen(t, run.Store.Path())
	check := func(t *testing.T) {
		t.Helper()
		ids := m.ids()
		checkAnswer(t, m, ids, askReconcile(t, run.URL, "edu", "", "", 16, 64), "", "", 16, 64)
		for range 20 {
			from, to := randomBound(r, ids), randomBound(r, ids)
			if to != "" && from > to {
				from, to = to, from
			}
			checkAnswer(t, m, ids, askReconcile(t, run.URL, "edu", from, to, 8, 16), from, to, 8, 16)
		}
	}
	check(t) // the sums are all there

	ids := m.ids()
	t.Run("delete", func(t *testing.T) {
		for _, id := range []string{ids[0], ids[700], ids[701], ids[len(ids)-1]} {
			if _, err := db.Exec(`DELETE FROM records WHERE id = ?`, id); err != nil {
				t.Fatal(err)
			}
			delete(m, id)
		}
		check(t)
	})
	t.Run("update", func(t *testing.T) {
		h := [32]byte{1, 2, 3}
		if _, err := db.Exec(`UPDATE records SET data = '{"forged":1}', hash = ? WHERE id = ?`, h[:], ids[300]); err != nil {
			t.Fatal(err)
		}
		m[ids[300]] = h
		if _, err := db.Exec(`UPDATE records SET hash = NULL WHERE id = ?`, ids[301]); err != nil {
			t.Fatal(err)
		}
		m[ids[301]] = [32]byte{}
		if _, err := db.Exec(`UPDATE records SET id = 'moved' WHERE id = ?`, ids[302]); err != nil {
			t.Fatal(err)
		}
		m["moved"] = m[ids[302]]
		delete(m, ids[302])
		check(t)
	})
	t.Run("sqlite3 CLI", func(t *testing.T) {
		cli, err := exec.LookPath("sqlite3")
		if err != nil {
			t.Skip("no sqlite3 CLI")
		}
		q := fmt.Sprintf(`DELETE FROM records WHERE id = '%s'; UPDATE records SET hash = NULL WHERE id = '%s';`, ids[900], ids[901])
		if out, err := exec.Command(cli, run.Store.Path(), q).CombinedOutput(); err != nil {
			t.Fatalf("sqlite3: %v %s", err, out)
		}
		delete(m, ids[900])
		m[ids[901]] = [32]byte{}
		check(t)
	})
}

func TestReconcileBadParameters(t *testing.T) {
	run := buckettest.Start(t, server.Config{Tokens: []string{"tok"}})
	for _, tc := range []struct{ query, names string }{
		{"", "module"},
		{"module=", "module"},
		{"module=m&parts=1", "parts"},
		{"module=m&parts=65", "parts"},
		{"module=m&parts=x", "parts"},
		{"module=m&parts=", "parts"},
		{"module=m&list=-1", "list"},
		{"module=m&list=1001", "list"},
		{"module=m&list=1e3", "list"},
		{"module=m&from=b&to=a", "to"},
	} {
		t.Run(tc.query, func(t *testing.T) {
			req, _ := http.NewRequest("GET", run.URL+"/v1/reconcile?"+tc.query, nil)
			req.Header.Set("Authorization", "Bearer tok")
			status, body := do(t, req)
			e := decode[map[string]string](t, body)
			if status != http.StatusBadRequest || e["code"] != "invalid" || !strings.Contains(e["error"], tc.names) {
				t.Errorf("%d %s, want 400 invalid naming %s", status, body, tc.names)
			}
		})
	}
	for _, tc := range []struct{ query, names string }{
		{"", "module"},
		{"module=m&limit=0", "limit"},
		{"module=m&limit=1001", "limit"},
		{"module=m&limit=z", "limit"},
	} {
		t.Run("chain "+tc.query, func(t *testing.T) {
			req, _ := http.NewRequest("GET", run.URL+"/v1/reconcile/chain?"+tc.query, nil)
			req.Header.Set("Authorization", "Bearer tok")
			status, body := do(t, req)
			e := decode[map[string]string](t, body)
			if status != http.StatusBadRequest || e["code"] != "invalid" || !strings.Contains(e["error"], tc.names) {
				t.Errorf("%d %s, want 400 invalid naming %s", status, body, tc.names)
			}
		})
	}
	// The token is required, as for GET /v1/records.
	for _, path := range []string{"/v1/reconcile?module=m", "/v1/reconcile/chain?module=m"} {
		if status, _ := get(t, run.URL+path); status != http.StatusUnauthorized {
			t.Errorf("%s without a token: %d, want 401", path, status)
		}
	}
	// from == to is an empty range, not an error.
	req, _ := http.NewRequest("GET", run.URL+"/v1/reconcile?module=m&from=a&to=a", nil)
	req.Header.Set("Authorization", "Bearer tok")
	if status, body := do(t, req); status != 200 || decode[bucket.ReconcileAnswer](t, body).Count != 0 {
		t.Errorf("from == to: %d %s", status, body)
	}
}

func do(t testing.TB, req *http.Request) (int, []byte) {
	t.Helper()
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatal(err)
	}
	return resp.StatusCode, b
}
