//go:build !corebridge_drop_one

package ingest

import (
	"context"

	"corebridge/internal/bridge"
)

// appendFunc is how the writer commits a group of records.
type appendFunc = func(ctx context.Context, recs []bridge.NewRecord) ([]bridge.Appended, error)

// appendHook is where a test build may wrap the writer's append (see
// testhook_drop_one.go, built only with -tags corebridge_drop_one). In a
// normal build it returns next unchanged.
func appendHook(next appendFunc) appendFunc { return next }
