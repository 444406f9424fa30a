package main

import (
	"context"
	"fmt"
	"runtime"
	"runtime/debug"
)

// version, commit and date are set at build time (scripts/release.sh) with
// -ldflags "-X main.version=… -X main.commit=… -X main.date=…"; otherwise
// they are read from the module's build information.
var (
	version = ""
	commit  = ""
	date    = ""
)

func buildVersion() string {
	if version != "" {
		return version
	}
	if bi, ok := debug.ReadBuildInfo(); ok {
		rev, dirty := "", false
		for _, s := range bi.Settings {
			switch s.Key {
			case "vcs.revision":
				rev = s.Value
			case "vcs.modified":
				dirty = s.Value == "true"
			}
		}
		if rev != "" {
			if len(rev) > 12 {
				rev = rev[:12]
			}
			if dirty {
				rev += "-dirty"
			}
			return "dev-" + rev
		}
		if bi.Main.Version != "" && bi.Main.Version != "(devel)" {
			return bi.Main.Version
		}
	}
	return "dev"
}

// buildCommit and buildDate are the commit and the build (or, without
// -ldflags, the commit's) time; "unknown" when neither says.
func buildCommit() string { return stamp(commit, "vcs.revision") }
func buildDate() string   { return stamp(date, "vcs.time") }

func stamp(set, setting string) string {
	if set != "" {
		return set
	}
	if bi, ok := debug.ReadBuildInfo(); ok {
		for _, s := range bi.Settings {
			if s.Key == setting && s.Value != "" {
				return s.Value
			}
		}
	}
	return "unknown"
}

func runVersion(ctx context.Context, args []string, e env) error {
	fs := newFlagSet("version", "Print the version of corebridge, the commit and date it was built from, its Go version and platform.", e)
	if err := parseFlags(fs, args, e); err != nil {
		return err
	}
	// The first line is the one scripts read: corebridge VERSION GO OS/ARCH.
	fmt.Fprintf(e.stdout, "corebridge %s %s %s/%s\n", buildVersion(), runtime.Version(), runtime.GOOS, runtime.GOARCH)
	fmt.Fprintf(e.stdout, "commit: %s\nbuilt:  %s\n", buildCommit(), buildDate())
	return nil
}
