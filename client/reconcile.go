package client

import (
	"bufio"
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"time"
)

// ReconcileOptions says what POST /api/reconcile compares.
type ReconcileOptions struct {
	// Modules to compare; none: every module the bridge knows.
	Modules []string
	// Since: only records accepted at or after it (zero: all).
	Since time.Time
	// Repair requeues the records the Bucket does not hold (the token
	// needs the operator role).
	Repair bool
}

// ReconcileProgress is one progress line of POST /api/reconcile.
type ReconcileProgress struct {
	Module      string `json:"module"`
	ModuleIndex int    `json:"module_index"`
	Modules     int    `json:"modules"`
	Checked     int64  `json:"checked"`
	Total       int64  `json:"total"`
	RoundTrips  int    `json:"round_trips"`
	Missing     int64  `json:"missing"`
	Unexpected  int64  `json:"unexpected"`
	Mismatched  int64  `json:"mismatched"`
	Done        bool   `json:"done"`
}

// ReconcileReport is what a reconciliation found (the bridge's
// reconcile.Report).
type ReconcileReport struct {
	StartedAt   time.Time               `json:"started_at"`
	FinishedAt  time.Time               `json:"finished_at"`
	TookMS      int64                   `json:"took_ms"`
	Since       string                  `json:"since,omitempty"`
	Repair      bool                    `json:"repair"`
	Unsupported bool                    `json:"unsupported"`
	Message     string                  `json:"message,omitempty"`
	Error       string                  `json:"error,omitempty"`
	Totals      ReconcileTotals         `json:"totals"`
	Modules     []ReconcileModuleReport `json:"modules"`
}

// ReconcileTotals adds up the modules of a report.
type ReconcileTotals struct {
	SyncedHere int64 `json:"synced_here"`
	HeldThere  int64 `json:"held_there"`
	Missing    int64 `json:"missing"`
	Unexpected int64 `json:"unexpected"`
	Mismatched int64 `json:"mismatched"`
	InFlight   int64 `json:"in_flight"`
	DeadHeld   int64 `json:"dead_held"`
	Requeued   int64 `json:"requeued"`
	RoundTrips int   `json:"round_trips"`
	ChainGaps  int64 `json:"chain_gaps"`
}

// ReconcileModuleReport is one module of a report. The id lists hold the
// first ids of each kind.
type ReconcileModuleReport struct {
	Module        string          `json:"module"`
	From          string          `json:"from"`
	To            string          `json:"to"`
	SyncedHere    int64           `json:"synced_here"`
	HeldThere     int64           `json:"held_there"`
	Missing       int64           `json:"missing"`
	Unexpected    int64           `json:"unexpected"`
	Mismatched    int64           `json:"mismatched"`
	InFlight      int64           `json:"in_flight"`
	DeadHeld      int64           `json:"dead_held"`
	Requeued      int64           `json:"requeued"`
	RoundTrips    int             `json:"round_trips"`
	TookMS        int64           `json:"took_ms"`
	MissingIDs    []string        `json:"missing_ids"`
	UnexpectedIDs []string        `json:"unexpected_ids"`
	MismatchedIDs []string        `json:"mismatched_ids"`
	InFlightIDs   []string        `json:"in_flight_ids"`
	DeadHeldIDs   []string        `json:"dead_held_ids"`
	Chain         json.RawMessage `json:"chain,omitempty"`
}

// Reconcile runs a reconciliation of the bridge with its Bucket (POST
// /api/reconcile) and returns its report; progress, if not nil, gets each
// progress line as it comes. A Bucket without the extension is not an
// error: the report says Unsupported. 409 (*APIError): one is running.
func (c *Client) Reconcile(ctx context.Context, o ReconcileOptions, progress func(ReconcileProgress)) (ReconcileReport, error) {
	q := url.Values{}
	if len(o.Modules) > 0 {
		q.Set("module", strings.Join(o.Modules, ","))
	}
	if !o.Since.IsZero() {
		q.Set("since", o.Since.UTC().Format(time.RFC3339Nano))
	}
	if o.Repair {
		q.Set("repair", strconv.FormatBool(true))
	}
	path := "/api/reconcile"
	if len(q) > 0 {
		path += "?" + q.Encode()
	}
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, c.base+path, nil)
	if err != nil {
		return ReconcileReport{}, fmt.Errorf("corebridge: POST %s: %w", path, err)
	}
	req.Header.Set("Accept", "application/x-ndjson")
	if c.token != "" {
		req.Header.Set("Authorization", "Bearer "+c.token)
	}
	resp, err := c.hc.Do(req)
	if err != nil {
		return ReconcileReport{}, err
	}
	defer drainClose(resp.Body)
	if resp.StatusCode < 200 || resp.StatusCode > 299 {
		return ReconcileReport{}, newAPIError(http.MethodPost, path, resp)
	}
	sc := bufio.NewScanner(resp.Body)
	sc.Buffer(make([]byte, 0, 64<<10), 64<<20)
	for sc.Scan() {
		var line struct {
			Progress *ReconcileProgress `json:"progress"`
			Report   *ReconcileReport   `json:"report"`
		}
		if err := json.Unmarshal(sc.Bytes(), &line); err != nil {
			return ReconcileReport{}, fmt.Errorf("%w: POST %s: %w", ErrBadResponse, path, err)
		}
		switch {
		case line.Report != nil:
			return *line.Report, nil
		case line.Progress != nil && progress != nil:
			progress(*line.Progress)
		}
	}
	if err := sc.Err(); err != nil {
		return ReconcileReport{}, fmt.Errorf("corebridge: POST %s: read the stream: %w", path, err)
	}
	return ReconcileReport{}, fmt.Errorf("%w: POST %s: the stream ended before the report", ErrBadResponse, path)
}

// LastReconcile reads the last reconciliation's report (GET
// /api/reconcile), and whether one is running now. Before any has run it
// is an *APIError with status 404.
func (c *Client) LastReconcile(ctx context.Context) (ReconcileReport, bool, error) {
	var out struct {
		Report  *ReconcileReport `json:"report"`
		Running bool             `json:"running"`
	}
	err := c.do(ctx, http.MethodGet, "/api/reconcile", nil, nil, &out)
	if out.Report == nil {
		return ReconcileReport{}, out.Running, err
	}
	return *out.Report, out.Running, err
}
