//go:build !unix

package sqlitedb

// Lock is a no-op where flock does not exist: run one process per data
// directory there.
func Lock(path string) (func(), error) { return func() {}, nil }
