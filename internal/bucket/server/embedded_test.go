package server_test

import (
	"context"
	"fmt"
	"math/rand/v2"
	"reflect"
	"sync"
	"testing"
	"time"

	"corebridge/internal/bucket"
	"corebridge/internal/bucket/buckettest"
	"corebridge/internal/bucket/server"
)

// readAll pages through everything a Bucket holds over HTTP.
func readAll(t testing.TB, c *bucket.Client, module string) []bucket.StoredRecord {
	t.Helper()
	var out []bucket.StoredRecord
	after := ""
	for {
		page, err := c.Records(context.Background(), module, after, 97)
		if err != nil {
			t.Fatalf("Records after %q: %v", after, err)
		}
		if len(page) == 0 {
			return out
		}
		out = append(out, page...)
		after = page[len(page)-1].ID
	}
}

func TestStopAndStartKeepsRecords(t *testing.T) {
	dir := t.TempDir()
	ctx := t.Context()
	first, err := server.Start(ctx, server.Config{DataDir: dir})
	if err != nil {
		t.Fatal(err)
	}
	c := bucket.NewClient(first.URL)
	for b := range 3 {
		if _, err := c.Send(ctx, buckettest.Records(fmt.Sprintf("b%d", b), []string{"edu", "fin", "art"}[b], 100)); err != nil {
			t.Fatal(err)
		}
	}
	before := readAll(t, c, "")
	if err := first.Stop(ctx); err != nil {
		t.Fatalf("Stop: %v", err)
	}
	if err := first.Stop(ctx); err != nil {
		t.Errorf("second Stop: %v", err)
	}

	// Again on the same directory and the same address.
	second := buckettest.Start(t, server.Config{DataDir: dir, Addr: first.Addr})
	if second.URL != first.URL {
		t.Fatalf("restarted on %s, want %s", second.URL, first.URL)
	}
	c = bucket.NewClient(second.URL)
	after := readAll(t, c, "")
	if len(after) != 300 || !reflect.DeepEqual(after, before) {
		t.Fatalf("after restart %d records, before %d; equal: %v", len(after), len(before), reflect.DeepEqual(after, before))
	}
	st, err := c.Stats(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if want := (bucket.Stats{Total: 300, Modules: map[string]int64{"edu": 100, "fin": 100, "art": 100}}); !reflect.DeepEqual(st, want) {
		t.Errorf("Stats after restart = %+v, want %+v", st, want)
	}
	res, err := c.Send(ctx, buckettest.Records("b1", "fin", 101))
	if err != nil {
		t.Fatal(err)
	}
	for i, r := range res {
		if want := map[bool]string{true: "stored", false: "duplicate"}[i == 100]; r.Status != want {
			t.Fatalf("record %d after restart: %s, want %s", i, r.Status, want)
		}
	}
}

func TestStartErrors(t *testing.T) {
	ctx := t.Context()
	if _, err := server.Start(ctx, server.Config{}); err == nil {
		t.Error("Start without a data dir succeeded")
	}
	if _, err := server.Start(ctx, server.Config{DataDir: t.TempDir(), Faults: server.Faults{FailRate: 2}}); err == nil {
		t.Error("Start with fail rate 2 succeeded")
	}
	run := buckettest.Start(t, server.Config{})
	dir := t.TempDir()
	if _, err := server.Start(ctx, server.Config{DataDir: dir, Addr: run.Addr}); err == nil {
		t.Fatal("Start on an address in use succeeded")
	}
	// The failed start released its store: the directory can be used.
	again := buckettest.Start(t, server.Config{DataDir: dir})
	if err := bucket.NewClient(again.URL).Healthy(ctx); err != nil {
		t.Error(err)
	}
}

// Eight senders deliver the same ids, overlapping, in their own orders and
// batch sizes: the Bucket stores each exactly once.
func TestConcurrentSendersStoreEachIDOnce(t *testing.T) {
	const senders, ids = 8, 1200
	run := buckettest.Start(t, server.Config{})
	c := bucket.NewClient(run.URL, bucket.WithConcurrency(senders), bucket.WithTimeout(30*time.Second))
	modules := []string{"edu", "fin", "art", "bot"}
	all := make([]bucket.Record, ids)
	for i := range all {
		all[i] = rec(fmt.Sprintf("id-%04d", i), modules[i%len(modules)])
	}

	var mu sync.Mutex
	stored := map[string]int{}
	seen := map[string]int{}
	var wg sync.WaitGroup
	for g := range senders {
		wg.Go(func() {
			r := rand.New(rand.NewPCG(uint64(g), 42))
			mine := append([]bucket.Record(nil), all...)
			r.Shuffle(len(mine), func(i, j int) { mine[i], mine[j] = mine[j], mine[i] })
			mine = mine[:ids*3/4] // each sender a different three quarters
			for len(mine) > 0 {
				n := min(len(mine), 1+r.IntN(120))
				res, err := c.SendRecords(context.Background(), mine[:n])
				if err != nil {
					t.Error(err)
					return
				}
				mu.Lock()
				for _, x := range res {
					seen[x.ID]++
					if x.Status == bucket.StatusStored {
						stored[x.ID]++
					}
				}
				mu.Unlock()
				mine = mine[n:]
			}
		})
	}
	wg.Wait()
	for id, n := range stored {
		if n != 1 {
			t.Errorf("%s answered stored %d times", id, n)
		}
	}
	st, err := c.Stats(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	if int(st.Total) != len(seen) || len(stored) != len(seen) {
		t.Errorf("total %d, stored answers %d, distinct ids sent %d: want all equal", st.Total, len(stored), len(seen))
	}
	held := readAll(t, c, "")
	unique := map[string]bool{}
	for _, r := range held {
		unique[r.ID] = true
	}
	if len(held) != len(seen) || len(unique) != len(held) {
		t.Errorf("bucket holds %d records (%d distinct), want %d", len(held), len(unique), len(seen))
	}
	var sum int64
	for _, n := range st.Modules {
		sum += n
	}
	if sum != st.Total {
		t.Errorf("module counts sum to %d, total %d", sum, st.Total)
	}
}
