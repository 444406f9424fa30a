package main

import (
	"fmt"
	"io"
	"log/slog"
	"os"
	"sort"
	"strconv"
	"strings"
	"time"

	"corebridge/internal/bridge"
)

// byteSize is a flag value in bytes that also reads 512KiB, 1MiB, 8MB.
type byteSize int64

// String writes the size the way people set it (1MiB rather than 1048576),
// which is also how --help shows the default.
func (b *byteSize) String() string {
	n := int64(*b)
	for _, u := range []struct {
		suffix string
		mult   int64
	}{{"GiB", 1 << 30}, {"MiB", 1 << 20}, {"KiB", 1 << 10}} {
		if n >= u.mult && n%u.mult == 0 {
			return strconv.FormatInt(n/u.mult, 10) + u.suffix
		}
	}
	return strconv.FormatInt(n, 10)
}

func (b *byteSize) Set(s string) error {
	s = strings.TrimSpace(s)
	mult := int64(1)
	for _, u := range []struct {
		suffix string
		mult   int64
	}{{"KiB", 1 << 10}, {"MiB", 1 << 20}, {"GiB", 1 << 30}, {"KB", 1000}, {"MB", 1000_000}, {"GB", 1000_000_000}, {"B", 1}} {
		if strings.HasSuffix(s, u.suffix) {
			s, mult = strings.TrimSpace(strings.TrimSuffix(s, u.suffix)), u.mult
			break
		}
	}
	n, err := strconv.ParseInt(s, 10, 64)
	if err != nil || n < 0 {
		return fmt.Errorf("not a size: %q (use bytes, or KiB/MiB/GiB)", s)
	}
	*b = byteSize(n * mult)
	return nil
}

// newLogger returns the program's logger: text on a terminal, JSON
// otherwise, unless format forces one.
func newLogger(w io.Writer, format, level string) (*slog.Logger, error) {
	var lv slog.Level
	if err := lv.UnmarshalText([]byte(level)); err != nil {
		return nil, usageError{fmt.Sprintf("--log-level: %v", err)}
	}
	opts := &slog.HandlerOptions{Level: lv}
	switch format {
	case "auto":
		if isTerminal(w) {
			return slog.New(slog.NewTextHandler(w, opts)), nil
		}
		return slog.New(slog.NewJSONHandler(w, opts)), nil
	case "text":
		return slog.New(slog.NewTextHandler(w, opts)), nil
	case "json":
		return slog.New(slog.NewJSONHandler(w, opts)), nil
	}
	return nil, usageError{fmt.Sprintf("--log-format must be auto, text or json, not %q", format)}
}

func isTerminal(w io.Writer) bool {
	f, ok := w.(*os.File)
	if !ok {
		return false
	}
	st, err := f.Stat()
	return err == nil && st.Mode()&os.ModeCharDevice != 0
}

// gapList is a flag of module=duration pairs, comma-separated:
// finance=10m,robotics=1h.
type gapList map[string]time.Duration

func (g *gapList) String() string {
	if g == nil || len(*g) == 0 {
		return ""
	}
	parts := make([]string, 0, len(*g))
	for m, d := range *g {
		parts = append(parts, m+"="+d.String())
	}
	sort.Strings(parts)
	return strings.Join(parts, ",")
}

func (g *gapList) Set(s string) error {
	out := gapList{}
	for _, part := range strings.Split(s, ",") {
		part = strings.TrimSpace(part)
		if part == "" {
			continue
		}
		m, d, ok := strings.Cut(part, "=")
		if !ok || !bridge.ValidModule(m) {
			return fmt.Errorf("%q: want module=duration, e.g. finance=10m", part)
		}
		dur, err := time.ParseDuration(d)
		if err != nil || dur <= 0 {
			return fmt.Errorf("%q: the gap must be a positive duration like 90s or 10m", part)
		}
		out[m] = dur
	}
	*g = out
	return nil
}

// listFlag is a comma-separated list of words, e.g. localhost,bridge.lan.
// Setting it replaces the default.
type listFlag []string

func (l *listFlag) String() string {
	if l == nil {
		return ""
	}
	return strings.Join(*l, ",")
}

func (l *listFlag) Set(s string) error {
	out := listFlag{}
	for _, part := range strings.Split(s, ",") {
		if part = strings.ToLower(strings.TrimSpace(part)); part != "" {
			out = append(out, part)
		}
	}
	*l = out
	return nil
}
