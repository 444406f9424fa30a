package auth

import (
	"context"
	"os"
	"os/signal"
	"syscall"
	"time"
)

// Run reloads the file on SIGHUP and when it changes (another inode, size
// or modification time, looked at every 2 s), until ctx ends; then it
// returns nil. A reload that fails keeps the tokens loaded before and is
// logged, once per change of the file, not on every poll.
//
// Polling rather than inotify: it needs no dependency, sees a file replaced
// by rename (editors, Kubernetes secret volumes) as well as one written in
// place, and two seconds is quick enough for adding or revoking a token. A
// rewrite that keeps the size within the file system's timestamp
// granularity can go unseen; SIGHUP is the sure way.
func (t *Tokens) Run(ctx context.Context) error {
	if t.path == "" {
		<-ctx.Done()
		return nil
	}
	hup := make(chan os.Signal, 1)
	signal.Notify(hup, syscall.SIGHUP)
	defer signal.Stop(hup)
	every := t.poll
	if every <= 0 {
		every = 2 * time.Second
	}
	tick := time.NewTicker(every)
	defer tick.Stop()
	for {
		select {
		case <-ctx.Done():
			return nil
		case <-hup:
			_ = t.reload("SIGHUP") // logged by reload; the old tokens stay
		case <-tick.C:
			t.runOnce()
		}
	}
}

// runOnce reloads the file if it changed since it was last loaded (or last
// failed to load).
func (t *Tokens) runOnce() {
	if !t.changed() {
		return
	}
	_ = t.reload("file changed") // logged by reload; the old tokens stay
}

func (t *Tokens) changed() bool {
	fi, err := os.Stat(t.path)
	t.mu.Lock()
	defer t.mu.Unlock()
	if err != nil {
		return t.seen != nil // gone since: say so once
	}
	return t.seen == nil || !os.SameFile(t.seen, fi) ||
		fi.Size() != t.seen.Size() || !fi.ModTime().Equal(t.seen.ModTime())
}
