package ingest_test

import (
	"context"
	"fmt"
	"sync"
	"sync/atomic"
	"testing"

	"corebridge/internal/bridge"
	"corebridge/internal/ingest"
)

type listModules []string

func (l listModules) Modules(context.Context) ([]bridge.ModuleSummary, error) {
	out := make([]bridge.ModuleSummary, len(l))
	for i, m := range l {
		out[i] = bridge.ModuleSummary{Module: m}
	}
	return out, nil
}

// TestModuleCapHoldsUnderConcurrency: 200 requests of new modules at once
// against a limit of 10 (2 already stored): exactly 8 are admitted, even
// while none has committed yet; a request that fails to store gives its
// place back; stored modules stay admitted.
func TestModuleCapHoldsUnderConcurrency(t *testing.T) {
	c := ingest.NewModuleCap(listModules{"education", "finance"}, 10)
	var admitted atomic.Int64
	var mu sync.Mutex
	var dones []func(bool)
	var wg sync.WaitGroup
	for i := range 200 {
		wg.Go(func() {
			done, refused, err := c.Reserve(t.Context(), []string{"education", fmt.Sprintf("new-%d", i)})
			if err != nil {
				t.Error(err)
				return
			}
			if refused == -1 {
				admitted.Add(1)
				mu.Lock()
				dones = append(dones, done)
				mu.Unlock()
			} else if refused != 1 {
				t.Errorf("refused index %d, want 1 (the new module)", refused)
			}
		})
	}
	wg.Wait()
	if n := admitted.Load(); n != 8 {
		t.Fatalf("%d requests of new modules admitted, want 8 (limit 10, 2 stored)", n)
	}
	dones[0](false) // not stored: its place is free again
	for _, d := range dones[1:] {
		d(true)
	}
	if _, refused, _ := c.Reserve(t.Context(), []string{"other"}); refused != -1 {
		t.Error("the place of a request that stored nothing was not given back")
	}
	if _, refused, _ := c.Reserve(t.Context(), []string{"another"}); refused != 0 {
		t.Error("admitted past the limit")
	}
	if !c.Known("education") || c.Known("another") {
		t.Error("Known is wrong")
	}
	if done, refused, _ := c.Reserve(t.Context(), []string{"finance", "education"}); refused != -1 || done == nil {
		t.Error("stored modules are refused at the limit")
	}
}
