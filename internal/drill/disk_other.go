//go:build !linux

package drill

import "errors"

var errNoTmpfs = errors.New("the full-disk fault mounts a tmpfs: Linux only")

func mountSmallDisk(string, int64) error     { return errNoTmpfs }
func unmountSmallDisk(string) error          { return nil }
func fillDisk(string, int64) (string, error) { return "", errNoTmpfs }
