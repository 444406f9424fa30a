//go:build unix

package auth

import (
	"os"
	"os/signal"
	"strings"
	"syscall"
	"testing"
	"time"
)

func TestRunReloadsOnSIGHUP(t *testing.T) {
	// An unhandled SIGHUP ends the process. This channel keeps one handler
	// registered for the rest of the test binary, so that neither a signal
	// sent before Run registers nor one still in flight when it stops can
	// kill it. It is never stopped on purpose.
	keep := make(chan os.Signal, 1)
	signal.Notify(keep, syscall.SIGHUP)

	path := writeAuthFile(t, "tokens:\n  - {name: a, role: admin, hash: "+HashSecret("cbt_a")+"}\n")
	tk, logs := startRun(t, path, time.Hour) // no poll: only the signal can reload
	replaceFile(t, path, "tokens:\n  - {name: b, role: admin, hash: "+HashSecret("cbt_b")+"}\n")
	// Run may not have called signal.Notify yet: send until it reloads.
	waitAuth(t, tk, "cbt_b", "b", func() {
		if err := syscall.Kill(os.Getpid(), syscall.SIGHUP); err != nil {
			t.Fatal(err)
		}
	})
	if !strings.Contains(logs.String(), "trigger=SIGHUP") {
		t.Fatalf("reload not logged as by SIGHUP:\n%s", logs)
	}
}
