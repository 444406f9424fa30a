package bucket

import (
	"net/http"
	"strings"
	"testing"
	"time"
)

func TestParseRetryAfter(t *testing.T) {
	now := time.Date(2026, 11, 29, 14, 0, 0, 0, time.UTC)
	for _, tc := range []struct {
		name string
		v    string
		want time.Duration
	}{
		{"absent", "", 0},
		{"seconds", "1", time.Second},
		{"seconds with spaces", " 120 ", 2 * time.Minute},
		{"zero", "0", 0},
		{"negative", "-5", 0},
		{"huge capped at a day", "99999999999999999", 24 * time.Hour},
		{"http date ahead", now.Add(90 * time.Second).Format(http.TimeFormat), 90 * time.Second},
		{"http date past", now.Add(-time.Minute).Format(http.TimeFormat), 0},
		{"http date years ahead capped at a day", now.AddDate(5, 0, 0).Format(http.TimeFormat), 24 * time.Hour},
		{"rfc 850 date", now.Add(30 * time.Second).Format("Monday, 02-Jan-06 15:04:05 GMT"), 30 * time.Second},
		{"garbage", "soon", 0},
		{"fraction", "1.5", 0},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if got := parseRetryAfter(tc.v, now); got != tc.want {
				t.Errorf("parseRetryAfter(%q) = %v, want %v", tc.v, got, tc.want)
			}
		})
	}
}

func TestSnippet(t *testing.T) {
	if got := snippet("  a\n\tb  "); got != "a b" {
		t.Errorf("snippet folds whitespace: %q", got)
	}
	long := strings.Repeat("é", maxMessage) // two bytes each: the cut falls mid-rune
	got := snippet(long)
	if len(got) > maxMessage+len("…") || !strings.HasSuffix(got, "…") || strings.ContainsRune(got, '\uFFFD') {
		t.Errorf("snippet of a long text = %d bytes %q…", len(got), got[:20])
	}
}
