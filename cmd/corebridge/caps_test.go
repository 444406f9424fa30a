package main

import (
	"bufio"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"regexp"
	"strconv"
	"strings"
	"testing"
	"time"
)

// slowPost sends the headers of a POST /core/update on its own
// connection and holds the body back until release is called; the answer
// then comes on the channel (nil on error). It holds an ingest slot: the
// cap is taken before the body is read.
func slowPost(t *testing.T, base, module string) (release func(), answer <-chan *http.Response) {
	t.Helper()
	conn, err := net.Dial("tcp", strings.TrimPrefix(base, "http://"))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { conn.Close() })
	body := fmt.Sprintf(`{"module":%q,"data":{"n":1}}`, module)
	fmt.Fprintf(conn, "POST /core/update HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: application/json\r\nContent-Length: %d\r\n\r\n", len(body))
	out := make(chan *http.Response, 1)
	return func() {
		go func() {
			if _, err := io.WriteString(conn, body); err != nil {
				t.Errorf("slow POST: %v", err)
				out <- nil
				return
			}
			resp, err := http.ReadResponse(bufio.NewReader(conn), nil)
			if err != nil {
				t.Errorf("slow POST: %v", err)
				out <- nil
				return
			}
			out <- resp
		}()
	}, out
}

// capReasons reads /core/health's reasons.
func capReasons(t *testing.T, base string) []string {
	t.Helper()
	_, r, _ := healthReasons(t, base)
	return r
}

func hasReason(reasons []string, sub string) bool {
	for _, r := range reasons {
		if strings.Contains(r, sub) {
			return true
		}
	}
	return false
}

// metricValue reads one sample of /metrics (the full series name with
// labels, as printed).
func metricValue(t *testing.T, base, series string) float64 {
	t.Helper()
	resp, err := http.Get(base + "/metrics")
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	sc := bufio.NewScanner(resp.Body)
	sc.Buffer(make([]byte, 1<<20), 1<<20)
	for sc.Scan() {
		if v, ok := strings.CutPrefix(sc.Text(), series+" "); ok {
			f, _ := strconv.ParseFloat(v, 64)
			return f
		}
	}
	t.Fatalf("/metrics has no %s", series)
	return 0
}

// TestMaxInflightIngest: past --max-inflight-ingest, ingest answers 503
// with Retry-After and a message naming the limit, before reading the
// body (the slots are held by requests whose bodies have not arrived);
// health names the cap, the metric counts it, one WARN is logged; the
// held requests are then stored, and ingest takes requests again.
func TestMaxInflightIngest(t *testing.T) {
	base, logs, _ := startServeLogs(t, "--data-dir", t.TempDir(), "--max-inflight-ingest", "2")
	var releases []func()
	var answers []<-chan *http.Response
	for range 2 {
		rel, ans := slowPost(t, base, "education")
		releases, answers = append(releases, rel), append(answers, ans)
	}
	// Both slow requests hold their slots once serve counts them in
	// flight (under a loaded CI machine that took a while once: a third
	// request polled for 10 s was always let in, which said nothing of
	// why).
	deadline := time.Now().Add(30 * time.Second)
	for metricValue(t, base, "corebridge_ingest_inflight_requests") < 2 {
		for _, a := range answers {
			select {
			case r := <-a:
				t.Fatalf("a slow request was answered before its body was sent: %+v", r)
			default:
			}
		}
		if time.Now().After(deadline) {
			t.Fatalf("%v ingest requests in flight after 30 s, want the 2 slow ones; serve's log:\n%s",
				metricValue(t, base, "corebridge_ingest_inflight_requests"), logs.String())
		}
		time.Sleep(20 * time.Millisecond)
	}
	resp, err := http.Post(base+"/core/update", "application/json", strings.NewReader(`{"module":"education","data":{}}`))
	if err != nil {
		t.Fatal(err)
	}
	var body map[string]any
	json.NewDecoder(resp.Body).Decode(&body)
	resp.Body.Close()
	if resp.StatusCode != http.StatusServiceUnavailable {
		t.Fatalf("with 2 requests in flight and --max-inflight-ingest 2: status %d (%v), want 503", resp.StatusCode, body)
	}
	if resp.Header.Get("Retry-After") == "" {
		t.Error("503 past the cap has no Retry-After")
	}
	if msg, _ := body["detail"].(string); !strings.Contains(msg, "--max-inflight-ingest is 2") {
		t.Errorf("503 detail %q does not name the limit", msg)
	}
	if r := capReasons(t, base); !hasReason(r, "--max-inflight-ingest is 2") {
		t.Errorf("health reasons %q do not name the cap", r)
	}
	if v := metricValue(t, base, `corebridge_cap_refused_total{cap="ingest_inflight"}`); v < 1 {
		t.Errorf("corebridge_cap_refused_total{cap=\"ingest_inflight\"} = %v, want >= 1", v)
	}
	// A second refusal in the same episode logs nothing more.
	if resp, err := http.Post(base+"/core/update", "application/json", strings.NewReader(`{}`)); err == nil {
		resp.Body.Close()
	}
	for i, rel := range releases {
		rel()
		resp := <-answers[i]
		if resp == nil {
			t.Fatal("a held request got no answer")
		}
		var out map[string]any
		json.NewDecoder(resp.Body).Decode(&out)
		resp.Body.Close()
		if resp.StatusCode != 200 {
			t.Fatalf("held request: status %d %v, want 200", resp.StatusCode, out)
		}
		getJSON(t, base+"/api/records/"+out["record_id"].(string)) // stored
	}
	if code, out := postJSON(t, base+"/core/update", `{"module":"education","data":{}}`); code != 200 {
		t.Fatalf("after the slots were freed: status %d %v", code, out)
	}
	if n := strings.Count(logs.String(), `"msg":"refusing requests past a cap","component":"insight","cap":"ingest_inflight"`); n != 1 {
		t.Errorf("%d WARN lines for the ingest cap, want 1:\n%s", n, logs.String())
	}
}

// openStream opens GET /api/events and returns the response (the body is
// left open for a 200).
func openStream(t *testing.T, base string) *http.Response {
	t.Helper()
	c := &http.Client{Transport: &http.Transport{DisableKeepAlives: true}}
	resp, err := c.Get(base + "/api/events")
	if err != nil {
		t.Fatal(err)
	}
	return resp
}

// TestMaxSSEClients: past --max-sse-clients, /api/events answers 503 with
// Retry-After naming the limit, and health says so; a closed stream frees
// its place.
func TestMaxSSEClients(t *testing.T) {
	base := func() string { b, _ := startServe(t, "--data-dir", t.TempDir(), "--max-sse-clients", "2"); return b }()
	var open []*http.Response
	for range 2 {
		r := openStream(t, base)
		if r.StatusCode != 200 {
			t.Fatalf("stream within the cap: status %d", r.StatusCode)
		}
		// The first summary arrives: the stream is being served.
		br := bufio.NewReader(r.Body)
		for {
			line, err := br.ReadString('\n')
			if err != nil {
				t.Fatal(err)
			}
			if strings.HasPrefix(line, "event: summary") {
				break
			}
		}
		open = append(open, r)
	}
	r := openStream(t, base)
	b, _ := io.ReadAll(r.Body)
	r.Body.Close()
	if r.StatusCode != http.StatusServiceUnavailable || r.Header.Get("Retry-After") == "" {
		t.Fatalf("third stream with --max-sse-clients 2: status %d, Retry-After %q, want 503 with one", r.StatusCode, r.Header.Get("Retry-After"))
	}
	if !strings.Contains(string(b), "--max-sse-clients is 2") {
		t.Errorf("503 body %s does not name the limit", b)
	}
	if rs := capReasons(t, base); !hasReason(rs, "--max-sse-clients is 2") {
		t.Errorf("health reasons %q do not name the SSE cap", rs)
	}
	open[0].Body.Close()
	deadline := time.Now().Add(10 * time.Second)
	for {
		r := openStream(t, base)
		code := r.StatusCode
		r.Body.Close()
		if code == 200 {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("a closed stream never freed its place: status %d", code)
		}
		time.Sleep(50 * time.Millisecond)
	}
	open[1].Body.Close()
}

var moduleLabelRE = regexp.MustCompile(`^corebridge_records_received_total\{module="([^"]*)"\}`)

// TestMaxModules: an update of a new module past --max-modules gets 422
// naming the limit and the field module (single and batch); modules
// already stored keep working, also after a restart with a lower limit;
// the per-module metrics carry no refused name.
func TestMaxModules(t *testing.T) {
	dir := t.TempDir()
	base, stop := startServe(t, "--data-dir", dir, "--max-modules", "3")
	for _, m := range []string{"education", "finance", "creative"} {
		if code, out := postJSON(t, base+"/core/update", `{"module":"`+m+`","data":{}}`); code != 200 {
			t.Fatalf("%s within the cap: %d %v", m, code, out)
		}
	}
	check422 := func(base, body string, loc string) {
		t.Helper()
		code, out := postJSON(t, base, body)
		if code != 422 {
			t.Fatalf("new module past --max-modules: status %d %v, want 422", code, out)
		}
		b, _ := json.Marshal(out["detail"])
		if !strings.Contains(string(b), loc) || !strings.Contains(string(b), "--max-modules is 3") {
			t.Fatalf("422 detail %s does not name %s and the limit", b, loc)
		}
	}
	for i := range 20 {
		check422(base+"/core/update", fmt.Sprintf(`{"module":"flood-%d","data":{}}`, i), `["body","module"]`)
	}
	check422(base+"/core/updates", `{"updates":[{"module":"finance","data":{}},{"module":"robotics","data":{}}]}`, `["body","updates",1,"module"]`)
	if code, out := postJSON(t, base+"/core/updates", `[{"module":"finance","data":{}},{"module":"education","data":{}}]`); code != 200 {
		t.Fatalf("batch of known modules: %d %v", code, out)
	}
	if rs := capReasons(t, base); !hasReason(rs, "--max-modules is 3") {
		t.Errorf("health reasons %q do not name the module cap", rs)
	}
	resp, err := http.Get(base + "/metrics")
	if err != nil {
		t.Fatal(err)
	}
	sc := bufio.NewScanner(resp.Body)
	sc.Buffer(make([]byte, 1<<20), 1<<20)
	labels := map[string]bool{}
	for sc.Scan() {
		if m := moduleLabelRE.FindStringSubmatch(sc.Text()); m != nil {
			labels[m[1]] = true
		}
	}
	resp.Body.Close()
	if len(labels) != 3 {
		t.Errorf("module labels in /metrics: %v, want the 3 admitted", labels)
	}
	if err := stop(); err != nil {
		t.Fatal(err)
	}
	// Restarted with a lower limit: the stored modules are known from
	// the store and keep working; a new one is refused.
	base, _ = startServe(t, "--data-dir", dir, "--max-modules", "2")
	if code, out := postJSON(t, base+"/core/update", `{"module":"creative","data":{}}`); code != 200 {
		t.Fatalf("stored module after a restart with a lower cap: %d %v", code, out)
	}
	code, out := postJSON(t, base+"/core/update", `{"module":"robotics","data":{}}`)
	if b, _ := json.Marshal(out); code != 422 || !strings.Contains(string(b), "--max-modules is 2") {
		t.Fatalf("new module after restart: %d %s, want 422 naming the limit", code, b)
	}
}
