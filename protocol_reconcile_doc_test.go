package corebridge

import (
	"crypto/sha256"
	"encoding/binary"
	"encoding/hex"
	"os"
	"strings"
	"testing"

	"corebridge/internal/bucket"
)

// TestProtocolDocReconcileVector: the fingerprint test vector of
// docs/protocol.md ("Reconciliation") is what bucket.RecordDigest and
// Fingerprint compute, and what the documented definition gives when
// built here apart from them.
func TestProtocolDocReconcileVector(t *testing.T) {
	b, err := os.ReadFile(protocolDoc)
	if err != nil {
		t.Fatal(err)
	}
	doc := string(b)
	var fp, built bucket.Fingerprint
	var id, hash string
	records, sawFP := 0, false
	for _, line := range docBlock(t, doc, "<!-- reconcile-vector:") {
		name, value, _ := strings.Cut(line, " ")
		value = strings.TrimLeft(value, " ")
		switch name {
		case "id":
			id = value
		case "hash":
			hash = value
		case "digest":
			records++
			var h [sha256.Size]byte
			if hash != "(none)" {
				raw, err := hex.DecodeString(hash)
				if err != nil || len(raw) != sha256.Size {
					t.Fatalf("record %d: hash %q is not 64 hex digits", records, hash)
				}
				copy(h[:], raw)
			}
			got := bucket.RecordDigest(id, h)
			if hex.EncodeToString(got[:]) != value {
				t.Errorf("record %d: bucket.RecordDigest = %x, the document says %s", records, got, value)
			}
			// The definition: SHA-256 of the id's 8-byte big-endian
			// length, its bytes, and the hash's 32 bytes.
			form := binary.BigEndian.AppendUint64(nil, uint64(len(id)))
			form = append(append(form, id...), h[:]...)
			want := sha256.Sum256(form)
			if hex.EncodeToString(want[:]) != value {
				t.Errorf("record %d: SHA-256 of the documented form = %x, the document says %s", records, want, value)
			}
			fp.Add(got)
			for i := range built {
				built[i] ^= want[i]
			}
			id, hash = "", ""
		case "fingerprint":
			sawFP = true
			if fp.String() != value || hex.EncodeToString(built[:]) != value {
				t.Errorf("fingerprint: computed %s (XOR built here %x), the document says %s", fp, built, value)
			}
		default:
			t.Fatalf("the reconcile vector has an unknown line %q", line)
		}
	}
	if records < 2 || !sawFP {
		t.Fatalf("the reconcile vector has %d records and fingerprint %v: want two or more and a fingerprint", records, sawFP)
	}
	if (bucket.Fingerprint{}).String() != strings.Repeat("0", 64) || !strings.Contains(doc, "The empty set's is 64 zeros") {
		t.Errorf("the empty fingerprint is not documented as 64 zeros")
	}
}
