package auth

// ReloadHook is told of every reload attempt of the auth file: what
// triggered it (reload, SIGHUP, file changed), how many tokens are in use
// after it, and its error (nil when the new file was loaded; on error the
// tokens loaded before stay in use).
type ReloadHook func(trigger string, tokens int, err error)

// OnReload sets the hook called after each reload attempt (nil: none), for
// the audit log. It is called outside the reload's lock, once per
// reload, from the goroutine that reloaded.
func (t *Tokens) OnReload(h ReloadHook) {
	if h == nil {
		t.onReload.Store(nil)
		return
	}
	t.onReload.Store(&h)
}
