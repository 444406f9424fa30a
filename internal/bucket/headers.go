package bucket

import (
	"errors"
	"fmt"
	"net/http"
	"net/textproto"
	"os"
	"strings"
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
// size changes, checked at most once per CheckEvery (a WatchedFile); a
// file that cannot be read then, or reads empty, keeps its last good value
// (OnError says so). Credentials never logs or prints a value.
type Credentials struct {
	specs []HeaderSpec
	files []*WatchedFile[string] // one per spec; nil for a literal one
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
	c := &Credentials{specs: specs, files: make([]*WatchedFile[string], len(specs))}
	for i, s := range specs {
		if s.File == "" {
			continue
		}
		wo := WatchOptions{CheckEvery: o.CheckEvery, Now: o.Now}
		if o.OnError != nil {
			wo.OnError = func(err error) { o.OnError(s.Name, err) }
		}
		w, err := WatchFile(s.File, headerFileValue(s.Name), wo)
		if err != nil {
			return nil, fmt.Errorf("header %s: %w", s.Name, err)
		}
		c.files[i] = w
	}
	return c, nil
}

// headerFileValue parses a header's file: one line, trimmed, not empty.
func headerFileValue(name string) func([]byte) (string, error) {
	return func(b []byte) (string, error) {
		v := strings.TrimSpace(string(b))
		if v == "" {
			return "", fmt.Errorf("header %s: the file is empty", name)
		}
		if !validHeaderValue(v) {
			return "", fmt.Errorf("header %s: the file holds characters a header cannot carry (one line expected)", name)
		}
		return v, nil
	}
}

// Names returns the names of the headers sent, never their values.
func (c *Credentials) Names() []string {
	names := make([]string, 0, len(c.specs))
	for _, s := range c.specs {
		names = append(names, s.Name)
	}
	return names
}

// Headers returns the headers to send now, re-reading a file first if it
// is time to check and it changed.
func (c *Credentials) Headers() http.Header {
	h := http.Header{}
	for i, s := range c.specs {
		v := s.Value
		if c.files[i] != nil {
			v += c.files[i].Get()
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
