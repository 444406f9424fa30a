package server

import (
	"context"
	"path/filepath"
	"strings"
	"testing"

	"corebridge/internal/sqlitedb"
)

// The reads the Bucket serves must walk an index in the order they return,
// not sort: a page must cost the same however many records are held.
func TestStoreQueryPlans(t *testing.T) {
	s, err := OpenStore(filepath.Join(t.TempDir(), "bucket.db"))
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	for _, tc := range []struct {
		name, query, want string
	}{
		{"module page", `SELECT id FROM records WHERE module = 'm' AND seq > 0 ORDER BY seq LIMIT 10`, "records_module_seq"},
		{"all page", `SELECT id FROM records WHERE seq > 0 ORDER BY seq LIMIT 10`, "INTEGER PRIMARY KEY"},
		{"after lookup", `SELECT seq FROM records WHERE id = 'x'`, "sqlite_autoindex_records"},
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
