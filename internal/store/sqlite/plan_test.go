package sqlite

import (
	"context"
	"database/sql"
	"path/filepath"
	"strings"
	"testing"

	"corebridge/internal/sqlitedb"
)

// TestQueryPlansUseIndexes: the queries whose cost must not grow with the
// number of records (lease, oldest pending, dead letters, prune, dedupe,
// latency) are index seeks, never a scan of records or a sort.
func TestQueryPlansUseIndexes(t *testing.T) {
	s, err := Open(filepath.Join(t.TempDir(), "plan.db"), Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	allPage, _ := deadPageQuery("")
	modulePage, _ := deadPageQuery("m")
	for name, q := range map[string]string{
		"free module heads":  qFreeHeads,
		"lease batch":        qLeaseBatch,
		"dead head":          qDeadHead, // strict order: is a module blocked?
		"modules":            qModules,
		"oldest pending":     qOldestPending,
		"find original":      qFindOriginal,
		"dead letters":       `SELECT seq FROM records WHERE state = 2 AND seq > ? ORDER BY seq LIMIT ?`,
		"module dead":        `SELECT seq FROM records WHERE module = ? AND state = 2 AND seq > ? ORDER BY seq LIMIT ?`,
		"prune":              `SELECT seq FROM records WHERE state = 1 AND synced_at < ? ORDER BY synced_at LIMIT ?`,
		"replay page":        `UPDATE records SET state = 0 WHERE seq IN (` + allPage + `) RETURNING module, seq`,
		"replay module page": `UPDATE records SET state = 0 WHERE seq IN (` + modulePage + `) RETURNING module, seq`,
		"purge page":         `DELETE FROM records WHERE seq IN (` + allPage + `) RETURNING module, seq, dedupe_key`,
		"purge module page":  `DELETE FROM records WHERE seq IN (` + modulePage + `) RETURNING module, seq, dedupe_key`,
		"rollups":            qRollups,
		"edits":              `SELECT at FROM edits WHERE record = ? ORDER BY id`,
		"get":                `SELECT seq FROM records WHERE id = ?`,
		"scan ids":           qScanIDs, // reconciliation: the id index, in its order
		// The settle UPDATEs must seek by id: the planner once chose the
		// (module, state) index and walked every pending record of the module.
		"settle synced":        qSettleSynced,
		"settle dead":          qSettleDead,
		"settle retry":         qSettleRetry,
		"settle synced by seq": qSettleSyncedSeq,
		"settle dead by seq":   qSettleDeadSeq,
		"settle retry by seq":  qSettleRetrySeq,
	} {
		t.Run(name, func(t *testing.T) {
			all := queryPlan(t, s.w, q)
			for _, bad := range []string{"SCAN records", "SCAN r ", "SCAN rollups", "SCAN edits", "TEMP B-TREE"} {
				if strings.Contains(all+" ", bad) {
					t.Fatalf("plan %q contains %q", all, bad)
				}
			}
			if strings.HasSuffix(name, "by seq") && !strings.Contains(all, "(rowid=?)") {
				t.Fatalf("plan %q does not seek records by seq", all)
			} else if strings.HasPrefix(name, "settle") && !strings.HasSuffix(name, "by seq") && !strings.Contains(all, "(id=?)") {
				t.Fatalf("plan %q does not seek records by id", all)
			}
			t.Log(all)
		})
	}
}

// queryPlan is sqlitedb.QueryPlan, failing t on error.
func queryPlan(t *testing.T, db *sql.DB, q string) string {
	t.Helper()
	plan, err := sqlitedb.QueryPlan(context.Background(), db, q)
	if err != nil {
		t.Fatal(err)
	}
	return plan
}
