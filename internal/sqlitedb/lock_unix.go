//go:build unix

package sqlitedb

import (
	"fmt"
	"os"
	"strings"
	"syscall"
)

// Lock takes the exclusive, non-blocking flock on path (created if
// missing) that a process owning a store holds for as long as it runs
// (store/sqlite takes it on corebridge.db.lock: leases are held in
// memory), so that a second serve, or a command that must not run beside
// one (restore), fails at once instead of sharing the store. The lock goes with the process: a crash leaves nothing behind.
func Lock(path string) (func(), error) {
	f, err := os.OpenFile(path, os.O_CREATE|os.O_RDWR, 0o600)
	if err != nil {
		return nil, fmt.Errorf("lock %s: %w", path, err)
	}
	if err := syscall.Flock(int(f.Fd()), syscall.LOCK_EX|syscall.LOCK_NB); err != nil {
		f.Close()
		return nil, fmt.Errorf("the store %s is in use by another process (lock %s: %w)", strings.TrimSuffix(path, ".lock"), path, err)
	}
	return func() { f.Close() }, nil
}
