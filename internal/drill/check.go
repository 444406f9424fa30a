package drill

import (
	"context"
	"encoding/json"
	"sort"

	"corebridge/internal/bucket"
)

// Held is one record as the Bucket holds it, as far as the drill reads it:
// its id and what the drill's producer put in its data.
type Held struct {
	ID     string
	Module string
	Run    string // the drill run that sent it ("" if not the drill's)
	Seq    int
}

// LostRecord is an acknowledged record the Bucket does not hold.
type LostRecord struct {
	ID     string `json:"record_id"`
	Module string `json:"module"`
	Seq    int    `json:"seq"`
	Key    string `json:"idempotency_key"`
}

// Duplicate is one producer update the Bucket holds more than once,
// under different ids (or the same id listed twice).
type Duplicate struct {
	Module string   `json:"module"`
	Seq    int      `json:"seq"`
	IDs    []string `json:"record_ids"`
}

// OrderViolation is a record the Bucket stored after a record of the same
// module with a higher sequence number: Seq came after AfterSeq.
type OrderViolation struct {
	Module   string `json:"module"`
	ID       string `json:"record_id"`
	Seq      int    `json:"seq"`
	AfterSeq int    `json:"after_seq"`
}

// checked is what compare finds.
type checked struct {
	held       map[string]int // by module: records of this run the Bucket holds
	heldTotal  int
	lost       []LostRecord
	duplicates []Duplicate
	order      []OrderViolation
	orderCount map[string]int // by module
	lostCount  map[string]int
	dupCount   map[string]int
	extra      int // held, of this run, but not acknowledged (committed just before a kill, answer lost)
}

// compare checks what the Bucket holds (in its stored order) against what
// the producers had acknowledged:
//
//   - lost: an acknowledged record id the Bucket does not hold;
//   - duplicated: one producer update (module + sequence number, i.e. one
//     idempotency key) held more than once, under different ids, or one
//     id held twice;
//   - order: within a module, in the Bucket's stored order, a record whose
//     sequence number is lower than one stored before it. Each module has
//     one producer that sends its updates one at a time, the next only
//     after the previous was acknowledged, so the bridge accepted them in
//     sequence order and must deliver them so.
//
// Only records of this drill run (data.drill = run) are counted.
func compare(run string, acked map[string][]Acked, held []Held) checked {
	c := checked{held: map[string]int{}, orderCount: map[string]int{}, lostCount: map[string]int{}, dupCount: map[string]int{}}
	ids := map[string]int{}
	type upd struct {
		module string
		seq    int
	}
	byUpdate := map[upd][]string{}
	maxSeq := map[string]int{}
	for _, h := range held {
		if h.Run != run {
			continue
		}
		c.held[h.Module]++
		c.heldTotal++
		ids[h.ID]++
		u := upd{h.Module, h.Seq}
		byUpdate[u] = append(byUpdate[u], h.ID)
		if m, ok := maxSeq[h.Module]; ok && h.Seq < m {
			c.order = append(c.order, OrderViolation{Module: h.Module, ID: h.ID, Seq: h.Seq, AfterSeq: m})
			c.orderCount[h.Module]++
		}
		if m, ok := maxSeq[h.Module]; !ok || h.Seq > m {
			maxSeq[h.Module] = h.Seq
		}
	}
	for u, list := range byUpdate {
		if len(list) > 1 {
			c.duplicates = append(c.duplicates, Duplicate{Module: u.module, Seq: u.seq, IDs: list})
			c.dupCount[u.module]++
		}
	}
	sort.Slice(c.duplicates, func(i, j int) bool {
		a, b := c.duplicates[i], c.duplicates[j]
		return a.Module < b.Module || a.Module == b.Module && a.Seq < b.Seq
	})
	ackedIDs := map[string]bool{}
	modules := make([]string, 0, len(acked))
	for m := range acked {
		modules = append(modules, m)
	}
	sort.Strings(modules)
	for _, m := range modules {
		for _, a := range acked[m] {
			ackedIDs[a.ID] = true
			if ids[a.ID] == 0 {
				c.lost = append(c.lost, LostRecord{ID: a.ID, Module: a.Module, Seq: a.Seq, Key: a.Key})
				c.lostCount[m]++
			}
		}
	}
	for id := range ids {
		if !ackedIDs[id] {
			c.extra++
		}
	}
	return c
}

// listBucket reads everything a reference Bucket holds, in stored order
// (GET /v1/records, page by page).
func listBucket(ctx context.Context, bc *bucket.Client) ([]Held, error) {
	var out []Held
	after := ""
	for {
		recs, err := bc.Records(ctx, "", after, 1000)
		if err != nil {
			return nil, err
		}
		if len(recs) == 0 {
			return out, nil
		}
		for _, r := range recs {
			var d struct {
				Drill string `json:"drill"`
				Seq   int    `json:"seq"`
			}
			json.Unmarshal(r.Data, &d)
			out = append(out, Held{ID: r.ID, Module: r.Module, Run: d.Drill, Seq: d.Seq})
		}
		after = recs[len(recs)-1].ID
	}
}
