package ingest

import (
	"fmt"
	"math"
	"strconv"
	"strings"
)

// DefaultMinFreeDisk is the free space below which the disk guard refuses
// ingest: a size rather than a share, because what the bridge needs to
// keep working (the WAL, checkpoints, settles while delivery drains) does
// not grow with the disk, and 5% of the small disks on-site boxes run on
// would be too little.
var DefaultMinFreeDisk = MinFree{Bytes: 512 << 20}

// MinFree is the free space the disk guard keeps: Bytes, or Percent of
// the filesystem's size (one of them is set); zero turns the guard off.
type MinFree struct {
	Bytes   uint64
	Percent float64
}

// Off says the guard is off.
func (m MinFree) Off() bool { return m.Bytes == 0 && m.Percent == 0 }

// below says whether free bytes of a filesystem of total bytes is below m.
func (m MinFree) below(free, total uint64) bool {
	if m.Percent > 0 {
		return float64(free) < float64(total)*m.Percent/100
	}
	return free < m.Bytes
}

// String writes m the way it is set: 512MiB, 5%, 0.
func (m MinFree) String() string {
	if m.Percent > 0 {
		return strconv.FormatFloat(m.Percent, 'f', -1, 64) + "%"
	}
	n := m.Bytes
	for _, u := range sizeUnits[:4] {
		if n >= u.mult && n%u.mult == 0 {
			return strconv.FormatUint(n/u.mult, 10) + u.suffix
		}
	}
	return strconv.FormatUint(n, 10)
}

var sizeUnits = []struct {
	suffix string
	mult   uint64
}{{"TiB", 1 << 40}, {"GiB", 1 << 30}, {"MiB", 1 << 20}, {"KiB", 1 << 10},
	{"TB", 1e12}, {"GB", 1e9}, {"MB", 1e6}, {"KB", 1e3}, {"B", 1}}

// ParseMinFree reads a size (512MiB, 1GiB, 500MB, bytes) or a share of
// the filesystem (5%); 0 is off.
func ParseMinFree(s string) (MinFree, error) {
	s = strings.TrimSpace(s)
	if p, ok := strings.CutSuffix(s, "%"); ok {
		f, err := strconv.ParseFloat(strings.TrimSpace(p), 64)
		if err != nil || f < 0 || f >= 100 {
			return MinFree{}, fmt.Errorf("%q is not a percentage between 0 and 100", s)
		}
		return MinFree{Percent: f}, nil
	}
	num, mult := s, uint64(1)
	for _, u := range sizeUnits {
		if n, ok := strings.CutSuffix(s, u.suffix); ok {
			num, mult = strings.TrimSpace(n), u.mult
			break
		}
	}
	n, err := strconv.ParseUint(num, 10, 64)
	if err != nil || (mult > 1 && n > ^uint64(0)/mult) {
		return MinFree{}, fmt.Errorf("%q is not a size (e.g. 512MiB, 1GiB) or a percentage (e.g. 5%%)", s)
	}
	return MinFree{Bytes: n * mult}, nil
}

// formatBytes writes n for people: 300 MiB, 1.5 GiB.
func formatBytes(n uint64) string {
	for _, u := range sizeUnits[:4] {
		if n >= u.mult {
			return strconv.FormatFloat(math.Round(float64(n)/float64(u.mult)*10)/10, 'f', -1, 64) + " " + u.suffix
		}
	}
	return strconv.FormatUint(n, 10) + " B"
}
