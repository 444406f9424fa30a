package bucket

import (
	"fmt"
	"os"
	"sync"
	"time"
)

// WatchedFile is what parse makes of a file, re-read when the file's
// modification time or size changes, checked at most once per CheckEvery.
// A re-read that fails (the file is gone, unreadable, or parse refuses it)
// keeps the last good value and tells OnError. It is safe for concurrent
// use. It serves a header's file (Credentials), signing secrets and the
// reference Bucket's tokens.
type WatchedFile[T any] struct {
	path       string
	parse      func([]byte) (T, error)
	checkEvery time.Duration
	now        func() time.Time
	onError    func(err error)

	mu      sync.Mutex
	checked time.Time
	mod     time.Time
	size    int64
	value   T
}

// WatchOptions tunes WatchFile; the zero value is fine.
type WatchOptions struct {
	CheckEvery time.Duration    // default 1 s
	Now        func() time.Time // default time.Now
	OnError    func(err error)  // a re-read failed; the last value stays
}

// WatchFile reads path once with parse; an error then is returned (the
// caller cannot work without the file). parse's errors must not show the
// file's content: they reach logs.
func WatchFile[T any](path string, parse func([]byte) (T, error), o WatchOptions) (*WatchedFile[T], error) {
	if o.CheckEvery <= 0 {
		o.CheckEvery = time.Second
	}
	if o.Now == nil {
		o.Now = time.Now
	}
	w := &WatchedFile[T]{path: path, parse: parse, checkEvery: o.CheckEvery, now: o.Now, onError: o.OnError}
	if err := w.reload(true); err != nil {
		return nil, err
	}
	w.checked = w.now()
	return w, nil
}

// Path is the file watched.
func (w *WatchedFile[T]) Path() string { return w.path }

// Get returns the value now, re-reading the file first if it is time to
// check and it changed. The caller must not change the value.
func (w *WatchedFile[T]) Get() T {
	w.mu.Lock()
	defer w.mu.Unlock()
	if now := w.now(); now.Sub(w.checked) >= w.checkEvery {
		w.checked = now
		if err := w.reload(false); err != nil && w.onError != nil {
			w.onError(err)
		}
	}
	return w.value
}

// reload re-reads the file if it changed (or if force).
func (w *WatchedFile[T]) reload(force bool) error {
	fi, err := os.Stat(w.path)
	if err != nil {
		return err
	}
	if !force && fi.ModTime().Equal(w.mod) && fi.Size() == w.size {
		return nil
	}
	b, err := os.ReadFile(w.path)
	if err != nil {
		return err
	}
	v, err := w.parse(b)
	if err != nil {
		return fmt.Errorf("%s: %w", w.path, err)
	}
	w.mod, w.size, w.value = fi.ModTime(), fi.Size(), v
	return nil
}
