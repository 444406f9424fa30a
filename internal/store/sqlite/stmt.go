package sqlite

import (
	"context"
	"database/sql"
	"sync"
)

// stmts caches prepared statements per pool. SQLite parses every statement
// it is given; on the write path, where a batch runs the same few
// statements, parsing was a fifth of the bridge's CPU before this cache.
type stmts struct {
	db *sql.DB
	mu sync.Mutex
	m  map[string]*sql.Stmt
}

func newStmts(db *sql.DB) *stmts { return &stmts{db: db, m: map[string]*sql.Stmt{}} }

// prepare caches the statements of queries; call it before any
// transaction holds the pool's connections.
func (c *stmts) prepare(ctx context.Context, queries ...string) error {
	c.mu.Lock()
	defer c.mu.Unlock()
	for _, q := range queries {
		if _, ok := c.m[q]; ok {
			continue
		}
		st, err := c.db.PrepareContext(ctx, q)
		if err != nil {
			return err
		}
		c.m[q] = st
	}
	return nil
}

// stmt returns query's statement for use in tx. A query not prepared
// beforehand is prepared in tx itself: preparing on the pool would wait for
// the connection tx holds (the write pool has one).
func (c *stmts) stmt(ctx context.Context, tx *sql.Tx, query string) (*sql.Stmt, error) {
	c.mu.Lock()
	st, ok := c.m[query]
	c.mu.Unlock()
	if ok {
		return tx.StmtContext(ctx, st), nil
	}
	return tx.PrepareContext(ctx, query)
}

// exec runs query in tx through its cached statement.
func (c *stmts) exec(ctx context.Context, tx *sql.Tx, query string, args ...any) (sql.Result, error) {
	st, err := c.stmt(ctx, tx, query)
	if err != nil {
		return nil, err
	}
	return st.ExecContext(ctx, args...)
}

// query runs query in tx through its cached statement.
func (c *stmts) query(ctx context.Context, tx *sql.Tx, query string, args ...any) (*sql.Rows, error) {
	st, err := c.stmt(ctx, tx, query)
	if err != nil {
		return nil, err
	}
	return st.QueryContext(ctx, args...)
}

func (c *stmts) close() {
	c.mu.Lock()
	defer c.mu.Unlock()
	for _, st := range c.m {
		st.Close()
	}
	c.m = nil
}

// queryDB runs query on the pool (no transaction) through its cached
// statement, preparing it if it was not prepared at open.
func (c *stmts) queryDB(ctx context.Context, query string, args ...any) (*sql.Rows, error) {
	c.mu.Lock()
	st, ok := c.m[query]
	c.mu.Unlock()
	if ok {
		return st.QueryContext(ctx, args...)
	}
	return c.db.QueryContext(ctx, query, args...)
}

// queryRow runs a one-row query on the pool and scans it into dst; args
// may be nil. It answers sql.ErrNoRows when there is no row.
func (c *stmts) queryRow(ctx context.Context, query string, args []any, dst ...any) error {
	rows, err := c.queryDB(ctx, query, args...)
	return scanOne(rows, err, dst...)
}

// scanOne scans the one row of rows (err: the query's) into dst, or
// answers sql.ErrNoRows.
func scanOne(rows *sql.Rows, err error, dst ...any) error {
	if err != nil {
		return err
	}
	defer rows.Close()
	if !rows.Next() {
		if err := rows.Err(); err != nil {
			return err
		}
		return sql.ErrNoRows
	}
	if err := rows.Scan(dst...); err != nil {
		return err
	}
	return rows.Close()
}
