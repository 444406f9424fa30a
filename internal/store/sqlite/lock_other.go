//go:build !unix

package sqlite

// lockFile is a no-op where flock does not exist: run one process per
// data directory there.
func lockFile(path string) (func(), error) { return func() {}, nil }
