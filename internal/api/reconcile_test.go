package api_test

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"net/http"
	"strings"
	"testing"
	"time"

	"corebridge/internal/api"
	"corebridge/internal/bridge"
	"corebridge/internal/bucket"
	"corebridge/internal/reconcile"
)

// lazyLocal lets a Service be built before the fixture opens its store.
type lazyLocal struct{ bridge.Reconcilable }

func (l *lazyLocal) Modules(ctx context.Context) ([]bridge.ModuleSummary, error) {
	return l.Reconcilable.(reconcile.ModuleLister).Modules(ctx)
}

// emptyBucket holds nothing; block, when set, holds each answer until it
// is closed.
type emptyBucket struct{ block chan struct{} }

func (b *emptyBucket) Reconcile(ctx context.Context, q bucket.ReconcileQuery) (bucket.ReconcileAnswer, error) {
	if b.block != nil {
		select {
		case <-b.block:
		case <-ctx.Done():
			return bucket.ReconcileAnswer{}, ctx.Err()
		}
	}
	return bucket.ReconcileAnswer{Module: q.Module, From: q.From, To: q.To, Fingerprint: bucket.Fingerprint{}.String()}, nil
}

func (b *emptyBucket) ReconcileChain(_ context.Context, module string, _ int) (bucket.ChainReport, error) {
	return bucket.ChainReport{Module: module}, nil
}

func bearer(name string) []string {
	for _, p := range tablePrincipals {
		if p.name == name {
			return []string{"Authorization", "Bearer " + p.secret}
		}
	}
	panic(name)
}

// ndjson splits a streamed answer into its lines.
func ndjson(t *testing.T, body []byte) []map[string]json.RawMessage {
	t.Helper()
	var out []map[string]json.RawMessage
	sc := bufio.NewScanner(bytes.NewReader(body))
	for sc.Scan() {
		var m map[string]json.RawMessage
		if err := json.Unmarshal(sc.Bytes(), &m); err != nil {
			t.Fatalf("line %q: %v", sc.Bytes(), err)
		}
		out = append(out, m)
	}
	return out
}

func TestReconcileRoutes(t *testing.T) {
	local := &lazyLocal{}
	bk := &emptyBucket{}
	svc := reconcile.NewService(reconcile.ServiceConfig{Local: local, Bucket: bk})
	f := newFixtureWith(t, setup{api: api.Config{Auth: tableTokens(), Reconcile: svc},
		wrap: func(s bridge.Store) bridge.Store { local.Reconcilable = s.(bridge.Reconcilable); return s }})

	r := f.do(t, "GET", "/api/reconcile", "", bearer("viewer")...)
	r.want(t, http.StatusOK)
	if none := r.object(t); none["report"] != nil {
		t.Fatalf("GET /api/reconcile before any run: %v, want report null", none)
	}
	if h := f.do(t, "GET", "/core/health", "", bearer("viewer")...).object(t); h["reconciliation"] != nil {
		t.Fatalf("health before any run has reconciliation: %v", h["reconciliation"])
	}
	f.do(t, "POST", "/core/update", `{"module":"finance","data":{"a":1}}`, bearer("admin")...).want(t, http.StatusOK)

	// repair needs the operator; a plain run a viewer.
	r = f.do(t, "POST", "/api/reconcile?repair=true", "", bearer("viewer")...)
	r.want(t, http.StatusForbidden)
	for _, who := range []string{"viewer", "operator"} {
		q := ""
		if who == "operator" {
			q = "?repair=1&module=finance"
		}
		r = f.do(t, "POST", "/api/reconcile"+q, "", bearer(who)...)
		r.want(t, http.StatusOK)
		if ct := r.header.Get("Content-Type"); ct != "application/x-ndjson" {
			t.Fatalf("Content-Type = %q", ct)
		}
		lines := ndjson(t, r.body)
		var rep reconcile.Report
		if err := json.Unmarshal(lines[len(lines)-1]["report"], &rep); err != nil || len(rep.Modules) != 1 || rep.Modules[0].Module != "finance" {
			t.Fatalf("%s: last line %s: %v", who, lines[len(lines)-1], err)
		}
		if len(lines) < 2 || lines[0]["progress"] == nil {
			t.Fatalf("%s: no progress line before the report: %s", who, r.body)
		}
	}
	last := f.do(t, "GET", "/api/reconcile", "", bearer("viewer")...).object(t)
	if last["report"] == nil || last["running"] != false {
		t.Fatalf("GET /api/reconcile = %v", last)
	}
	h := f.do(t, "GET", "/core/health", "", bearer("viewer")...).object(t)
	rec, _ := h["reconciliation"].(map[string]any)
	if rec == nil || rec["reconciled_at"] == "" || rec["unsupported"] != false {
		t.Fatalf("health's reconciliation = %v", h["reconciliation"])
	}
	audit := f.do(t, "GET", "/api/audit", "", bearer("viewer")...)
	if !strings.Contains(string(audit.body), api.AuditReconcileRepair) {
		t.Errorf("no audit entry for the repair: %s", audit.body)
	}

	// One at a time: 409 while one runs.
	bk.block = make(chan struct{})
	done := make(chan response)
	go func() { done <- f.do(t, "POST", "/api/reconcile", "", bearer("viewer")...) }()
	deadline := time.Now().Add(5 * time.Second)
	for !svc.Running() && time.Now().Before(deadline) {
		time.Sleep(time.Millisecond)
	}
	r = f.do(t, "POST", "/api/reconcile", "", bearer("viewer")...)
	r.want(t, http.StatusConflict)
	if !strings.Contains(string(r.body), "already running") {
		t.Fatalf("409 body = %s", r.body)
	}
	close(bk.block)
	(<-done).want(t, http.StatusOK)

	// Bad parameters: 400 naming the parameter.
	for q, name := range map[string]string{"since=yesterday": "since", "repair=perhaps": "repair", "module=a%2Fb": "module", "x=1": "x"} {
		r = f.do(t, "POST", "/api/reconcile?"+q, "", bearer("operator")...)
		r.want(t, http.StatusBadRequest)
		if d, _ := r.object(t)["detail"].(string); !strings.HasPrefix(d, name+":") {
			t.Errorf("?%s: detail %q does not name %s", q, d, name)
		}
	}
}
