package automation

import (
	"errors"
	"testing"
)

// FuzzParse: any config file either loads or is refused with ConfigErrors
// that name a field; it never panics.
func FuzzParse(f *testing.F) {
	// Small seeds: the fuzzer spends its time minimizing large ones.
	f.Add([]byte(`{"jobs":[{"name":"Initial Sync","trigger":{"type":"onStartup","value":0},"actions":[{"type":"get_bucket_status"}]}]}`))
	f.Add([]byte(`{"jobs":[{"name":"e","trigger":{"type":"intervalMinutes","value":60},"actions":[{"type":"send_core_update","data":{"module":"education","data":{"score":87.5}}}]}]}`))
	f.Add([]byte(`{"jobs":[{"name":"a","trigger":{"type":"cron","value":"*/5 * * * *","timezone":"Europe/Berlin"},"actions":[{"type":"http_request","data":{"url":"/core/health","expectStatus":200}}]}]}`))
	f.Add([]byte(`{"jobs":[{"name":"b","trigger":{"type":"intervalSeconds","value":-1},"actions":[]}]}`))
	f.Add([]byte(`{"jobs":[{"name":"c","actions":[{"type":"check_health","data":{"assert":["pending_queue < 1e999"]}}]}]}`))
	f.Add([]byte(`[]`))
	f.Fuzz(func(t *testing.T, b []byte) {
		cfg, err := Parse(b)
		if err == nil {
			if cfg == nil {
				t.Fatal("nil config without an error")
			}
			return
		}
		var ces ConfigErrors
		var ce *ConfigError
		if !errors.As(err, &ces) && !errors.As(err, &ce) {
			t.Fatalf("error %T is not a ConfigError: %v", err, err)
		}
		if err.Error() == "" {
			t.Fatal("empty error message")
		}
	})
}

// FuzzParseAssertion: an assertion either parses or is refused; a parsed
// one can be checked against any document without panicking.
func FuzzParseAssertion(f *testing.F) {
	for _, s := range []string{`pending_queue < 100`, `status == "ok"`, `module_sync_counts.education >= 1`, `a.b.c != true`, `x`, `== 1`, `a <`, `a == "unterminated`} {
		f.Add(s)
	}
	doc := map[string]any{"status": "ok", "pending_queue": 3.0, "module_sync_counts": map[string]any{"education": 2.0}, "a": []any{1.0}}
	f.Fuzz(func(t *testing.T, s string) {
		a, err := ParseAssertion(s)
		if err != nil {
			return
		}
		_ = a.Check(doc)
		_ = a.Check(nil)
	})
}
