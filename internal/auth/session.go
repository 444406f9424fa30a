package auth

import (
	"crypto/hmac"
	"crypto/rand"
	"crypto/sha256"
	"crypto/subtle"
	"encoding/base64"
	"encoding/binary"
	"errors"
	"slices"
	"strings"
	"time"
)

// SessionCookie is the name of the dashboard's session cookie.
const SessionCookie = "corebridge_session"

// ErrBadSession is a session cookie that is malformed, forged, expired, or
// whose token has left the auth file.
var ErrBadSession = errors.New("session expired or revoked: sign in again")

// Sessions issues and checks the dashboard's sessions: a browser page
// cannot send a bearer token with a page load or an event stream, so it
// trades one for a cookie. The cookie holds when it expires and the
// digest of the token it was issued for, signed with a key this process
// made at start (so a restart signs everyone out). A cookie is honoured
// only while its token is still in the auth file: revoking the token
// revokes its sessions.
type Sessions struct {
	tokens *Tokens
	key    []byte
	ttl    time.Duration
	now    func() time.Time
}

// NewSessions returns sessions over tokens that last ttl.
func NewSessions(tokens *Tokens, ttl time.Duration) (*Sessions, error) {
	key := make([]byte, 32)
	if _, err := rand.Read(key); err != nil {
		return nil, err
	}
	return &Sessions{tokens: tokens, key: key, ttl: ttl, now: time.Now}, nil
}

// Login checks a token's secret and returns its principal, the cookie's
// value and when it expires.
func (s *Sessions) Login(secret string) (*Principal, string, time.Time, error) {
	p, err := s.tokens.Authenticate("Bearer " + secret)
	if err != nil {
		return nil, "", time.Time{}, err
	}
	expires := s.now().Add(s.ttl).Truncate(time.Second)
	payload := make([]byte, 8+sha256.Size)
	binary.BigEndian.PutUint64(payload, uint64(expires.Unix()))
	digest := sha256.Sum256([]byte(secret))
	copy(payload[8:], digest[:])
	enc := base64.RawURLEncoding
	return p, enc.EncodeToString(payload) + "." + enc.EncodeToString(s.sign(payload)), expires, nil
}

// Check returns the principal of a session cookie's value.
func (s *Sessions) Check(value string) (*Principal, error) {
	enc := base64.RawURLEncoding
	a, b, ok := strings.Cut(value, ".")
	if !ok || len(value) > 200 {
		return nil, ErrBadSession
	}
	payload, err1 := enc.DecodeString(a)
	mac, err2 := enc.DecodeString(b)
	if err1 != nil || err2 != nil || len(payload) != 8+sha256.Size || !hmac.Equal(mac, s.sign(payload)) {
		return nil, ErrBadSession
	}
	if !s.now().Before(time.Unix(int64(binary.BigEndian.Uint64(payload)), 0)) {
		return nil, ErrBadSession
	}
	set := s.tokens.current()
	found, at := 0, 0
	for i := range set.tokens {
		eq := subtle.ConstantTimeCompare(payload[8:], set.tokens[i].digest[:])
		at = subtle.ConstantTimeSelect(eq, i, at)
		found |= eq
	}
	if found == 0 {
		return nil, ErrBadSession // the token left the auth file
	}
	p := set.tokens[at].principal
	p.Modules = slices.Clone(p.Modules)
	return &p, nil
}

func (s *Sessions) sign(payload []byte) []byte {
	m := hmac.New(sha256.New, s.key)
	m.Write([]byte("corebridge session v1\x00"))
	m.Write(payload)
	return m.Sum(nil)
}
