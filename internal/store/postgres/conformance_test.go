package postgres_test

import (
	"testing"

	"corebridge/internal/bridge"
	"corebridge/internal/store/postgres"
	"corebridge/internal/store/postgres/pgtest"
	"corebridge/internal/store/storetest"
)

func TestConformance(t *testing.T) {
	storetest.Run(t, storetest.Harness{
		New: func(t *testing.T) func() (bridge.Store, error) {
			db := pgtest.FreshDB(t)
			return func() (bridge.Store, error) { return postgres.Open(t.Context(), db, postgres.Options{MaxConns: 4}) }
		},
		Replicas: true,
		Kill:     func(s bridge.Store) { s.(*postgres.Store).Kill() },
	})
}
