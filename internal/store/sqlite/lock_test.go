package sqlite

import (
	"path/filepath"
	"strings"
	"testing"
)

// A store is owned by one process (its leases are in memory): a second
// open of the same file fails with a clear error until the first closes.
func TestOpenTwiceIsRefused(t *testing.T) {
	path := filepath.Join(t.TempDir(), "c.db")
	s, err := Open(path, Options{})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := Open(path, Options{}); err == nil || !strings.Contains(err.Error(), "in use by another process") {
		t.Fatalf("second open: %v, want refused", err)
	}
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
	s, err = Open(path, Options{})
	if err != nil {
		t.Fatalf("open after close: %v", err)
	}
	s.Close()
}
