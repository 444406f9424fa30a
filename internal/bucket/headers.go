package bucket

import (
	"errors"
	"fmt"
	"net/http"
	"net/textproto"
	"os"
	"strings"
	"sync"
	"time"
)

// HeaderSpec is one header the bridge sends to the Bucket with every
// request: a literal value, a value read from a file (re-read when the file
// changes), or one taken from the environment once.
type HeaderSpec struct {
	Name  string
	Value string // literal
	File  string // if not "": the value is this file's content, trimmed
}

// ParseHeaderSpec reads `Name: value`, where value may be `@/path/file`
// (read from the file, re-read when it changes) or `$ENV_NAME` (read from
// getenv once). Errors never include the value.
func ParseHeaderSpec(s string, getenv func(string) string) (HeaderSpec, error) {
	name, value, ok := strings.Cut(s, ":")
	name = strings.TrimSpace(name)
	if !ok || name == "" {
		return HeaderSpec{}, errors.New(`a header is "Name: value" (value, @file or $ENV)`)
	}
	if !validHeaderName(name) {
		return HeaderSpec{}, fmt.Errorf("%q is not a valid header name", name)
	}
	h := HeaderSpec{Name: textproto.CanonicalMIMEHeaderKey(name)}
	value = strings.TrimSpace(value)
	switch {
	case strings.HasPrefix(value, "@"):
		h.File = value[1:]
		if h.File == "" {
			return HeaderSpec{}, fmt.Errorf("header %s: @ needs a file path", h.Name)
		}
	case strings.HasPrefix(value, "$"):
		env := value[1:]
		if getenv == nil {
			getenv = os.Getenv
		}
		h.Value = getenv(env)
		if h.Value == "" {
			return HeaderSpec{}, fmt.Errorf("header %s: environment variable %s is empty or not set", h.Name, env)
		}
	default:
		h.Value = value
	}
	if h.File == "" && !validHeaderValue(h.Value) {
		return HeaderSpec{}, fmt.Errorf("header %s: the value has characters a header cannot carry", h.Name)
	}
	return h, nil
}

// BearerFile is the header spec of a token file: Authorization: Bearer
// <the file's content>.
func BearerFile(path string) HeaderSpec {
	return HeaderSpec{Name: "Authorization", Value: "Bearer ", File: path}
}

// Credentials produces the headers of a set of HeaderSpecs for
// WithHeaders. A file's value is re-read when its modification time or
// size changes, checked at most once per CheckEvery; a file that cannot be
// read then, or reads empty, keeps its last good value (OnError says so).
// Credentials never logs or prints a value.
type Credentials struct {
	specs      []HeaderSpec
	checkEvery time.Duration
	now        func() time.Time
	onError    func(name string, err error)

	mu      sync.Mutex
	files   []fileState // one per spec (unused for literal specs)
	checked time.Time
	current http.Header
}

type fileState struct {
	mod   time.Time
	size  int64
	value string
}

// CredentialsOptions tunes NewCredentials; the zero value is fine.
type CredentialsOptions struct {
	CheckEvery time.Duration                // default 1 s
	Now        func() time.Time             // default time.Now
	OnError    func(name string, err error) // a file could not be re-read; the last value stays
}

// NewCredentials reads every file once; an unreadable or empty file is an
// error, since the bridge could not authenticate at all.
func NewCredentials(specs []HeaderSpec, o CredentialsOptions) (*Credentials, error) {
	if o.CheckEvery <= 0 {
		o.CheckEvery = time.Second
	}
	if o.Now == nil {
		o.Now = time.Now
	}
	c := &Credentials{specs: specs, checkEvery: o.CheckEvery, now: o.Now, onError: o.OnError,
		files: make([]fileState, len(specs))}
	for i, s := range specs {
		if s.File == "" {
			continue
		}
		if err := c.reload(i, true); err != nil {
			return nil, err
		}
	}
	c.checked = c.now()
	c.current = c.build()
	return c, nil
}

// Names returns the names of the headers sent, never their values.
func (c *Credentials) Names() []string {
	names := make([]string, 0, len(c.specs))
	for _, s := range c.specs {
		names = append(names, s.Name)
	}
	return names
}

// Headers returns the headers to send now. The caller must not change them.
func (c *Credentials) Headers() http.Header {
	c.mu.Lock()
	defer c.mu.Unlock()
	if now := c.now(); now.Sub(c.checked) >= c.checkEvery {
		c.checked = now
		changed := false
		for i, s := range c.specs {
			if s.File == "" {
				continue
			}
			if err := c.reload(i, false); err != nil {
				if c.onError != nil {
					c.onError(s.Name, err)
				}
				continue
			}
			changed = true
		}
		if changed {
			c.current = c.build()
		}
	}
	return c.current
}

// reload re-reads spec i's file if it changed (or if force).
func (c *Credentials) reload(i int, force bool) error {
	s := c.specs[i]
	fi, err := os.Stat(s.File)
	if err != nil {
		return fmt.Errorf("header %s: %w", s.Name, err)
	}
	st := &c.files[i]
	if !force && fi.ModTime().Equal(st.mod) && fi.Size() == st.size {
		return nil
	}
	b, err := os.ReadFile(s.File)
	if err != nil {
		return fmt.Errorf("header %s: %w", s.Name, err)
	}
	v := strings.TrimSpace(string(b))
	if v == "" {
		return fmt.Errorf("header %s: %s is empty", s.Name, s.File)
	}
	if !validHeaderValue(v) {
		return fmt.Errorf("header %s: %s holds characters a header cannot carry (one line expected)", s.Name, s.File)
	}
	st.mod, st.size, st.value = fi.ModTime(), fi.Size(), v
	return nil
}

func (c *Credentials) build() http.Header {
	h := http.Header{}
	for i, s := range c.specs {
		v := s.Value
		if s.File != "" {
			v += c.files[i].value
		}
		h.Add(s.Name, v)
	}
	return h
}

// validHeaderName reports whether s is an HTTP token (RFC 9110 5.1).
func validHeaderName(s string) bool {
	if s == "" {
		return false
	}
	for _, r := range s {
		if r > 0x7e || r <= ' ' || strings.ContainsRune(`"(),/:;<=>?@[\]{}`, r) {
			return false
		}
	}
	return true
}

// validHeaderValue reports whether s may be sent as a header value: no
// control characters but tab.
func validHeaderValue(s string) bool {
	for _, r := range s {
		if r < ' ' && r != '\t' || r == 0x7f {
			return false
		}
	}
	return true
}
