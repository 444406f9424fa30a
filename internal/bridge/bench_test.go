package bridge_test

import (
	"testing"

	"corebridge/internal/bridge"
)

func BenchmarkDecodeUpdate(b *testing.B) {
	body := []byte(`{"module":"education","session_id":"bench-1","data":{"student":"s-1","lesson":12,"score":0.87,"tags":["math","quiz"],"meta":{"src":"tablet","ok":true}}}`)
	b.SetBytes(int64(len(body)))
	b.ReportAllocs()
	for b.Loop() {
		if _, err := bridge.DecodeUpdate(body); err != nil {
			b.Fatal(err)
		}
	}
}

func BenchmarkDecodeBatch(b *testing.B) {
	body := []byte(`{"updates":[` + items(100) + `]}`)
	b.SetBytes(int64(len(body)))
	b.ReportAllocs()
	for b.Loop() {
		if _, err := bridge.DecodeBatch(body); err != nil {
			b.Fatal(err)
		}
	}
}
