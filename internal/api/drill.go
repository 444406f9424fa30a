package api

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"sync"

	"corebridge/internal/auth"
	"corebridge/internal/bridge"
)

// AuditDrillReport is the audit action of a drill report published here.
const AuditDrillReport = "drill_report"

// maxDrillReport bounds a published drill report (a report lists at most
// a few hundred records by id).
const maxDrillReport = 1 << 20

// drillReports keeps the last report that `corebridge drill --publish`
// sent to this bridge, for the dashboard's Proof panel: in memory, and in
// a file (0600) so that it survives a restart.
type drillReports struct {
	mu   sync.Mutex
	last json.RawMessage
	file string // "": memory only
}

func newDrillReports(file string) *drillReports {
	d := &drillReports{file: file}
	if file == "" {
		return d
	}
	if b, err := os.ReadFile(file); err == nil && json.Valid(b) {
		d.last = b
	}
	return d
}

func (d *drillReports) get() json.RawMessage {
	d.mu.Lock()
	defer d.mu.Unlock()
	return d.last
}

// put keeps b (a checked report) and writes it to the file: a temporary
// file renamed over the old one, so a crash leaves one or the other.
func (d *drillReports) put(b json.RawMessage) error {
	d.mu.Lock()
	defer d.mu.Unlock()
	if d.file != "" {
		tmp := d.file + ".tmp"
		if err := os.WriteFile(tmp, b, 0o600); err != nil {
			return err
		}
		if err := os.Rename(tmp, d.file); err != nil {
			os.Remove(tmp)
			return err
		}
	}
	d.last = b
	return nil
}

// checkDrillReport reads what a drill report must have for the Proof
// panel: passed, run, and the counts and faults it shows.
func checkDrillReport(b []byte) error {
	var r struct {
		Passed   *bool            `json:"passed"`
		Run      *string          `json:"run"`
		Started  *string          `json:"started"`
		Acked    *int64           `json:"acknowledged"`
		Lost     *int64           `json:"lost_count"`
		Dup      *int64           `json:"duplicated_count"`
		Order    *int64           `json:"order_violation_count"`
		Faults   []map[string]any `json:"faults"`
		Problems []string         `json:"problems"`
	}
	dec := json.NewDecoder(bytes.NewReader(b))
	if err := dec.Decode(&r); err != nil {
		return fmt.Errorf("body: not a drill report (the JSON of corebridge drill --report json): %v", err)
	}
	for _, f := range []struct {
		name    string
		missing bool
	}{{"passed", r.Passed == nil}, {"run", r.Run == nil}, {"started", r.Started == nil},
		{"acknowledged", r.Acked == nil}, {"lost_count", r.Lost == nil}, {"duplicated_count", r.Dup == nil},
		{"order_violation_count", r.Order == nil}, {"faults", r.Faults == nil}} {
		if f.missing {
			return fmt.Errorf("body: field %q is required (the JSON of corebridge drill --report json)", f.name)
		}
	}
	if *r.Passed && (*r.Lost != 0 || *r.Dup != 0 || *r.Order != 0) {
		return errors.New("body: field \"passed\" is true with lost, duplicated or out-of-order records")
	}
	return nil
}

// handlePutDrill is POST /api/drill: a drill's report, kept as this
// bridge's last (corebridge drill --publish).
func handlePutDrill(s *Server) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		b, err := io.ReadAll(http.MaxBytesReader(w, r.Body, maxDrillReport))
		if err != nil {
			badRequest(w, fmt.Sprintf("body: %v (at most %d bytes)", err, maxDrillReport))
			return
		}
		if err := checkDrillReport(b); err != nil {
			badRequest(w, err.Error())
			return
		}
		var compact bytes.Buffer
		if err := json.Compact(&compact, b); err != nil {
			badRequest(w, "body: "+err.Error())
			return
		}
		if err := s.drills.put(compact.Bytes()); err != nil {
			writeError(w, r, s.log, bridge.Errorf(bridge.EUNAVAILABLE, "keep the drill report: %v", err))
			return
		}
		var head struct {
			Passed bool   `json:"passed"`
			Run    string `json:"run"`
		}
		_ = json.Unmarshal(compact.Bytes(), &head)
		verdict := "failed"
		if head.Passed {
			verdict = "passed"
		}
		s.audit(r.Context(), auth.FromContext(r.Context()), bridge.AuditEntry{Action: AuditDrillReport, Target: head.Run, Detail: verdict})
		writeJSON(w, http.StatusOK, map[string]any{"stored": true, "run": head.Run, "passed": head.Passed})
	})
}

// handleGetDrill is GET /api/drill: {"report": the last drill report
// published here, or null}.
func handleGetDrill(s *Server) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		b := s.drills.get()
		if b == nil {
			b = json.RawMessage("null")
		}
		writeJSON(w, http.StatusOK, map[string]json.RawMessage{"report": b})
	})
}

// DrillReportFile is where serve keeps the last drill report, in its data dir.
func DrillReportFile(dataDir string) string { return filepath.Join(dataDir, "drill-last.json") }
