package sqlite

import (
	"encoding/binary"
	"errors"
	"math"
	"math/bits"
)

// bloom is a run's filter: it says "maybe" for every key of the run and
// for a few others (a false positive costs one block read, never a wrong
// answer: the block and the record decide). It is blocked: all of a key's
// probes fall in one 64-byte block (a cache line), so asking the filters
// of many runs costs a cache miss per run, not one per probe (seven
// misses a run made a new key's lookup grow to tens of µs at 50 runs).
// Its number of blocks is a power of two, so that it can be folded in
// half (block i of the half is block i or block i+n/2 of the whole) when
// the filters outgrow their budget: the same keys, fewer bits, more false
// positives.
type bloom struct {
	words []uint64 // blocks of blockWords; their number a power of two
	k     int      // probes per key
}

const (
	blockWords = 8 // 512 bits
	// bloomMaxBitsPerKey is what a new run's filter gets (~1% false
	// positives, blocked, with 7 probes) before the budget folds it.
	bloomMaxBitsPerKey = 10
	bloomFormat        = 1 // the first byte of a marshalled filter
)

func newBloom(keys int) *bloom { return newBloomAtMost(keys, math.MaxInt) }

// newBloomAtMost is newBloom(keys) with at most bytes (one block at
// least): fewer bits a key, more false positives.
func newBloomAtMost(keys, bytes int) *bloom {
	blocks := 1
	for blocks*blockWords*64 < keys*bloomMaxBitsPerKey && 2*blocks*blockWords*8 <= bytes {
		blocks *= 2
	}
	return &bloom{words: make([]uint64, blocks*blockWords), k: 7}
}

// probes: the block from one half of the digest, the bits in it from the
// other, mixed first, since a client may choose its key (32 hex digits
// are taken as the digest itself). blocks is a power of two.
func probes(blocks int, d digest) (base int, h uint64, step uint64) {
	h1, h2 := hashes(d)
	return int(h1&uint64(blocks-1)) * blockWords, h2, h2>>32 | 1
}

// hashes are a digest's two halves, mixed: h1 picks the block, h2 the
// bits in it.
func hashes(d digest) (h1, h2 uint64) {
	return mix64(binary.LittleEndian.Uint64(d[:8])), mix64(binary.LittleEndian.Uint64(d[8:]) ^ 0x9e3779b97f4a7c15)
}

func mix64(x uint64) uint64 { // splitmix64's finaliser
	x ^= x >> 30
	x *= 0xbf58476d1ce4e5b9
	x ^= x >> 27
	x *= 0x94d049bb133111eb
	return x ^ x>>31
}

func (b *bloom) add(d digest) {
	base, h, step := probes(len(b.words)/blockWords, d)
	for range b.k {
		bit := h & 511
		b.words[base+int(bit>>6)] |= 1 << (bit & 63)
		h += step
	}
}

func (b *bloom) mayHold(d digest) bool {
	base, h, step := probes(len(b.words)/blockWords, d)
	for range b.k {
		bit := h & 511
		if b.words[base+int(bit>>6)]&(1<<(bit&63)) == 0 {
			return false
		}
		h += step
	}
	return true
}

// folded is the filter folded in half, a new one (probes may be reading
// b); a one-block filter is returned as it is.
func (b *bloom) folded() *bloom {
	h := len(b.words) / 2
	if h < blockWords {
		return b
	}
	words := make([]uint64, h)
	for i := range words {
		words[i] = b.words[i] | b.words[i+h]
	}
	return &bloom{words: words, k: b.k}
}

func (b *bloom) size() int { return len(b.words) * 8 }

// marshal: the format, the probes, then the words, little-endian.
func (b *bloom) marshal() []byte {
	out := make([]byte, 2+8*len(b.words))
	out[0], out[1] = bloomFormat, byte(b.k)
	for i, w := range b.words {
		binary.LittleEndian.PutUint64(out[2+8*i:], w)
	}
	return out
}

func unmarshalBloom(p []byte) (*bloom, error) {
	if len(p) < 2 || p[0] != bloomFormat || p[1] == 0 || (len(p)-2)%(8*blockWords) != 0 {
		return nil, errors.New("malformed dedupe filter")
	}
	n := (len(p) - 2) / 8
	if bits.OnesCount(uint(n/blockWords)) != 1 {
		return nil, errors.New("malformed dedupe filter")
	}
	b := &bloom{words: make([]uint64, n), k: int(p[1])}
	for i := range b.words {
		b.words[i] = binary.LittleEndian.Uint64(p[2+8*i:])
	}
	return b, nil
}
