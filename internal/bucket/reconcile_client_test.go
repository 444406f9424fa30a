package bucket_test

import (
	"context"
	"crypto/sha256"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"corebridge/internal/bucket"
)

func hashOf(s string) string { return fmt.Sprintf("%x", sha256.Sum256([]byte(s))) }

func fpOf(recs ...bucket.ReconcileRecord) string {
	var f bucket.Fingerprint
	for _, r := range recs {
		h, _ := bucket.ParseHash(r.Hash)
		f.Add(bucket.RecordDigest(r.ID, h))
	}
	return f.String()
}

func TestReconcileClient(t *testing.T) {
	a, b := bucket.ReconcileRecord{ID: "a", Hash: hashOf("a")}, bucket.ReconcileRecord{ID: "b", Hash: hashOf("b")}
	listed := bucket.ReconcileAnswer{Module: "m", From: "", To: "z", Count: 2, Fingerprint: fpOf(a, b), Records: []bucket.ReconcileRecord{a, b}}
	split := bucket.ReconcileAnswer{Module: "m", From: "", To: "z", Count: 2, Fingerprint: fpOf(a, b), Parts: []bucket.ReconcilePart{
		{From: "", To: "b", Count: 1, Fingerprint: fpOf(a)}, {From: "b", To: "z", Count: 1, Fingerprint: fpOf(b)}}}
	bad := func(f func(*bucket.ReconcileAnswer)) bucket.ReconcileAnswer {
		x := split
		x.Parts = append([]bucket.ReconcilePart(nil), split.Parts...)
		f(&x)
		return x
	}
	badList := func(f func(*bucket.ReconcileAnswer)) bucket.ReconcileAnswer {
		x := listed
		x.Records = append([]bucket.ReconcileRecord(nil), listed.Records...)
		f(&x)
		return x
	}
	for _, tc := range []struct {
		name   string
		answer any
		status int
		want   error // nil: fine
	}{
		{"listed", listed, 200, nil},
		{"split", split, 200, nil},
		{"unsupported 404", map[string]string{"error": "not found"}, 404, bucket.ErrReconcileUnsupported},
		{"unsupported 405", "", 405, bucket.ErrReconcileUnsupported},
		{"gap between parts", bad(func(x *bucket.ReconcileAnswer) { x.Parts[1].From = "c" }), 200, bucket.ErrBadResponse},
		{"parts short of the range", bad(func(x *bucket.ReconcileAnswer) { x.Parts[1].To = "y" }), 200, bucket.ErrBadResponse},
		{"counts do not add up", bad(func(x *bucket.ReconcileAnswer) { x.Count = 3 }), 200, bucket.ErrBadResponse},
		{"bad fingerprint", bad(func(x *bucket.ReconcileAnswer) { x.Parts[0].Fingerprint = "zz" }), 200, bucket.ErrBadResponse},
		{"fingerprints do not add up", bad(func(x *bucket.ReconcileAnswer) { x.Parts[0].Fingerprint = fpOf(b) }), 200, bucket.ErrBadResponse},
		{"other range", bad(func(x *bucket.ReconcileAnswer) { x.To = "y" }), 200, bucket.ErrBadResponse},
		{"record out of order", badList(func(x *bucket.ReconcileAnswer) { x.Records[0], x.Records[1] = b, a }), 200, bucket.ErrBadResponse},
		{"record out of range", badList(func(x *bucket.ReconcileAnswer) { x.Records[1].ID = "zz" }), 200, bucket.ErrBadResponse},
		{"bad record hash", badList(func(x *bucket.ReconcileAnswer) { x.Records[1].Hash = "nope" }), 200, bucket.ErrBadResponse},
		{"records and count differ", badList(func(x *bucket.ReconcileAnswer) { x.Count = 5 }), 200, bucket.ErrBadResponse},
		{"not JSON", "<html>", 200, bucket.ErrBadResponse},
	} {
		t.Run(tc.name, func(t *testing.T) {
			srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
				if r.Header.Get("Authorization") != "Bearer tok" {
					w.WriteHeader(401)
					return
				}
				if r.URL.Path != "/v1/reconcile" || r.URL.Query().Get("module") != "m" || r.URL.Query().Get("to") != "z" || r.URL.Query().Get("parts") != "8" {
					t.Errorf("asked %s", r.URL)
				}
				w.Header().Set("Content-Type", "application/json")
				w.WriteHeader(tc.status)
				if s, ok := tc.answer.(string); ok {
					w.Write([]byte(s))
					return
				}
				json.NewEncoder(w).Encode(tc.answer)
			}))
			defer srv.Close()
			c := bucket.NewClient(srv.URL, bucket.WithHeaders(func() http.Header { return http.Header{"Authorization": {"Bearer tok"}} }))
			got, err := c.Reconcile(context.Background(), bucket.ReconcileQuery{Module: "m", To: "z", Parts: 8})
			if tc.want == nil {
				if err != nil || got.Count != 2 {
					t.Fatalf("Reconcile = %+v, %v", got, err)
				}
				return
			}
			if !errors.Is(err, tc.want) {
				t.Fatalf("Reconcile error = %v, want %v", err, tc.want)
			}
			if tc.want == bucket.ErrReconcileUnsupported && !strings.Contains(err.Error(), "does not support reconciliation (GET /v1/reconcile answered 40") {
				t.Fatalf("message = %q", err)
			}
		})
	}
}

func TestReconcileChainClient(t *testing.T) {
	var answer string
	status := 200
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path != "/v1/reconcile/chain" || r.URL.Query().Get("limit") != "10" {
			t.Errorf("asked %s", r.URL)
		}
		w.WriteHeader(status)
		w.Write([]byte(answer))
	}))
	defer srv.Close()
	c := bucket.NewClient(srv.URL)
	answer = `{"module":"m","records":3,"chained":3,"gaps":1,"first":[{"id":"b","prev_hash":"` + hashOf("x") + `"}]}`
	if r, err := c.ReconcileChain(context.Background(), "m", 10); err != nil || r.Gaps != 1 || r.First[0].ID != "b" {
		t.Fatalf("ReconcileChain = %+v, %v", r, err)
	}
	answer = `{"module":"m","records":3,"chained":3,"gaps":0,"first":[{"id":"b","prev_hash":"x"}]}`
	if _, err := c.ReconcileChain(context.Background(), "m", 10); !errors.Is(err, bucket.ErrBadResponse) {
		t.Fatalf("a malformed chain report: %v", err)
	}
	status, answer = 404, `{"error":"no such route"}`
	if _, err := c.ReconcileChain(context.Background(), "m", 10); !errors.Is(err, bucket.ErrReconcileUnsupported) {
		t.Fatalf("404: %v", err)
	}
}
