package api_test

import (
	"context"
	"encoding/json"
	"errors"
	"net/http"
	"strconv"
	"strings"
	"testing"
	"time"

	"corebridge/internal/api"
	"corebridge/internal/auth"
	"corebridge/internal/bridge"
)

type auditPage struct {
	Entries    []bridge.AuditEntry `json:"entries"`
	NextBefore int64               `json:"next_before"`
}

func readAudit(t *testing.T, f *fixture, query string, hdr ...string) auditPage {
	t.Helper()
	r := f.do(t, "GET", "/api/audit"+query, "", hdr...)
	r.want(t, http.StatusOK)
	var p auditPage
	if err := json.Unmarshal(r.body, &p); err != nil {
		t.Fatalf("GET /api/audit: %v; body %s", err, r.body)
	}
	return p
}

// TestAuditOperatorActions: sign-in (failed and good), replay, edit, purge
// and sign-out by an operator are each recorded with who, what and how
// many, newest first, and GET /api/audit pages back through them. An edit
// names its author in the record's history.
func TestAuditOperatorActions(t *testing.T) {
	tokens := tableTokens()
	sessions, err := auth.NewSessions(tokens, time.Hour)
	if err != nil {
		t.Fatal(err)
	}
	f := newFixtureWith(t, setup{api: api.Config{Auth: tokens, Sessions: sessions}})
	producer := []string{"Authorization", "Bearer cbt_producer_any_secret"}
	var ids []string
	for range 4 {
		r := f.do(t, "POST", "/core/update", `{"module":"m","data":{"a":1}}`, producer...)
		r.want(t, http.StatusOK)
		ids = append(ids, r.object(t)["record_id"].(string))
	}
	f.settle(t, f.clock.Now(), 4, 0) // all four dead

	f.do(t, "POST", "/api/session", `{"token":"cbt_wrong_secret"}`).want(t, http.StatusUnauthorized)
	r := f.do(t, "POST", "/api/session", `{"token":"cbt_operator_secret"}`)
	r.want(t, http.StatusOK)
	cookie := []string{"Cookie", strings.Split(r.header.Get("Set-Cookie"), ";")[0]}
	f.do(t, "POST", "/api/dead-letters/replay", `{"ids":["`+ids[0]+`","`+ids[1]+`"]}`, cookie...).want(t, http.StatusOK)
	f.do(t, "PUT", "/api/dead-letters/"+ids[2]+"/data", `{"data":{"a":2},"note":"fix"}`, cookie...).want(t, http.StatusOK)
	admin := []string{"Authorization", "Bearer cbt_admin_secret"}
	f.do(t, "POST", "/api/dead-letters/purge", `{"module":"m"}`, admin...).want(t, http.StatusOK)
	f.do(t, "POST", "/api/dead-letters/purge", `{"all":true}`, admin...).want(t, http.StatusOK) // nothing left: 0 records
	f.do(t, "DELETE", "/api/session", "", cookie...).want(t, http.StatusOK)

	want := []bridge.AuditEntry{ // newest first
		{Actor: "operator", Role: "operator", Action: bridge.AuditLogout},
		{Actor: "admin", Role: "admin", Action: bridge.AuditPurge, Target: "all", Records: 0},
		{Actor: "admin", Role: "admin", Action: bridge.AuditPurge, Target: "module: m", Records: 2},
		{Actor: "operator", Role: "operator", Action: bridge.AuditEdit, Target: ids[2], Records: 1, Detail: "fix"},
		{Actor: "operator", Role: "operator", Action: bridge.AuditReplay, Target: "ids: " + ids[0] + ", " + ids[1], Records: 2},
		{Actor: "operator", Role: "operator", Action: bridge.AuditLogin},
		{Actor: "", Action: bridge.AuditLoginFailed},
	}
	viewer := []string{"Authorization", "Bearer cbt_viewer_secret"}
	got := readAudit(t, f, "", viewer...).Entries
	if len(got) != len(want) {
		t.Fatalf("%d entries %+v, want %d", len(got), got, len(want))
	}
	for i, g := range got {
		if !g.At.Equal(f.clock.Now()) {
			t.Errorf("entry %d at %v, want the server's clock %v", i, g.At, f.clock.Now())
		}
		g.Seq, g.At = 0, time.Time{}
		if g != want[i] {
			t.Errorf("entry %d = %+v, want %+v", i, g, want[i])
		}
	}
	for _, e := range got {
		if strings.Contains(e.Actor+e.Target+e.Detail, "cbt_") {
			t.Errorf("an entry holds a token: %+v", e)
		}
	}

	// Paging: two at a time, then from next_before, until empty.
	var all []bridge.AuditEntry
	q := "?limit=2"
	for range 10 {
		p := readAudit(t, f, q, viewer...)
		if len(p.Entries) > 2 {
			t.Fatalf("page of %d with limit 2", len(p.Entries))
		}
		if len(p.Entries) == 0 {
			break
		}
		all = append(all, p.Entries...)
		q = "?limit=2&before=" + strconv.FormatInt(p.NextBefore, 10)
	}
	if len(all) != len(want) {
		t.Fatalf("paging read %d entries, want %d", len(all), len(want))
	}
	whole := readAudit(t, f, "", viewer...).Entries
	for i := range all {
		if all[i].Seq != whole[i].Seq {
			t.Errorf("page entry %d differs from the whole list", i)
		}
	}

}

// TestAuditEditAuthor: an edit keeps who made it in the record's history.
func TestAuditEditAuthor(t *testing.T) {
	f := newFixtureWith(t, setup{api: api.Config{Auth: tableTokens()}})
	r := f.do(t, "POST", "/core/update", `{"module":"m","data":{"a":1}}`, "Authorization", "Bearer cbt_producer_any_secret")
	r.want(t, http.StatusOK)
	id := r.object(t)["record_id"].(string)
	f.settle(t, f.clock.Now(), 1, 0)
	f.do(t, "PUT", "/api/dead-letters/"+id+"/data", `{"data":{"a":2}}`, "Authorization", "Bearer cbt_operator_secret").want(t, http.StatusOK)
	r = f.do(t, "GET", "/api/records/"+id, "", "Authorization", "Bearer cbt_viewer_secret")
	r.want(t, http.StatusOK)
	var v struct {
		Edits []bridge.Edit `json:"edits"`
	}
	if err := json.Unmarshal(r.body, &v); err != nil || len(v.Edits) != 1 || v.Edits[0].Author != "operator" {
		t.Errorf("edits = %+v (%v), want one by operator; body %s", v.Edits, err, r.body)
	}
}

// TestAuditQueryInvalid: bad before or limit is a 422 naming the field.
func TestAuditQueryInvalid(t *testing.T) {
	f := newFixture(t, api.Config{})
	for _, c := range []struct{ query, field string }{
		{"?limit=0", `"limit"`},
		{"?limit=501", `"limit"`},
		{"?limit=x", `"limit"`},
		{"?before=-1", `"before"`},
		{"?before=x", `"before"`},
	} {
		t.Run(c.query, func(t *testing.T) {
			r := f.do(t, "GET", "/api/audit"+c.query, "")
			r.want(t, http.StatusUnprocessableEntity)
			if !strings.Contains(string(r.body), c.field) {
				t.Errorf("422 does not name %s: %s", c.field, r.body)
			}
		})
	}
	if p := readAudit(t, f, "?limit=500"); p.Entries == nil || len(p.Entries) != 0 {
		t.Errorf("empty log: %+v, want an empty list", p)
	}
}

// noAudit is a store whose audit log cannot be written.
type noAudit struct{ bridge.Store }

func (noAudit) AppendAudit(context.Context, bridge.AuditEntry) error {
	return errors.New("disk full")
}

// TestAuditFailureKeepsTheAction: when the audit entry cannot be written,
// the action it records is still done and answered as done.
func TestAuditFailureKeepsTheAction(t *testing.T) {
	f := newFixtureWith(t, setup{wrap: func(st bridge.Store) bridge.Store { return noAudit{st} }})
	f.do(t, "POST", "/core/update", `{"module":"m","data":{}}`).want(t, http.StatusOK)
	f.settle(t, f.clock.Now(), 1, 0)
	r := f.do(t, "POST", "/api/dead-letters/replay", `{"all":true}`)
	r.want(t, http.StatusOK)
	if r.object(t)["replayed"] != json.Number("1") {
		t.Errorf("replay answered %s, want 1 replayed", r.body)
	}
	if st := f.stats(t); st.Dead != 0 || st.Pending != 1 {
		t.Errorf("after the replay: %+v, want the record pending", st)
	}
}

// halfway is a store whose paged replays and purges stop after part of
// the selection with an error, as a store that pages may.
type halfway struct{ bridge.Store }

func (halfway) ReplayDead(context.Context, bridge.ReplayParams) (int, error) {
	return 500, errors.New("replay: commit: disk I/O error (500 records done in earlier pages)")
}

func (halfway) PurgeDead(context.Context, bridge.ReplayParams) (int, error) {
	return 500, errors.New("purge: commit: disk I/O error (500 records done in earlier pages)")
}

// TestAuditPartialReplay: a replay or purge that fails part way still did
// something: it is answered as the failure it is, and the audit log keeps
// one entry for the action, with the records it touched and the failure.
func TestAuditPartialReplay(t *testing.T) {
	f := newFixtureWith(t, setup{wrap: func(st bridge.Store) bridge.Store { return halfway{st} }})
	for _, action := range []string{"replay", "purge"} {
		r := f.do(t, "POST", "/api/dead-letters/"+action, `{"all":true}`)
		if r.code < 500 {
			t.Errorf("%s that failed part way answered %d, want a 5xx", action, r.code)
		}
	}
	es, err := f.store.ListAudit(t.Context(), bridge.AuditQuery{})
	if err != nil {
		t.Fatal(err)
	}
	if len(es) != 2 {
		t.Fatalf("audit log holds %d entries after two partial actions, want 2: %+v", len(es), es)
	}
	for i, action := range []string{bridge.AuditPurge, bridge.AuditReplay} { // newest first
		e := es[i]
		if e.Action != action || e.Target != "all" || e.Records != 500 || !strings.Contains(e.Detail, "disk I/O error") {
			t.Errorf("audit entry %d = %+v; want %s of all, 500 records, the failure in detail", i, e, action)
		}
	}
}
