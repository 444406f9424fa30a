package drill

import (
	"context"
	"fmt"
	"strconv"
	"strings"
)

// collect copies what the producers saw into the report.
func (d *drill) collect() {
	p := d.prod
	p.mu.Lock()
	defer p.mu.Unlock()
	d.rep.Sent, d.rep.Acknowledged, d.rep.Retries = 0, 0, 0
	for m, n := range p.sent {
		d.rep.Sent += n
		d.rep.Acknowledged += len(p.acked[m])
		d.rep.Retries += p.retries[m]
	}
	for code, n := range p.statuses {
		d.rep.Statuses[strconv.Itoa(code)] = n
	}
	d.rep.Refused503 = int(p.refused.Load())
	d.rep.ConnErrors = int(p.connErr.Load())
	d.rep.Unexpected = append([]string(nil), p.unexpected...)
}

// check reads what the Bucket holds, compares it with what was
// acknowledged, and gives the verdict.
func (d *drill) check(ctx context.Context) {
	rep := d.rep
	p := d.prod
	p.mu.Lock()
	acked := map[string][]Acked{}
	for m, a := range p.acked {
		acked[m] = append([]Acked(nil), a...)
	}
	p.mu.Unlock()

	var c checked
	switch {
	case d.bc != nil:
		held, err := listBucket(ctx, d.bc)
		if err != nil {
			rep.Problems = append(rep.Problems, fmt.Sprintf("cannot list the Bucket (GET /v1/records): %v", err))
			break
		}
		c = compare(d.run, acked, held)
		rep.Checked, rep.OrderChecked = true, true
	case d.o.Reconcile != nil:
		var all []Acked
		byID := map[string]Acked{}
		for _, m := range sortedModules(acked) {
			for _, a := range acked[m] {
				all = append(all, a)
				byID[a.ID] = a
			}
		}
		r, err := d.o.Reconcile(ctx, all)
		if err != nil {
			rep.Problems = append(rep.Problems, fmt.Sprintf("reconciliation with the Bucket failed: %v", err))
			break
		}
		c = checked{held: map[string]int{}, lostCount: map[string]int{}, dupCount: map[string]int{}, orderCount: map[string]int{}}
		c.heldTotal = r.Held
		for _, id := range r.Lost {
			a := byID[id]
			c.lost = append(c.lost, LostRecord{ID: id, Module: a.Module, Seq: a.Seq, Key: a.Key})
			c.lostCount[a.Module]++
		}
		c.duplicates = r.Duplicates
		for _, dup := range r.Duplicates {
			c.dupCount[dup.Module]++
		}
		c.order = r.OrderViolations
		for _, v := range r.OrderViolations {
			c.orderCount[v.Module]++
		}
		rep.Checked, rep.OrderChecked = true, r.OrderChecked
	default:
		// A Bucket of the user's: what it holds is checked by
		// reconciliation (below) alone, record by record for what the
		// bridge synced. Every acknowledged record was synced (the drain
		// waited for it), so a record missing there is a lost one.
		c = checked{held: map[string]int{}, lostCount: map[string]int{}, dupCount: map[string]int{}, orderCount: map[string]int{}}
	}
	rec := d.reconcile(ctx)
	rep.Reconciliation = &rec
	rep.Problems = append(rep.Problems, rec.problems()...)
	if d.bc == nil && d.o.Reconcile == nil && rec.Ran && !rec.Unsupported && rec.Error == "" {
		byID := map[string]Acked{}
		for _, m := range sortedModules(acked) {
			for _, a := range acked[m] {
				byID[a.ID] = a
			}
		}
		c.heldTotal = int(rec.HeldThere)
		for _, id := range rec.MissingIDs {
			if a, ok := byID[id]; ok {
				c.lost = append(c.lost, LostRecord{ID: id, Module: a.Module, Seq: a.Seq, Key: a.Key})
				c.lostCount[a.Module]++
			}
		}
		// Duplicates are by id at the Bucket (it stores by id): one held
		// twice would be an unexpected record, counted above.
		rep.Checked = true
	}

	rep.Held, rep.HeldUnacked = c.heldTotal, c.extra
	rep.Lost, rep.LostCount = c.lost, len(c.lost)
	rep.Duplicated, rep.DuplicatedCount = c.duplicates, len(c.duplicates)
	rep.OrderViolations, rep.OrderCount = c.order, len(c.order)
	if len(rep.OrderViolations) > 100 {
		rep.OrderViolations = rep.OrderViolations[:100]
	}
	p.mu.Lock()
	for _, m := range moduleNames(d.o.Modules) {
		rep.Modules = append(rep.Modules, ModuleReport{Module: m, Sent: p.sent[m], Acknowledged: len(p.acked[m]), Held: c.held[m],
			Lost: c.lostCount[m], Duplicated: c.dupCount[m], OrderViolations: c.orderCount[m], Retries: p.retries[m]})
	}
	p.mu.Unlock()

	if n := len(c.lost); n > 0 {
		var names []string
		for _, l := range c.lost[:min(n, 10)] {
			names = append(names, fmt.Sprintf("%s (module %s, seq %d)", l.ID, l.Module, l.Seq))
		}
		more := ""
		if n > 10 {
			more = fmt.Sprintf(" and %d more", n-10)
		}
		rep.Problems = append(rep.Problems, fmt.Sprintf("LOST %d acknowledged record(s): %s%s", n, strings.Join(names, ", "), more))
	}
	if n := len(c.duplicates); n > 0 {
		rep.Problems = append(rep.Problems, fmt.Sprintf("%d producer update(s) held more than once, e.g. %s seq %d as %s",
			n, c.duplicates[0].Module, c.duplicates[0].Seq, strings.Join(c.duplicates[0].IDs, ", ")))
	}
	if n := len(c.order); n > 0 {
		v := c.order[0]
		rep.Problems = append(rep.Problems, fmt.Sprintf("%d record(s) out of order, e.g. %s seq %d (%s) stored after seq %d", n, v.Module, v.Seq, v.ID, v.AfterSeq))
	}
	if n := len(rep.Unexpected); n > 0 {
		rep.Problems = append(rep.Problems, fmt.Sprintf("%d update(s) refused for good (4xx), e.g. %s", n, rep.Unexpected[0]))
	}
	for _, f := range rep.Faults {
		if f.Failure != "" {
			rep.Problems = append(rep.Problems, fmt.Sprintf("fault %q: %s", f.Name, f.Failure))
		}
	}
	if rep.Acknowledged == 0 {
		rep.Problems = append(rep.Problems, "no update was acknowledged: the drill proved nothing")
	}
	rep.Passed = len(rep.Problems) == 0
}
