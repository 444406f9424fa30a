package bridge

import (
	"encoding/json"
	"strings"
	"testing"
	"time"
)

// The test vector of the content hash, for other implementations to check
// themselves against (docs: the Bucket protocol). The expected value was
// computed apart from this code, in Python:
//
//	f = lambda s: struct.pack('>Q', len(s.encode())) + s.encode()
//	hashlib.sha256(b''.join(map(f, [module, session_id, data, received_at, id]))).hexdigest()
func TestContentHashVector(t *testing.T) {
	const (
		module     = "education"
		sessionID  = "s-1"
		data       = `{"score":0.87,"student":"é"}`
		receivedAt = "2026-11-29T14:00:00.123456Z"
		id         = "0193a6f2-7c1e-7d3a-9f00-000000000001"
		want       = "bf066ca2170be3f6b9a7aff8f260f41431d314fbddfa434da6daa68241bf789f"
	)
	if got := ContentHash(module, sessionID, []byte(data), receivedAt, id); got != want {
		t.Errorf("ContentHash = %s, want %s", got, want)
	}
	r := Record{ID: id, Module: module, SessionID: sessionID, Data: json.RawMessage(data),
		ReceivedAt: time.Date(2026, 11, 29, 14, 0, 0, 123456000, time.UTC)}
	if got := r.ContentHash(); got != want {
		t.Errorf("Record.ContentHash = %s, want %s", got, want)
	}
	// All fields empty: five zero lengths.
	if got, want := ContentHash("", "", nil, "", ""), "2c34ce1df23b838c5abf2a7f6437cca3d3067ed509ff25f11df6b11b582b51eb"; got != want {
		t.Errorf("ContentHash of nothing = %s, want %s", got, want)
	}
}

// Every field counts, and the lengths keep a byte from moving between
// neighbouring fields unnoticed; data larger than the stack buffer hashes
// the same way.
func TestContentHashCoversEveryField(t *testing.T) {
	base := func() []string { return []string{"edu", "s1", `{"a":1}`, "2026-11-29T14:00:00.000000Z", "id-1"} }
	hash := func(f []string) string { return ContentHash(f[0], f[1], []byte(f[2]), f[3], f[4]) }
	seen := map[string]string{hash(base()): "base"}
	for i, name := range []string{"module", "session_id", "data", "received_at", "id"} {
		f := base()
		f[i] += "x"
		h := hash(f)
		if prev, ok := seen[h]; ok {
			t.Errorf("changing %s gives the hash of %s", name, prev)
		}
		seen[h] = name
	}
	if hash([]string{"ab", "c", "{}", "", ""}) == hash([]string{"a", "bc", "{}", "", ""}) {
		t.Error("a byte moved from module to session_id keeps the hash")
	}
	big := `{"note":"` + strings.Repeat("é", 1000) + `"}`
	h := hash([]string{"edu", "s1", big, "t", "id"})
	if len(h) != 64 || strings.ToLower(h) != h || h == hash([]string{"edu", "s1", big[:len(big)-3] + `"}`, "t", "id"}) {
		t.Errorf("hash of a large record: %q", h)
	}
}
