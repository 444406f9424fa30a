package corebridge

import (
	"bytes"
	"crypto/sha256"
	"encoding/binary"
	"encoding/hex"
	"os"
	"slices"
	"strconv"
	"strings"
	"testing"

	"corebridge/internal/bridge"
)

// protocolDoc is the Bucket protocol's document.
const protocolDoc = "docs/protocol.md"

// docBlock returns the lines of the fenced code block that follows the
// line starting with marker (an HTML comment) in doc.
func docBlock(t *testing.T, doc, marker string) []string {
	t.Helper()
	lines := strings.Split(doc, "\n")
	at := slices.IndexFunc(lines, func(l string) bool { return strings.HasPrefix(l, marker) })
	if at < 0 {
		t.Fatalf("%s has no line starting with %q", protocolDoc, marker)
	}
	if at+1 >= len(lines) || !strings.HasPrefix(lines[at+1], "```") {
		t.Fatalf("%s: %q is not followed by a fenced code block", protocolDoc, marker)
	}
	for i := at + 2; i < len(lines); i++ {
		if strings.HasPrefix(lines[i], "```") {
			return lines[at+2 : i]
		}
	}
	t.Fatalf("%s: the code block after %q is not closed", protocolDoc, marker)
	return nil
}

// hashFields is the order of the content hash's canonical form.
var hashFields = []string{"module", "session_id", "data", "received_at", "id"}

// TestProtocolDocHashVector: the content hash test vector of
// docs/protocol.md is what bridge.ContentHash computes, and the canonical
// form shown byte by byte beside it is the one that hashes to it.
func TestProtocolDocHashVector(t *testing.T) {
	b, err := os.ReadFile(protocolDoc)
	if err != nil {
		t.Fatal(err)
	}
	doc := string(b)

	// The vector: "name value" lines, the value being the rest of the line.
	v := map[string]string{}
	for _, line := range docBlock(t, doc, "<!-- hash-vector:") {
		name, value, _ := strings.Cut(line, " ")
		if _, dup := v[name]; dup {
			t.Fatalf("the test vector gives %s twice", name)
		}
		v[name] = strings.TrimLeft(value, " ")
	}
	for _, name := range append(slices.Clone(hashFields), "hash") {
		if _, ok := v[name]; !ok {
			t.Fatalf("the test vector has no %s line (it has %v)", name, v)
		}
	}
	if len(v) != len(hashFields)+1 {
		t.Errorf("the test vector has %d lines, want %d: %v", len(v), len(hashFields)+1, v)
	}
	want := v["hash"]
	if got := bridge.ContentHash(v["module"], v["session_id"], []byte(v["data"]), v["received_at"], v["id"]); got != want {
		t.Errorf("bridge.ContentHash of the documented vector = %s, the document says %s", got, want)
	}

	// The canonical form: "<length> <bytes> <field>" lines, in hex.
	lines := docBlock(t, doc, "<!-- hash-vector-bytes:")
	if len(lines) != len(hashFields) {
		t.Fatalf("the canonical form has %d lines, want one per field (%v)", len(lines), hashFields)
	}
	var form []byte
	for i, line := range lines {
		f := strings.Fields(line)
		if len(f) != 3 {
			t.Fatalf("canonical form line %d is not <length> <bytes> <field>: %q", i+1, line)
		}
		if f[2] != hashFields[i] {
			t.Errorf("canonical form line %d is %s, want %s", i+1, f[2], hashFields[i])
		}
		n, err1 := hex.DecodeString(f[0])
		val, err2 := hex.DecodeString(f[1])
		if err1 != nil || err2 != nil || len(n) != 8 {
			t.Fatalf("canonical form line %d: want 16 hex digits of length and the bytes in hex: %q", i+1, line)
		}
		if got := binary.BigEndian.Uint64(n); got != uint64(len(val)) {
			t.Errorf("%s: length %d, but %d bytes follow", f[2], got, len(val))
		}
		if string(val) != v[f[2]] {
			t.Errorf("%s: the canonical form holds %q, the vector %q", f[2], val, v[f[2]])
		}
		form = append(append(form, n...), val...)
	}
	// The form as docs/protocol.md defines it, built here apart from
	// bridge.ContentHash.
	var built []byte
	for _, name := range hashFields {
		built = binary.BigEndian.AppendUint64(built, uint64(len(v[name])))
		built = append(built, v[name]...)
	}
	if !bytes.Equal(form, built) {
		t.Errorf("the documented canonical form is not the vector's:\n doc   %x\n built %x", form, built)
	}
	if sum := sha256.Sum256(form); hex.EncodeToString(sum[:]) != want {
		t.Errorf("SHA-256 of the documented canonical form = %x, the document says %s", sum, want)
	}
	if s := "Its canonical form, " + strconv.Itoa(len(form)) + " bytes"; !strings.Contains(doc, s) {
		t.Errorf("%s does not say %q", protocolDoc, s)
	}
}
