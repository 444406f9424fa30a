package storetest

import (
	"testing"

	"corebridge/internal/bridge"
)

func TestMemStore(t *testing.T) {
	Run(t, Harness{New: func(t *testing.T) func() (bridge.Store, error) {
		s := NewMem() // "durable" across Close: the same value is opened again
		return func() (bridge.Store, error) { return s, nil }
	}, Replicas: true, Kill: func(bridge.Store) {}})
}
