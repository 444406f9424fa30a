// Package pgtest gives tests a fresh PostgreSQL database each, in the
// server named by COREBRIDGE_TEST_POSTGRES_URL (scripts/postgres.sh
// start prints one). Without it tests skip, unless
// COREBRIDGE_REQUIRE_POSTGRES is set (CI), where they fail.
package pgtest

import (
	"context"
	"fmt"
	"net/url"
	"os"
	"sync/atomic"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
)

// URL is the server's URL, or the test skips (or fails in CI).
func URL(t testing.TB) string {
	t.Helper()
	u := os.Getenv("COREBRIDGE_TEST_POSTGRES_URL")
	if u == "" {
		if os.Getenv("COREBRIDGE_REQUIRE_POSTGRES") != "" {
			t.Fatal("COREBRIDGE_REQUIRE_POSTGRES is set but COREBRIDGE_TEST_POSTGRES_URL is not: start one with scripts/postgres.sh start")
		}
		t.Skip("no COREBRIDGE_TEST_POSTGRES_URL (scripts/postgres.sh start prints one)")
	}
	return u
}

var n atomic.Int64

// FreshDB creates an empty database for t and returns its URL; it is
// dropped when t ends.
func FreshDB(t testing.TB) string {
	t.Helper()
	base := URL(t)
	name := fmt.Sprintf("cbtest_%d_%d_%d", os.Getpid(), time.Now().UnixNano()%1e6, n.Add(1))
	exec := func(sql string) error {
		ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
		defer cancel()
		conn, err := pgx.Connect(ctx, base)
		if err != nil {
			return err
		}
		defer conn.Close(ctx)
		_, err = conn.Exec(ctx, sql)
		return err
	}
	if err := exec("CREATE DATABASE " + name); err != nil {
		t.Fatalf("create test database: %v", err)
	}
	t.Cleanup(func() { exec("DROP DATABASE IF EXISTS " + name + " WITH (FORCE)") })
	u, err := url.Parse(base)
	if err != nil {
		t.Fatal(err)
	}
	u.Path = "/" + name
	return u.String()
}
