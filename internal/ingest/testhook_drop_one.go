//go:build corebridge_drop_one

package ingest

import (
	"context"
	"errors"
	"os"
	"sync"

	"corebridge/internal/bridge"
)

// A deliberately broken build, for `corebridge drill`'s own test
// (TestDrillCatchesADroppedRecord): built with -tags corebridge_drop_one,
// the writer acknowledges the dropAt-th record it commits since the
// process started (the 100th) with its id, as if stored, but never
// stores it, and logs nothing (a restarted process drops its own 100th).
// If the environment variable CB_DROP_ONE_FILE names a file, the dropped
// ids are appended to it, one a line: the test's oracle, which the drill
// does not read. Never ship this.

type appendFunc = func(ctx context.Context, recs []bridge.NewRecord) ([]bridge.Appended, error)

const dropAt = 100

var dropped struct {
	sync.Mutex
	n    int  // records committed so far (the dropped one included)
	done bool // the record is dropped
}

func appendHook(next appendFunc) appendFunc {
	return func(ctx context.Context, recs []bridge.NewRecord) ([]bridge.Appended, error) {
		dropped.Lock()
		defer dropped.Unlock()
		at := dropAt - 1 - dropped.n
		if dropped.done || at >= len(recs) {
			res, err := next(ctx, recs)
			if err == nil {
				dropped.n += len(recs)
			}
			return res, err
		}
		rec := recs[at]
		kept := append(append(make([]bridge.NewRecord, 0, len(recs)-1), recs[:at]...), recs[at+1:]...)
		var res []bridge.Appended
		if len(kept) > 0 {
			var err error
			if res, err = next(ctx, kept); err != nil {
				var kc *bridge.KeyConflict
				if errors.As(err, &kc) && kc.Index >= at {
					kc.Index++ // an index into recs, not kept
				}
				return nil, err
			}
		}
		dropped.n += len(recs)
		dropped.done = true
		out := append(make([]bridge.Appended, 0, len(recs)), res[:at]...)
		out = append(append(out, bridge.Appended{ID: rec.ID, SessionID: rec.SessionID, ReceivedAt: rec.ReceivedAt}), res[at:]...)
		if path := os.Getenv("CB_DROP_ONE_FILE"); path != "" {
			if f, err := os.OpenFile(path, os.O_APPEND|os.O_CREATE|os.O_WRONLY, 0o644); err == nil {
				f.WriteString(rec.ID + "\n")
				f.Close()
			}
		}
		return out, nil
	}
}
