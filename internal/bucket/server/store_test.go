package server_test

import (
	"context"
	"encoding/json"
	"fmt"
	"path/filepath"
	"reflect"
	"testing"
	"time"

	"corebridge/internal/bridge"
	"corebridge/internal/bucket"
	"corebridge/internal/bucket/buckettest"
	"corebridge/internal/bucket/server"
)

func TestStorePutStoresAndDedupes(t *testing.T) {
	s := openStore(t)
	ctx := context.Background()
	at := time.Date(2026, 11, 29, 14, 0, 0, 123456000, time.UTC)
	s.Now = func() time.Time { return at }

	first := []bucket.Record{rec("a", "edu"), rec("b", "fin"), rec("a", "edu"), rec("c", "edu")}
	got, err := s.Put(ctx, first)
	if err != nil {
		t.Fatal(err)
	}
	want := []bucket.Result{
		{ID: "a", Status: bucket.StatusStored},
		{ID: "b", Status: bucket.StatusStored},
		{ID: "a", Status: bucket.StatusDuplicate}, // repeated within one batch
		{ID: "c", Status: bucket.StatusStored},
	}
	if !reflect.DeepEqual(got, want) {
		t.Fatalf("first Put = %+v, want %+v", got, want)
	}

	// A redelivery is a no-op, even with other content: the Bucket keys by id.
	again := []bucket.Record{rec("c", "edu"), rec("d", "edu"), rec("b", "fin")}
	again[0].Data = json.RawMessage(`{"changed":true}`)
	got, err = s.Put(ctx, again)
	if err != nil {
		t.Fatal(err)
	}
	if want := []string{"duplicate", "stored", "duplicate"}; !reflect.DeepEqual(buckettest.Statuses(got), want) {
		t.Fatalf("second Put statuses = %v, want %v", buckettest.Statuses(got), want)
	}

	all := allRecords(t, s, "", 0)
	var ids []string
	for _, r := range all {
		ids = append(ids, r.ID)
	}
	if want := []string{"a", "b", "c", "d"}; !reflect.DeepEqual(ids, want) {
		t.Fatalf("stored ids in order = %v, want %v", ids, want)
	}
	c := all[2]
	wantC := rec("c", "edu")
	if c.Module != "edu" || c.SessionID != wantC.SessionID || string(c.Data) != string(wantC.Data) ||
		c.ReceivedAt != wantC.ReceivedAt || c.StoredAt != bridge.FormatTime(at) {
		t.Errorf("record c read back as %+v (data %s), want %+v stored at %s", c, c.Data, wantC, bridge.FormatTime(at))
	}

	st, err := s.Stats(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if want := (bucket.Stats{Total: 4, Modules: map[string]int64{"edu": 3, "fin": 1}}); !reflect.DeepEqual(st, want) {
		t.Errorf("Stats = %+v, want %+v", st, want)
	}
}

func TestStorePutRejectsInvalidRecords(t *testing.T) {
	s := openStore(t)
	noID, noModule, arrayData, noData, badJSON := rec("", "edu"), rec("x1", ""), rec("x2", "edu"), rec("x3", "edu"), rec("x4", "edu")
	arrayData.Data = json.RawMessage(`[1]`)
	noData.Data = nil
	badJSON.Data = json.RawMessage(`{"a":`)
	got, err := s.Put(context.Background(), []bucket.Record{noID, rec("ok", "edu"), noModule, arrayData, noData, badJSON})
	if err != nil {
		t.Fatal(err)
	}
	want := []string{"rejected", "stored", "rejected", "rejected", "rejected", "rejected"}
	if !reflect.DeepEqual(buckettest.Statuses(got), want) {
		t.Fatalf("statuses = %v, want %v", buckettest.Statuses(got), want)
	}
	for i, r := range got {
		if r.Status == bucket.StatusRejected && r.Error == "" {
			t.Errorf("result %d rejected without a reason", i)
		}
	}
	if st, _ := s.Stats(context.Background()); st.Total != 1 {
		t.Errorf("total = %d, want 1", st.Total)
	}
}

func TestStoreListPagesInStoredOrder(t *testing.T) {
	s := openStore(t)
	ctx := context.Background()
	// Interleave two modules over several batches.
	var want, wantEdu []string
	for b := range 5 {
		var batch []bucket.Record
		for i := range 7 {
			m := []string{"edu", "fin"}[i%2]
			id := fmt.Sprintf("r%d-%d", b, i)
			batch = append(batch, rec(id, m))
			want = append(want, id)
			if m == "edu" {
				wantEdu = append(wantEdu, id)
			}
		}
		if _, err := s.Put(ctx, batch); err != nil {
			t.Fatal(err)
		}
	}
	ids := func(rs []bucket.StoredRecord) []string {
		var out []string
		for _, r := range rs {
			out = append(out, r.ID)
		}
		return out
	}
	for _, limit := range []int{1, 3, 7, 100} {
		t.Run(fmt.Sprintf("all limit %d", limit), func(t *testing.T) {
			if got := ids(allRecords(t, s, "", limit)); !reflect.DeepEqual(got, want) {
				t.Errorf("paged ids = %v, want %v", got, want)
			}
		})
		t.Run(fmt.Sprintf("module limit %d", limit), func(t *testing.T) {
			if got := ids(allRecords(t, s, "edu", limit)); !reflect.DeepEqual(got, wantEdu) {
				t.Errorf("paged edu ids = %v, want %v", got, wantEdu)
			}
		})
	}
	t.Run("page size honoured", func(t *testing.T) {
		page, err := s.List(ctx, "", "", 4)
		if err != nil {
			t.Fatal(err)
		}
		if got := ids(page); !reflect.DeepEqual(got, want[:4]) {
			t.Errorf("first page = %v, want %v", got, want[:4])
		}
		page, err = s.List(ctx, "", want[3], 4)
		if err != nil {
			t.Fatal(err)
		}
		if got := ids(page); !reflect.DeepEqual(got, want[4:8]) {
			t.Errorf("second page = %v, want %v", got, want[4:8])
		}
	})
	t.Run("after a record of another module", func(t *testing.T) {
		// r0-1 is fin; the edu records stored after it follow.
		page, err := s.List(ctx, "edu", "r0-1", 2)
		if err != nil {
			t.Fatal(err)
		}
		if got := ids(page); !reflect.DeepEqual(got, []string{"r0-2", "r0-4"}) {
			t.Errorf("page = %v, want [r0-2 r0-4]", got)
		}
	})
	t.Run("unknown module is empty", func(t *testing.T) {
		page, err := s.List(ctx, "nope", "", 10)
		if err != nil || len(page) != 0 {
			t.Errorf("List(nope) = %v, %v; want empty", page, err)
		}
	})
	t.Run("unknown after is invalid", func(t *testing.T) {
		_, err := s.List(ctx, "", "no-such-id", 10)
		if bridge.ErrorCode(err) != bridge.EINVALID {
			t.Errorf("List(after unknown) error = %v, want code %s", err, bridge.EINVALID)
		}
	})
	t.Run("limit capped", func(t *testing.T) {
		big := recs("big", "big", server.MaxListLimit+5)
		if _, err := s.Put(ctx, big); err != nil {
			t.Fatal(err)
		}
		page, err := s.List(ctx, "big", "", 5000)
		if err != nil {
			t.Fatal(err)
		}
		if len(page) != server.MaxListLimit {
			t.Errorf("page of %d, want the cap %d", len(page), server.MaxListLimit)
		}
		page, err = s.List(ctx, "big", "", 0)
		if err != nil {
			t.Fatal(err)
		}
		if len(page) != server.DefaultListLimit {
			t.Errorf("default page of %d, want %d", len(page), server.DefaultListLimit)
		}
	})
}

func TestStoreReopenKeepsRecordsAndCounts(t *testing.T) {
	path := filepath.Join(t.TempDir(), "bucket.db")
	s, err := server.OpenStore(path)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := s.Put(context.Background(), recs("k", "edu", 10)); err != nil {
		t.Fatal(err)
	}
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
	s, err = server.OpenStore(path) // migrations run again: a no-op
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	got, err := s.Put(context.Background(), recs("k", "edu", 11))
	if err != nil {
		t.Fatal(err)
	}
	for i, r := range got {
		if want := map[bool]string{true: "stored", false: "duplicate"}[i == 10]; r.Status != want {
			t.Errorf("record %d after reopen: %s, want %s", i, r.Status, want)
		}
	}
	if st, _ := s.Stats(context.Background()); st.Total != 11 || st.Modules["edu"] != 11 {
		t.Errorf("stats after reopen = %+v, want 11 edu", st)
	}
}

func TestStoreEmptyPut(t *testing.T) {
	s := openStore(t)
	got, err := s.Put(context.Background(), nil)
	if err != nil || len(got) != 0 {
		t.Errorf("Put(nil) = %v, %v", got, err)
	}
	st, err := s.Stats(context.Background())
	if err != nil || st.Total != 0 || st.Modules == nil {
		t.Errorf("empty Stats = %+v, %v; want zero total and a non-nil map", st, err)
	}
}
