package auth

import (
	"crypto/sha256"
	"crypto/subtle"
	"encoding/hex"
	"errors"
	"fmt"
	"io/fs"
	"log/slog"
	"os"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"time"
)

// Errors of Authenticate.
var (
	ErrNoCredentials  = errors.New("no credentials: send Authorization: Bearer <token>")
	ErrBadCredentials = errors.New("invalid token")
)

// Tokens is the loaded auth file: the set of tokens requests authenticate
// against. Reload swaps in a new set atomically, so requests in flight
// finish with the set they started with and none is dropped.
type Tokens struct {
	path string
	log  *slog.Logger
	set  atomic.Pointer[tokenSet]

	mu   sync.Mutex  // serialises reloads and guards seen
	seen fs.FileInfo // the file as last stat'ed by a (re)load; nil if missing

	poll time.Duration // how often Run looks at the file; tests shorten it

	onReload atomic.Pointer[ReloadHook] // see OnReload
}

// tokenSet is one loaded file, never changed once stored.
type tokenSet struct {
	tokens []token
}

type token struct {
	digest    [sha256.Size]byte
	principal Principal
}

// NewTokens returns Tokens holding entries, with no file behind them: for
// tests, and for code that gets its tokens from elsewhere. The entries are
// not validated (use ParseFile or Entry.Validate for that); one whose Hash
// is not sha256:<64 hex> never matches. Reload returns an error and Run
// only waits for its context.
func NewTokens(entries []Entry) *Tokens {
	t := &Tokens{log: slog.New(slog.DiscardHandler)}
	t.set.Store(newTokenSet(entries))
	return t
}

// Open reads and checks the auth file at path. A file that group or others
// may read is loaded but warned about: it holds no secrets, yet whoever can
// write it can add a token.
func Open(path string, log *slog.Logger) (*Tokens, error) {
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	t := &Tokens{path: path, log: log, poll: 2 * time.Second}
	t.mu.Lock()
	defer t.mu.Unlock()
	if err := t.load(); err != nil {
		return nil, err
	}
	log.Info("auth file loaded", "path", path, "tokens", t.Len())
	return t, nil
}

// Reload re-reads the file. On any error the current tokens stay in use and
// the error is returned (and logged as a warning).
func (t *Tokens) Reload() error {
	return t.reload("reload")
}

func (t *Tokens) reload(trigger string) error {
	err := t.reloadLocked(trigger)
	// After the lock is let go: the hook may be slow (a store write).
	if h := t.onReload.Load(); h != nil {
		(*h)(trigger, t.Len(), err)
	}
	return err
}

func (t *Tokens) reloadLocked(trigger string) error {
	t.mu.Lock()
	defer t.mu.Unlock()
	if err := t.load(); err != nil {
		t.log.Warn("auth file not reloaded; keeping the tokens loaded before",
			"path", t.path, "trigger", trigger, "tokens", t.Len(), "err", err)
		return err
	}
	t.log.Info("auth file reloaded", "path", t.path, "trigger", trigger, "tokens", t.Len())
	return nil
}

// load reads, parses and swaps in the file. The caller holds t.mu.
func (t *Tokens) load() error {
	if t.path == "" {
		return errors.New("auth: these tokens have no file to reload")
	}
	// Stat before reading, so that a change made between the two is seen
	// as a change by the next poll rather than missed.
	fi, err := os.Stat(t.path)
	if err != nil {
		t.seen = nil
		return fmt.Errorf("auth file: %w", err)
	}
	t.seen = fi
	if !fi.Mode().IsRegular() {
		return fmt.Errorf("auth file %s: not a regular file", t.path)
	}
	data, err := os.ReadFile(t.path)
	if err != nil {
		return fmt.Errorf("auth file: %w", err)
	}
	entries, err := ParseFile(data)
	if err != nil {
		return fmt.Errorf("%s: %w", t.path, err)
	}
	if perm := fi.Mode().Perm(); perm&0o077 != 0 {
		t.log.Warn("auth file is accessible to group or others; chmod 600 it",
			"path", t.path, "mode", fmt.Sprintf("%#o", perm))
	}
	t.set.Store(newTokenSet(entries))
	return nil
}

func newTokenSet(entries []Entry) *tokenSet {
	s := &tokenSet{tokens: make([]token, 0, len(entries))}
	for _, e := range entries {
		var tk token
		if h, ok := strings.CutPrefix(e.Hash, hashPrefix); ok {
			if n, err := hex.Decode(tk.digest[:], []byte(h)); err != nil || n != sha256.Size {
				continue
			}
		} else {
			continue
		}
		tk.principal = Principal{Name: e.Name, Role: e.Role, Modules: slices.Clone(e.Modules)}
		if e.hasSigning() {
			sg, err := e.signing()
			if err != nil {
				continue // keys that do not parse: the token must not work unsigned
			}
			tk.principal.signing = sg
		}
		s.tokens = append(s.tokens, tk)
	}
	return s
}

// Len is how many tokens are loaded.
func (t *Tokens) Len() int {
	return len(t.current().tokens)
}

// current is the loaded set; an empty one for a zero Tokens.
func (t *Tokens) current() *tokenSet {
	if s := t.set.Load(); s != nil {
		return s
	}
	return &tokenSet{}
}

// Authenticate returns the principal of an Authorization header value
// ("Bearer <token>"): ErrNoCredentials if it is empty, ErrBadCredentials if
// it is malformed or no token matches. The principal is a copy the caller
// may keep.
//
// The presented secret is hashed once and its digest compared with every
// token's in constant time, without stopping at a match, so the time taken
// says nothing about which token matched or how close a guess came.
func (t *Tokens) Authenticate(authorization string) (*Principal, error) {
	secret, err := bearerToken(authorization)
	if err != nil {
		return nil, err
	}
	digest := sha256.Sum256([]byte(secret))
	set := t.current()
	found, at := 0, 0
	for i := range set.tokens {
		eq := subtle.ConstantTimeCompare(digest[:], set.tokens[i].digest[:])
		at = subtle.ConstantTimeSelect(eq, i, at)
		found |= eq
	}
	if found == 0 {
		return nil, ErrBadCredentials
	}
	p := set.tokens[at].principal
	p.Modules = slices.Clone(p.Modules)
	return &p, nil
}
