//go:build linux || darwin || freebsd

package ingest

import "syscall"

// diskSpace reads free space with statfs: the blocks available to an
// unprivileged process (not those reserved for root), so that a bridge
// running as root is not the one that eats the reserve.
func diskSpace(dir string) (free, total uint64, err error) {
	var st syscall.Statfs_t
	if err := syscall.Statfs(dir, &st); err != nil {
		return 0, 0, err
	}
	bsize := uint64(st.Bsize)
	return uint64(st.Bavail) * bsize, uint64(st.Blocks) * bsize, nil
}
