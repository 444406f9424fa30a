package sqlite

import (
	"encoding/binary"
	"errors"
	"math/bits"
)

// bloom is a run's filter: it says "maybe" for every key of the run and
// for a few others (a false positive costs one index lookup, never a
// wrong answer: the lookup and the record decide). Its size in bits is a
// power of two, so that it can be folded in half (bit i of the half is
// bit i or bit i+m/2 of the whole) when the filters outgrow their budget:
// the same keys, fewer bits, more false positives.
type bloom struct {
	words []uint64 // len a power of two
	k     int      // probes per key
}

// bloomMaxBitsPerKey is what a new run's filter gets (~1% false
// positives with 7 probes) before the budget folds it.
const bloomMaxBitsPerKey = 10

func newBloom(keys int) *bloom {
	words := 1
	for words*64 < keys*bloomMaxBitsPerKey {
		words *= 2
	}
	return &bloom{words: make([]uint64, words), k: 7}
}

// probes: double hashing over the digest, mixed first, since a client
// may choose its key (32 hex digits are taken as the digest itself).
func probeBase(d digest) (h1, h2 uint64) {
	h1 = mix64(binary.LittleEndian.Uint64(d[:8]))
	h2 = mix64(binary.LittleEndian.Uint64(d[8:])^0x9e3779b97f4a7c15) | 1
	return h1, h2
}

func mix64(x uint64) uint64 { // splitmix64's finaliser
	x ^= x >> 30
	x *= 0xbf58476d1ce4e5b9
	x ^= x >> 27
	x *= 0x94d049bb133111eb
	return x ^ x>>31
}

func (b *bloom) add(d digest) {
	mask := uint64(len(b.words)*64 - 1)
	h1, h2 := probeBase(d)
	for i := range b.k {
		bit := (h1 + uint64(i)*h2) & mask
		b.words[bit>>6] |= 1 << (bit & 63)
	}
}

func (b *bloom) mayHold(d digest) bool {
	mask := uint64(len(b.words)*64 - 1)
	h1, h2 := probeBase(d)
	for i := range b.k {
		bit := (h1 + uint64(i)*h2) & mask
		if b.words[bit>>6]&(1<<(bit&63)) == 0 {
			return false
		}
	}
	return true
}

// fold halves the filter; a one-word filter stays as it is.
func (b *bloom) fold() bool {
	h := len(b.words) / 2
	if h == 0 {
		return false
	}
	folded := make([]uint64, h)
	for i := range folded {
		folded[i] = b.words[i] | b.words[i+h]
	}
	b.words = folded
	return true
}

func (b *bloom) size() int { return len(b.words) * 8 }

// marshal: one byte of probes, then the words, little-endian.
func (b *bloom) marshal() []byte {
	out := make([]byte, 1+8*len(b.words))
	out[0] = byte(b.k)
	for i, w := range b.words {
		binary.LittleEndian.PutUint64(out[1+8*i:], w)
	}
	return out
}

func unmarshalBloom(p []byte) (*bloom, error) {
	n := (len(p) - 1) / 8
	if len(p) < 9 || (len(p)-1)%8 != 0 || bits.OnesCount(uint(n)) != 1 || p[0] == 0 {
		return nil, errors.New("malformed dedupe filter")
	}
	b := &bloom{words: make([]uint64, n), k: int(p[0])}
	for i := range b.words {
		b.words[i] = binary.LittleEndian.Uint64(p[1+8*i:])
	}
	return b, nil
}
