package bridge

import (
	"slices"
	"strings"
	"testing"
)

func TestStrictOrderSet(t *testing.T) {
	for _, c := range []struct {
		in      string
		all     bool
		modules []string
		err     string
	}{
		{"", false, nil, ""},
		{"off", false, nil, ""},
		{"all", true, nil, ""},
		{" ALL ", true, nil, ""},
		{"finance", false, []string{"finance"}, ""},
		{"robotics, finance,robotics", false, []string{"finance", "robotics"}, ""},
		{"finance,all", false, nil, "use all alone"},
		{"fin ance", false, nil, "not a module name"},
	} {
		t.Run(c.in, func(t *testing.T) {
			var s StrictOrder
			err := s.Set(c.in)
			if c.err != "" {
				if err == nil || !strings.Contains(err.Error(), c.err) {
					t.Fatalf("Set(%q) = %v, want an error with %q", c.in, err, c.err)
				}
				return
			}
			if err != nil || s.All != c.all || !slices.Equal(s.Modules, c.modules) {
				t.Fatalf("Set(%q) = %+v, %v; want all %v, modules %v", c.in, s, err, c.all, c.modules)
			}
			if s.On() != (c.all || len(c.modules) > 0) || (c.all && !s.Has("anything")) || (!c.all && s.Has("education")) {
				t.Errorf("Set(%q): On %v, Has wrong", c.in, s.On())
			}
		})
	}
}
