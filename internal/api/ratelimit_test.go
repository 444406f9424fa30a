package api_test

import (
	"net/http"
	"reflect"
	"testing"
	"time"

	"corebridge/internal/api"
)

func TestParseRateLimits(t *testing.T) {
	got, err := api.ParseRateLimits("producer=500/1000, edu-lab-1=2.5,10")
	want := []api.RateLimit{{Key: "producer", Rate: 500, Burst: 1000}, {Key: "edu-lab-1", Rate: 2.5, Burst: 3}, {Key: "*", Rate: 10, Burst: 10}}
	if err != nil || !reflect.DeepEqual(got, want) {
		t.Fatalf("ParseRateLimits = %v, %v; want %v", got, err, want)
	}
	for _, bad := range []string{"x=0", "x=-1", "x=abc", "x=5/0", "x=5/1.5", "=5", "x=NaN", "x=Inf"} {
		if _, err := api.ParseRateLimits(bad); err == nil {
			t.Errorf("ParseRateLimits(%q) accepted", bad)
		}
	}
}

// A producer over its rate gets 429 with a Retry-After that is long
// enough, nothing is stored, and it may send again once the bucket has
// refilled; another token has its own bucket; the most specific limit
// (token name over role over "*") applies.
func TestRateLimitPerToken(t *testing.T) {
	limits, err := api.ParseRateLimits("producer=1/3,producer-any=100/100")
	if err != nil {
		t.Fatal(err)
	}
	f := newFixtureWith(t, setup{api: api.Config{Auth: tableTokens(), RateLimits: limits}})
	edu := []string{"Authorization", "Bearer cbt_producer_edu_secret"}
	send := func(hdr []string) response {
		return f.do(t, "POST", "/core/update", `{"module":"education","data":{}}`, hdr...)
	}
	for range 3 {
		send(edu).want(t, http.StatusOK)
	}
	r := send(edu)
	r.want(t, http.StatusTooManyRequests)
	if ra := r.header.Get("Retry-After"); ra != "1" {
		t.Errorf("Retry-After %q, want 1 (one record at 1/s)", ra)
	}
	// A batch over the burst can never pass: it says so.
	f.do(t, "POST", "/core/updates", `[{"module":"education","data":{}},{"module":"education","data":{}},{"module":"education","data":{}},{"module":"education","data":{}}]`, edu...).want(t, http.StatusTooManyRequests)
	// producer-any's own limit (by name) is not spent by producer-edu.
	for range 10 {
		send([]string{"Authorization", "Bearer cbt_producer_any_secret"}).want(t, http.StatusOK)
	}
	if st := f.stats(t); st.Received != 13 {
		t.Fatalf("%d records stored, want 13 (refused ones stored nothing)", st.Received)
	}
	f.clock.Set(f.clock.Now().Add(time.Second))
	send(edu).want(t, http.StatusOK)
	send(edu).want(t, http.StatusTooManyRequests)
}
