//go:build linux

package drill

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"syscall"
)

// mountSmallDisk mounts a tmpfs of size bytes at dir, for the full-disk
// fault. It says why not when it cannot (not root, no mount permission).
func mountSmallDisk(dir string, size int64) error {
	if os.Geteuid() != 0 {
		return errors.New("mounting a small tmpfs for the data directory needs root")
	}
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return err
	}
	if err := syscall.Mount("tmpfs", dir, "tmpfs", 0, fmt.Sprintf("size=%d", size)); err != nil {
		return fmt.Errorf("cannot mount a tmpfs here: %w", err)
	}
	return nil
}

// unmountSmallDisk unmounts it (lazily if it is busy).
func unmountSmallDisk(dir string) error {
	if err := syscall.Unmount(dir, 0); err != nil {
		if err2 := syscall.Unmount(dir, syscall.MNT_DETACH); err2 != nil {
			return fmt.Errorf("umount %s: %v (lazy: %v)", dir, err, err2)
		}
	}
	return nil
}

// freeBytes is the free space of dir's filesystem.
func freeBytes(dir string) (int64, error) {
	var st syscall.Statfs_t
	if err := syscall.Statfs(dir, &st); err != nil {
		return 0, err
	}
	return int64(st.Bavail) * int64(st.Bsize), nil
}

// fillDisk writes a ballast file in dir until about leave bytes are free,
// and returns its path.
func fillDisk(dir string, leave int64) (string, error) {
	free, err := freeBytes(dir)
	if err != nil {
		return "", err
	}
	path := filepath.Join(dir, "drill-ballast")
	f, err := os.Create(path)
	if err != nil {
		return "", err
	}
	defer f.Close()
	chunk := make([]byte, 1<<20)
	for left := free - leave; left > 0; {
		n := min(left, int64(len(chunk)))
		if _, err := f.Write(chunk[:n]); errors.Is(err, syscall.ENOSPC) {
			break // the bridge wrote meanwhile: full a little sooner
		} else if err != nil {
			return path, fmt.Errorf("write ballast: %w", err)
		}
		left -= n
	}
	return path, nil
}
