package automation

import (
	"encoding/json"
	"strings"
	"testing"
)

func TestAssertions(t *testing.T) {
	var health map[string]any
	if err := json.Unmarshal([]byte(`{"status":"degraded","pending_queue":42,"healthy":false,
		"module_sync_counts":{"education":3},"reasons":["stale"]}`), &health); err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		assertion string
		fails     string // "" = holds; else a part of the error
	}{
		{"pending_queue < 100", ""},
		{"pending_queue < 42", "pending_queue is 42"},
		{"pending_queue <= 42", ""},
		{"pending_queue >= 43", "pending_queue is 42"},
		{"pending_queue == 42", ""},
		{"pending_queue != 42.0", "pending_queue is 42"},
		{"pending_queue>1e1", ""},
		{`status == "degraded"`, ""},
		{`status == "ok"`, `status is "degraded"`},
		{"status != ok", ""}, // a bare word is a string
		{"status == ok", `status is "degraded"`},
		{"healthy == false", ""},
		{"healthy != false", "healthy is false"},
		{"module_sync_counts.education >= 3", ""},
		{"module_sync_counts.finance >= 1", "no field module_sync_counts.finance"},
		{"uptime_s > 0", "no field uptime_s"},
		{"status > 1", `status is "degraded", which cannot be compared with 1`},
		{"pending_queue == \"42\"", "cannot be compared"},
		{"reasons.x == 1", "no field reasons.x"},
	}
	for _, tt := range tests {
		t.Run(tt.assertion, func(t *testing.T) {
			a, err := ParseAssertion(tt.assertion)
			if err != nil {
				t.Fatal(err)
			}
			err = a.Check(health)
			switch {
			case tt.fails == "" && err != nil:
				t.Errorf("fails: %v", err)
			case tt.fails != "" && (err == nil || !strings.Contains(err.Error(), tt.fails)):
				t.Errorf("error %v, want one containing %q", err, tt.fails)
			}
		})
	}
}

func TestParseAssertionErrors(t *testing.T) {
	for _, s := range []string{"", "pending_queue", "pending_queue <", "< 3", "status = ok", `status == "ok`, "status == two words", "status >= ok", "ok < true"} {
		if a, err := ParseAssertion(s); err == nil {
			t.Errorf("ParseAssertion(%q) = %+v, want an error", s, a)
		}
	}
}
