//go:build unix

package sqlite

import (
	"fmt"
	"os"
	"syscall"
)

// lockFile takes an exclusive, non-blocking lock on path (created if
// missing), so that a second process opening the same store fails at once
// instead of sharing it: leases are held in memory. The lock goes with the
// process, so a crash leaves nothing to clean up.
func lockFile(path string) (func(), error) {
	f, err := os.OpenFile(path, os.O_CREATE|os.O_RDWR, 0o600)
	if err != nil {
		return nil, fmt.Errorf("lock %s: %w", path, err)
	}
	if err := syscall.Flock(int(f.Fd()), syscall.LOCK_EX|syscall.LOCK_NB); err != nil {
		f.Close()
		return nil, fmt.Errorf("the store %s is in use by another process (lock %s: %w)", path[:len(path)-len(".lock")], path, err)
	}
	return func() { f.Close() }, nil
}
