//go:build !(linux || darwin || freebsd)

package ingest

import "errors"

// diskSpace is not implemented here: the guard logs once that it cannot
// read free space and never refuses; a full disk still answers 503 from
// the store.
func diskSpace(string) (free, total uint64, err error) {
	return 0, 0, errors.New("free space is not read on this platform")
}
