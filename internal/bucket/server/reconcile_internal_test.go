package server

import (
	"context"
	"errors"
	"net/url"
	"path/filepath"
	"strings"
	"testing"

	"corebridge/internal/bridge"
	"corebridge/internal/bucket"
	"corebridge/internal/sqlitedb"
)

// FuzzReconcileQuery: any query string either parses into parameters
// within their bounds or is refused as invalid, naming a parameter; never
// a panic, never another kind of error.
func FuzzReconcileQuery(f *testing.F) {
	for _, s := range []string{"module=m", "module=m&from=a&to=b&parts=2&list=0", "module=m&parts=65", "parts=x",
		"module=m&list=1001", "module=%00&from=%ff", "module=m&to=a&from=b", "module=m&parts=+16&list=00064", "module=m&module=n&parts=3&parts=x"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, raw string) {
		q, err := url.ParseQuery(raw)
		if err != nil {
			return
		}
		p, err := parseReconcileQuery(q)
		if err != nil {
			var e *bridge.Error
			if !errors.As(err, &e) || bridge.ErrorCode(err) != bridge.EINVALID {
				t.Fatalf("%q: error %v is not EINVALID", raw, err)
			}
			msg := bridge.ErrorMessage(err)
			if !strings.HasPrefix(msg, "module ") && !strings.HasPrefix(msg, "to ") &&
				!strings.HasPrefix(msg, "parts ") && !strings.HasPrefix(msg, "list ") {
				t.Fatalf("%q: error %q names no parameter", raw, msg)
			}
			return
		}
		if p.Module == "" || p.Parts < 2 || p.Parts > bucket.ReconcileMaxParts || p.List < 0 || p.List > bucket.ReconcileMaxList ||
			(p.To != "" && p.From > p.To) || p.Module != q.Get("module") || p.From != q.Get("from") || p.To != q.Get("to") {
			t.Fatalf("%q parsed as %+v", raw, p)
		}
	})
}

// The reads of reconciliation walk an index in the order they return.
func TestReconcileQueryPlans(t *testing.T) {
	s, err := OpenStore(filepath.Join(t.TempDir(), "bucket.db"))
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	for _, tc := range []struct{ name, query, want string }{
		{"scan", `SELECT id, hash FROM records WHERE module = 'm' AND id >= 'a' AND id < 'b' ORDER BY id`, "records_module_id"},
		{"chain", `SELECT id, hash, prev_hash, first_hash FROM records WHERE module = 'm' ORDER BY id`, "records_module_id"},
		{"sums", `SELECT slot, n, f0, f1, f2, f3 FROM recon_sums WHERE module = 'm' AND level = 1 AND slot >= 'a' AND slot < 'b' ORDER BY slot`, "PRIMARY KEY"},
		{"dirty", `SELECT slot FROM recon_dirty WHERE module = 'm' ORDER BY slot LIMIT 10`, "PRIMARY KEY"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			p, err := sqlitedb.QueryPlan(context.Background(), s.r, tc.query)
			if err != nil {
				t.Fatal(err)
			}
			if !strings.Contains(p, tc.want) || strings.Contains(p, "TEMP B-TREE") {
				t.Errorf("plan %q: want %s and no sort", p, tc.want)
			}
		})
	}
}

// slotKey cuts as SQL's substr does, by characters; the slots of a level
// are contiguous ranges that start at their keys.
func TestSlotKey(t *testing.T) {
	for _, tc := range []struct {
		id    string
		chars int
		want  string
	}{
		{"0193a6f2-7c1e-7d3a", 8, "0193a6f2"},
		{"0193a6f2-7c1e-7d3a", 11, "0193a6f2-7c"},
		{"ab", 8, "ab"},
		{"", 8, ""},
		{"éééééééééé", 8, "éééééééé"},
	} {
		if got := slotKey(tc.id, tc.chars); got != tc.want {
			t.Errorf("slotKey(%q, %d) = %q, want %q", tc.id, tc.chars, got, tc.want)
		}
	}
	// The same cut in SQL. (Ids with a NUL, which substr stops at, or
	// that are not UTF-8 are rejected on arrival.)
	s, err := OpenStore(filepath.Join(t.TempDir(), "bucket.db"))
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	for _, id := range []string{"éééééééééééé", "0193a6f2-7c1e", "日本語のテキストです。長い", "\uffff\U0010ffffabcdefghijkl"} {
		var got string
		if err := s.r.QueryRow(`SELECT substr(?, 1, 11)`, id).Scan(&got); err != nil || got != slotKey(id, fineChars) {
			t.Errorf("substr(%q, 1, 11) = %q (%v), slotKey %q", id, got, err, slotKey(id, fineChars))
		}
	}
}
