package drill

import (
	"fmt"
	"io"
	"strings"
	"text/tabwriter"
	"time"
)

// WriteText prints the report for people.
func (r Report) WriteText(w io.Writer) error {
	var b strings.Builder
	verdict := "PASSED"
	if !r.Passed {
		verdict = "FAILED"
	}
	if r.Interrupted {
		verdict = "DID NOT COMPLETE (nothing checked)"
	}
	fmt.Fprintf(&b, "corebridge drill %s: %s\n", r.Run, verdict)
	fmt.Fprintf(&b, "  %.1f s; store %s; %s\n", r.Seconds, r.Store, r.Bucket)
	if r.Checked {
		fmt.Fprintf(&b, "  %d updates sent, %d acknowledged, %d held by the Bucket (%d of them held but never acknowledged: committed as a kill cut the answer)\n",
			r.Sent, r.Acknowledged, r.Held, r.HeldUnacked)
	} else {
		fmt.Fprintf(&b, "  %d updates sent, %d acknowledged; what the Bucket holds was not checked\n", r.Sent, r.Acknowledged)
	}
	fmt.Fprintf(&b, "  producers resent %d time(s): %d answers 503, %d connection errors; answers by status %v\n\n", r.Retries, r.Refused503, r.ConnErrors, r.Statuses)

	tw := tabwriter.NewWriter(&b, 0, 0, 2, ' ', tabwriter.AlignRight)
	fmt.Fprintln(tw, "module\tsent\tacknowledged\theld\tlost\tduplicated\tout of order\tresent\t")
	var t ModuleReport
	for _, m := range r.Modules {
		fmt.Fprintf(tw, "%s\t%d\t%d\t%s\t%s\t%s\t%s\t%d\t\n", m.Module, m.Sent, m.Acknowledged, r.count(m.Held, r.Checked),
			r.count(m.Lost, r.Checked), r.count(m.Duplicated, r.Checked), r.count(m.OrderViolations, r.OrderChecked), m.Retries)
		t.Sent += m.Sent
		t.Acknowledged += m.Acknowledged
		t.Held += m.Held
		t.Lost += m.Lost
		t.Duplicated += m.Duplicated
		t.OrderViolations += m.OrderViolations
		t.Retries += m.Retries
	}
	fmt.Fprintf(tw, "total\t%d\t%d\t%s\t%s\t%s\t%s\t%d\t\n", t.Sent, t.Acknowledged, r.count(t.Held, r.Checked),
		r.count(t.Lost, r.Checked), r.count(t.Duplicated, r.Checked), r.count(t.OrderViolations, r.OrderChecked), t.Retries)
	tw.Flush()

	b.WriteString("\nfaults (time to recover: from the end of the fault until /core/health is ok and records reach the Bucket again)\n")
	tw = tabwriter.NewWriter(&b, 0, 0, 2, ' ', 0)
	for _, f := range r.Faults {
		switch {
		case f.Skipped:
			fmt.Fprintf(tw, "  %s\tskipped\t\t%s\n", f.Name, f.SkipReason)
		case f.Recovered:
			fmt.Fprintf(tw, "  %s\tat %.1fs, lasted %s\trecovered in %s\t%s\n", f.Name, f.AtSeconds, ms(f.LastedMs), ms(f.RecoveryMs), f.Observed)
		default:
			fmt.Fprintf(tw, "  %s\tat %.1fs, lasted %s\tNOT RECOVERED\t%s\n", f.Name, f.AtSeconds, ms(f.LastedMs), f.Failure)
		}
	}
	tw.Flush()

	if rc := r.Reconciliation; rc != nil {
		switch {
		case !rc.Ran || rc.Unsupported || rc.Error != "":
			fmt.Fprintf(&b, "\nreconciliation with the Bucket: NOT DONE: %s\n", rc.Error)
		default:
			fmt.Fprintf(&b, "\nreconciliation with the Bucket: %d synced here, %d held there, %d missing, %d unexpected, %d changed, %d chain gaps (%d round trips, %d ms)\n",
				rc.SyncedHere, rc.HeldThere, rc.Missing, rc.Unexpected, rc.Mismatched, rc.ChainGaps, rc.RoundTrips, rc.TookMS)
		}
	}
	if len(r.Lost) > 0 {
		fmt.Fprintf(&b, "\nlost (acknowledged, not held by the Bucket): %d\n", len(r.Lost))
		for i, l := range r.Lost {
			if i == 50 {
				fmt.Fprintf(&b, "  … and %d more (--report json lists them all)\n", len(r.Lost)-50)
				break
			}
			fmt.Fprintf(&b, "  %s  module %s, seq %d, Idempotency-Key %s\n", l.ID, l.Module, l.Seq, l.Key)
		}
	}
	if len(r.Duplicated) > 0 {
		fmt.Fprintf(&b, "\nduplicated (one update held under several ids): %d\n", len(r.Duplicated))
		for i, dup := range r.Duplicated {
			if i == 20 {
				break
			}
			fmt.Fprintf(&b, "  module %s, seq %d: %s\n", dup.Module, dup.Seq, strings.Join(dup.IDs, ", "))
		}
	}
	if len(r.OrderViolations) > 0 {
		fmt.Fprintf(&b, "\nout of order: %d\n", r.OrderCount)
		for i, v := range r.OrderViolations {
			if i == 20 {
				break
			}
			fmt.Fprintf(&b, "  module %s: seq %d (%s) stored after seq %d\n", v.Module, v.Seq, v.ID, v.AfterSeq)
		}
	}
	if len(r.Problems) > 0 {
		b.WriteString("\nproblems:\n")
		for _, p := range r.Problems {
			fmt.Fprintf(&b, "  - %s\n", p)
		}
	}
	if r.Kept {
		fmt.Fprintf(&b, "\nscratch directory kept: %s\n", r.Dir)
	}
	_, err := io.WriteString(w, b.String())
	return err
}

func (r Report) count(n int, checked bool) string {
	if !checked {
		return "unchecked"
	}
	return fmt.Sprint(n)
}

func ms(n int64) string { return (time.Duration(n) * time.Millisecond).String() }
