package drill

import (
	"context"
	"fmt"
	"time"

	"corebridge/client"
)

// Reconciliation is what the drill's last step found when it reconciled
// a bridge with the Bucket (POST /api/reconcile): the Bucket's own
// account, by fingerprints, of what the bridge marked synced.
type Reconciliation struct {
	Ran         bool   `json:"ran"`
	Unsupported bool   `json:"unsupported,omitempty"`
	Error       string `json:"error,omitempty"`
	SyncedHere  int64  `json:"synced_here"`
	HeldThere   int64  `json:"held_there"`
	Missing     int64  `json:"missing"`
	Unexpected  int64  `json:"unexpected"`
	Mismatched  int64  `json:"mismatched"`
	ChainGaps   int64  `json:"chain_gaps"`
	RoundTrips  int    `json:"round_trips"`
	TookMS      int64  `json:"took_ms"`
	// MissingIDs are the first ids the Bucket does not hold.
	MissingIDs []string `json:"missing_ids,omitempty"`
}

// reconcile asks the first bridge to reconcile with its Bucket, once
// everything acknowledged was delivered. The drill's bridges have no
// tokens (loopback): any request may run it.
func (d *drill) reconcile(ctx context.Context) Reconciliation {
	ctx, cancel := context.WithTimeout(ctx, 2*time.Minute)
	defer cancel()
	rep, err := client.New(d.bridges[0].url()).Reconcile(ctx, client.ReconcileOptions{}, nil)
	if err != nil {
		return Reconciliation{Error: err.Error()}
	}
	r := Reconciliation{Ran: true, Unsupported: rep.Unsupported, Error: rep.Error, TookMS: rep.TookMS,
		SyncedHere: rep.Totals.SyncedHere, HeldThere: rep.Totals.HeldThere, Missing: rep.Totals.Missing,
		Unexpected: rep.Totals.Unexpected, Mismatched: rep.Totals.Mismatched, ChainGaps: rep.Totals.ChainGaps,
		RoundTrips: rep.Totals.RoundTrips}
	if rep.Unsupported && r.Error == "" {
		r.Error = rep.Message
	}
	for _, m := range rep.Modules {
		r.MissingIDs = append(r.MissingIDs, m.MissingIDs...)
	}
	return r
}

// problems says what a reconciliation found that fails the drill.
func (r Reconciliation) problems() []string {
	switch {
	case !r.Ran:
		return []string{"reconciliation with the Bucket could not run: " + r.Error}
	case r.Unsupported:
		return []string{"the Bucket does not support reconciliation: " + r.Error}
	case r.Error != "":
		return []string{"reconciliation with the Bucket stopped: " + r.Error}
	}
	var out []string
	if r.Missing > 0 {
		out = append(out, fmt.Sprintf("reconciliation: %d record(s) synced here are not in the Bucket, e.g. %v", r.Missing, r.MissingIDs[:min(len(r.MissingIDs), 5)]))
	}
	if r.Unexpected+r.Mismatched > 0 {
		out = append(out, fmt.Sprintf("reconciliation: the Bucket holds %d record(s) the bridge never sent and %d with other content", r.Unexpected, r.Mismatched))
	}
	return out
}
