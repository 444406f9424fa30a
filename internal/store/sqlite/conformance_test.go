package sqlite_test

import (
	"path/filepath"
	"testing"

	"corebridge/internal/bridge"
	"corebridge/internal/store/sqlite"
	"corebridge/internal/store/storetest"
)

func TestConformance(t *testing.T) {
	storetest.Run(t, storetest.Harness{New: func(t *testing.T) func() (bridge.Store, error) {
		path := filepath.Join(t.TempDir(), "corebridge.db")
		// Pages of 3: the suite's replays and purges of a module or all
		// then take several pages.
		return func() (bridge.Store, error) { return sqlite.Open(path, sqlite.Options{DeadPage: 3}) }
	}})
}
