package bridge

import (
	"fmt"
	"slices"
	"strings"
)

// StrictOrder names the modules whose dead records block them: Lease
// leases no record of such a module that comes after one of its dead
// records, until that record is replayed (it then goes first, in its
// place) or purged. Other modules let later records pass a dead one. The
// zero value is off. It is a flag.Value: "all", or module names
// separated by commas (finance,robotics); "" or "off" turns it off.
type StrictOrder struct {
	All     bool
	Modules []string // sorted, without duplicates; ignored when All
}

// Has reports whether module keeps strict order.
func (s StrictOrder) Has(module string) bool {
	return s.All || slices.Contains(s.Modules, module)
}

// On reports whether any module keeps strict order.
func (s StrictOrder) On() bool { return s.All || len(s.Modules) > 0 }

// String is the flag's value: "all", the modules comma-separated, or "".
func (s *StrictOrder) String() string {
	if s == nil {
		return ""
	}
	if s.All {
		return "all"
	}
	return strings.Join(s.Modules, ",")
}

// Set parses v (see StrictOrder).
func (s *StrictOrder) Set(v string) error {
	v = strings.TrimSpace(v)
	out := StrictOrder{}
	switch strings.ToLower(v) {
	case "", "off", "none":
	case "all":
		out.All = true
	default:
		for _, m := range strings.Split(v, ",") {
			m = strings.TrimSpace(m)
			if m == "" {
				continue
			}
			if strings.EqualFold(m, "all") {
				return fmt.Errorf("%q: use all alone, or a list of modules", v)
			}
			if !ValidModule(m) {
				return fmt.Errorf("%q is not a module name (want all, or modules like finance,robotics)", m)
			}
			out.Modules = append(out.Modules, m)
		}
		slices.Sort(out.Modules)
		out.Modules = slices.Compact(out.Modules)
	}
	*s = out
	return nil
}
