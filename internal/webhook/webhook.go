// Package webhook signs and verifies requests by the Standard Webhooks
// scheme (https://www.standardwebhooks.com): three headers, webhook-id,
// webhook-timestamp (unix seconds) and webhook-signature, where the signed
// content is id + "." + timestamp + "." + body.
//
// A signature is "v1,<base64 of HMAC-SHA256>" with a shared secret
// ("whsec_<base64>", the key is the decoded part) or "v1a,<base64 of an
// Ed25519 signature>" checked with a public key ("whpk_<base64>"). The
// header may hold several signatures separated by spaces, so that a sender
// can sign with an old and a new secret while the receiver is switched
// over: a request is valid if any of its signatures matches any key.
//
// The package holds no HTTP server code; internal/api and the Bucket's
// reference server verify with it, and the clients sign with it.
package webhook

import (
	"crypto/ed25519"
	"crypto/hmac"
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"errors"
	"fmt"
	"net/http"
	"strconv"
	"strings"
	"time"
)

// The headers of the scheme, in their canonical form.
const (
	HeaderID        = "Webhook-Id"
	HeaderTimestamp = "Webhook-Timestamp"
	HeaderSignature = "Webhook-Signature"
)

// DefaultTolerance is how far a timestamp may be from now, either way.
const DefaultTolerance = 5 * time.Minute

// Limits of what Verify reads. MaxIDLen leaves room under the 255 bytes
// of an idempotency key for a "/<index>" suffix per item of a batch.
const (
	MaxIDLen         = 200
	MaxSignatures    = 10
	MaxSignatureHdr  = 4096
	minSecretLen     = 24 // bytes of key; the scheme asks for 24 to 64
	maxSecretLen     = 64
	secretPrefix     = "whsec_"
	publicKeyPrefix  = "whpk_"
	privateKeyPrefix = "whsk_"
)

// Errors of Verify; each wrapped error names the problem, never a key.
var (
	ErrMissing     = errors.New("webhook-id, webhook-timestamp and webhook-signature are required")
	ErrBadID       = fmt.Errorf("webhook-id: want 1-%d visible ASCII characters", MaxIDLen)
	ErrBadTime     = errors.New("webhook-timestamp: want unix seconds")
	ErrTooOld      = errors.New("webhook-timestamp is too old")
	ErrTooNew      = errors.New("webhook-timestamp is too far in the future")
	ErrMalformed   = errors.New("webhook-signature is malformed")
	ErrNoSignature = errors.New("no signature matches a key of this token")
	ErrNoKeys      = errors.New("no keys to verify with")
)

// Secret is a shared HMAC secret. Its String never shows the key.
type Secret struct{ key []byte }

// ParseSecret reads "whsec_<base64>".
func ParseSecret(s string) (Secret, error) {
	b64, ok := strings.CutPrefix(s, secretPrefix)
	if !ok {
		return Secret{}, errors.New("signing secret: want whsec_<base64>")
	}
	key, err := base64.StdEncoding.DecodeString(b64)
	if err != nil {
		return Secret{}, errors.New("signing secret: the part after whsec_ is not standard base64")
	}
	if len(key) < minSecretLen || len(key) > maxSecretLen {
		return Secret{}, fmt.Errorf("signing secret: %d bytes of key; want %d to %d", len(key), minSecretLen, maxSecretLen)
	}
	return Secret{key: key}, nil
}

// NewSecret returns a fresh secret of 32 random bytes, as whsec_<base64>.
func NewSecret() string {
	return secretPrefix + base64.StdEncoding.EncodeToString(randomBytes(32))
}

// String hides the key: a Secret may end up in a log by mistake.
func (s Secret) String() string { return secretPrefix + "[redacted]" }

// GoString hides the key from %#v too.
func (s Secret) GoString() string { return s.String() }

// PublicKey verifies v1a (Ed25519) signatures.
type PublicKey struct{ key ed25519.PublicKey }

// ParsePublicKey reads "whpk_<base64 of the 32-byte Ed25519 public key>".
func ParsePublicKey(s string) (PublicKey, error) {
	b64, ok := strings.CutPrefix(s, publicKeyPrefix)
	if !ok {
		return PublicKey{}, errors.New("signing key: want whpk_<base64>")
	}
	key, err := base64.StdEncoding.DecodeString(b64)
	if err != nil || len(key) != ed25519.PublicKeySize {
		return PublicKey{}, fmt.Errorf("signing key: want whpk_ and the standard base64 of %d bytes", ed25519.PublicKeySize)
	}
	return PublicKey{key: ed25519.PublicKey(key)}, nil
}

// PrivateKey signs v1a signatures. Its String never shows the key.
type PrivateKey struct{ key ed25519.PrivateKey }

// ParsePrivateKey reads "whsk_<base64 of the 64-byte Ed25519 private key>".
func ParsePrivateKey(s string) (PrivateKey, error) {
	b64, ok := strings.CutPrefix(s, privateKeyPrefix)
	if !ok {
		return PrivateKey{}, errors.New("signing private key: want whsk_<base64>")
	}
	key, err := base64.StdEncoding.DecodeString(b64)
	if err != nil || len(key) != ed25519.PrivateKeySize {
		return PrivateKey{}, fmt.Errorf("signing private key: want whsk_ and the standard base64 of %d bytes", ed25519.PrivateKeySize)
	}
	return PrivateKey{key: ed25519.PrivateKey(key)}, nil
}

// NewKeyPair returns a fresh Ed25519 pair as whpk_… (for the receiver's
// file) and whsk_… (for the sender only).
func NewKeyPair() (public, private string) {
	pub, priv, err := ed25519.GenerateKey(rand.Reader)
	if err != nil {
		panic(err) // crypto/rand does not fail on supported platforms
	}
	return publicKeyPrefix + base64.StdEncoding.EncodeToString(pub),
		privateKeyPrefix + base64.StdEncoding.EncodeToString(priv)
}

// Public is the key that verifies k's signatures.
func (k PrivateKey) Public() PublicKey { return PublicKey{key: k.key.Public().(ed25519.PublicKey)} }

// String hides the key.
func (k PrivateKey) String() string { return privateKeyPrefix + "[redacted]" }

// GoString hides the key from %#v too.
func (k PrivateKey) GoString() string { return k.String() }

// Keys are what a receiver verifies with: a request is valid if one of its
// signatures matches one of them.
type Keys struct {
	Secrets []Secret
	Public  []PublicKey
}

// Empty says there is nothing to verify with.
func (k Keys) Empty() bool { return len(k.Secrets) == 0 && len(k.Public) == 0 }

// NewID returns a fresh message id, "msg_" and 24 random base64url
// characters.
func NewID() string {
	return "msg_" + base64.RawURLEncoding.EncodeToString(randomBytes(18))
}

func randomBytes(n int) []byte {
	b := make([]byte, n)
	if _, err := rand.Read(b); err != nil {
		panic(err) // crypto/rand does not fail on supported platforms
	}
	return b
}

func content(id string, ts int64, body []byte) []byte {
	t := strconv.FormatInt(ts, 10)
	c := make([]byte, 0, len(id)+len(t)+len(body)+2)
	c = append(c, id...)
	c = append(c, '.')
	c = append(c, t...)
	c = append(c, '.')
	return append(c, body...)
}

func mac(key, c []byte) []byte {
	m := hmac.New(sha256.New, key)
	m.Write(c)
	return m.Sum(nil)
}

// Sign returns the webhook-signature value for body sent as id at ts: one
// v1 signature per secret, separated by spaces.
func Sign(id string, ts time.Time, body []byte, secrets ...Secret) string {
	c := content(id, ts.Unix(), body)
	sigs := make([]string, 0, len(secrets))
	for _, s := range secrets {
		sigs = append(sigs, "v1,"+base64.StdEncoding.EncodeToString(mac(s.key, c)))
	}
	return strings.Join(sigs, " ")
}

// SignEd25519 is Sign with v1a signatures, one per private key.
func SignEd25519(id string, ts time.Time, body []byte, keys ...PrivateKey) string {
	c := content(id, ts.Unix(), body)
	sigs := make([]string, 0, len(keys))
	for _, k := range keys {
		sigs = append(sigs, "v1a,"+base64.StdEncoding.EncodeToString(ed25519.Sign(k.key, c)))
	}
	return strings.Join(sigs, " ")
}

// SetHeaders signs body with a fresh id and the time now, and sets the
// three headers on h. With no secrets it does nothing.
func SetHeaders(h http.Header, body []byte, now time.Time, secrets ...Secret) {
	if len(secrets) == 0 {
		return
	}
	SetHeadersID(h, NewID(), body, now, secrets...)
}

// SetHeadersID is SetHeaders with a given id (a retry of one message keeps
// its id, which the receiver uses to store it once).
func SetHeadersID(h http.Header, id string, body []byte, now time.Time, secrets ...Secret) {
	h.Set(HeaderID, id)
	h.Set(HeaderTimestamp, strconv.FormatInt(now.Unix(), 10))
	h.Set(HeaderSignature, Sign(id, now, body, secrets...))
}

// Signature is one entry of a webhook-signature header.
type Signature struct {
	Version string // "v1" or "v1a"
	Sig     []byte
}

// ParseSignatureHeader splits a webhook-signature value into its
// signatures. Entries of versions other than v1 and v1a are skipped, as
// the scheme asks; an entry that is not "<version>,<base64>", a v1 or v1a
// one whose signature is not base64 of the right length, more than
// MaxSignatures entries, a value longer than MaxSignatureHdr, or no entry
// of a known version, are ErrMalformed.
func ParseSignatureHeader(v string) ([]Signature, error) {
	if len(v) > MaxSignatureHdr {
		return nil, fmt.Errorf("%w: longer than %d bytes", ErrMalformed, MaxSignatureHdr)
	}
	fields := strings.Fields(v)
	if len(fields) > MaxSignatures {
		return nil, fmt.Errorf("%w: more than %d signatures", ErrMalformed, MaxSignatures)
	}
	var out []Signature
	for _, f := range fields {
		version, b64, ok := strings.Cut(f, ",")
		if !ok || version == "" {
			return nil, fmt.Errorf("%w: want <version>,<base64> entries separated by spaces", ErrMalformed)
		}
		var size int
		switch version {
		case "v1":
			size = sha256.Size
		case "v1a":
			size = ed25519.SignatureSize
		default:
			continue
		}
		// Strict: one signature has one spelling.
		sig, err := base64.StdEncoding.Strict().DecodeString(b64)
		if err != nil || len(sig) != size {
			return nil, fmt.Errorf("%w: a %s signature must be the standard base64 of %d bytes", ErrMalformed, version, size)
		}
		out = append(out, Signature{Version: version, Sig: sig})
	}
	if len(out) == 0 {
		return nil, fmt.Errorf("%w: no v1 or v1a signature", ErrMalformed)
	}
	return out, nil
}

// VerifyHeader is Verify with the three values read from h.
func VerifyHeader(h http.Header, body []byte, keys Keys, tolerance time.Duration, now time.Time) error {
	return Verify(h.Get(HeaderID), h.Get(HeaderTimestamp), h.Get(HeaderSignature), body, keys, tolerance, now)
}

// Present says whether h carries any of the three headers: a request that
// does must verify even where signing is optional.
func Present(h http.Header) bool {
	return h.Get(HeaderID) != "" || h.Get(HeaderTimestamp) != "" || h.Get(HeaderSignature) != ""
}

// Verify checks that sig holds a signature, by one of keys, of body sent
// as id at timestamp, and that timestamp is within tolerance of now
// (either way; tolerance <= 0 means DefaultTolerance). Signatures are
// compared in constant time. The error is, or wraps, one of ErrMissing,
// ErrBadID, ErrBadTime, ErrTooOld, ErrTooNew, ErrMalformed,
// ErrNoSignature and ErrNoKeys.
func Verify(id, timestamp, sig string, body []byte, keys Keys, tolerance time.Duration, now time.Time) error {
	if keys.Empty() {
		return ErrNoKeys
	}
	if id == "" || timestamp == "" || sig == "" {
		return ErrMissing
	}
	if !validID(id) {
		return ErrBadID
	}
	ts, err := parseTimestamp(timestamp)
	if err != nil {
		return err
	}
	if tolerance <= 0 {
		tolerance = DefaultTolerance
	}
	at := time.Unix(ts, 0)
	switch {
	case at.Before(now.Add(-tolerance)):
		return fmt.Errorf("%w: %s before the server's clock; the limit is %s", ErrTooOld, now.Sub(at).Truncate(time.Second), tolerance)
	case at.After(now.Add(tolerance)):
		return fmt.Errorf("%w: %s after the server's clock; the limit is %s", ErrTooNew, at.Sub(now).Truncate(time.Second), tolerance)
	}
	sigs, err := ParseSignatureHeader(sig)
	if err != nil {
		return err
	}
	c := content(id, ts, body)
	var want [][]byte
	if len(keys.Secrets) > 0 {
		want = make([][]byte, len(keys.Secrets))
		for i, s := range keys.Secrets {
			want[i] = mac(s.key, c)
		}
	}
	found := false
	for _, s := range sigs {
		switch s.Version {
		case "v1":
			for _, w := range want {
				// hmac.Equal is constant time; every pair is compared,
				// so the time says nothing about which one matched.
				if hmac.Equal(s.Sig, w) {
					found = true
				}
			}
		case "v1a":
			for _, k := range keys.Public {
				if ed25519.Verify(k.key, c, s.Sig) {
					found = true
				}
			}
		}
	}
	if !found {
		return ErrNoSignature
	}
	return nil
}

func validID(id string) bool {
	if len(id) == 0 || len(id) > MaxIDLen {
		return false
	}
	for i := 0; i < len(id); i++ {
		if id[i] < 0x21 || id[i] > 0x7e {
			return false
		}
	}
	return true
}

// parseTimestamp reads unix seconds: 1 to 12 decimal digits, no sign.
func parseTimestamp(s string) (int64, error) {
	if len(s) > 12 {
		return 0, ErrBadTime
	}
	for i := 0; i < len(s); i++ {
		if s[i] < '0' || s[i] > '9' {
			return 0, ErrBadTime
		}
	}
	ts, err := strconv.ParseInt(s, 10, 64)
	if err != nil {
		return 0, ErrBadTime
	}
	return ts, nil
}
