package main

import "testing"

func TestGCPercentFor(t *testing.T) {
	for _, c := range []struct {
		live uint64
		want int
	}{
		{0, 400},
		{4 << 20, 400},  // a few MB: the most room
		{10 << 20, 400}, // 40 MB of headroom at 400%
		{20 << 20, 200},
		{40 << 20, 100},
		{60 << 20, 66},
		{560 << 20, 50}, // a big heap: half of it
	} {
		if got := gcPercentFor(c.live); got != c.want {
			t.Errorf("gcPercentFor(%d MiB) = %d, want %d", c.live>>20, got, c.want)
		}
	}
}
