package deliver

import (
	"testing"
	"time"
)

func TestBackoffCeilingDoublesToCap(t *testing.T) {
	b := Backoff{Base: time.Second, Cap: 5 * time.Minute}
	want := []time.Duration{1, 2, 4, 8, 16, 32, 64, 128, 256, 300, 300, 300}
	for i, w := range want {
		if got := b.Ceiling(i + 1); got != w*time.Second {
			t.Errorf("Ceiling(%d) = %s, want %s", i+1, got, w*time.Second)
		}
	}
	if got := b.Ceiling(1000); got != 5*time.Minute {
		t.Errorf("Ceiling(1000) = %s, want the cap", got)
	}
}

// Full jitter: the wait spans [0, ceiling) as the random draw spans [0, 1).
func TestBackoffFullJitterBounds(t *testing.T) {
	for _, tc := range []struct {
		name string
		r    float64
		n    int
		want time.Duration
	}{
		{"lowest draw waits nothing", 0, 3, 0},
		{"middle draw waits half", 0.5, 3, 2 * time.Second},
		{"highest draw stays under the ceiling", 0.999999, 3, 3999996 * time.Microsecond},
		{"capped", 0.5, 20, 150 * time.Second},
	} {
		t.Run(tc.name, func(t *testing.T) {
			b := Backoff{Base: time.Second, Cap: 5 * time.Minute, Rand: func() float64 { return tc.r }}
			got := b.Wait(tc.n, 0)
			if got != tc.want {
				t.Fatalf("Wait(%d) with draw %v = %s, want %s", tc.n, tc.r, got, tc.want)
			}
			if got < 0 || got >= b.Ceiling(tc.n) {
				t.Fatalf("Wait(%d) = %s is outside [0, %s)", tc.n, got, b.Ceiling(tc.n))
			}
		})
	}
}

func TestBackoffRetryAfterIsAFloor(t *testing.T) {
	b := Backoff{Base: time.Second, Cap: 5 * time.Minute, Rand: func() float64 { return 0.1 }}
	if got := b.Wait(1, 7*time.Second); got != 7*time.Second {
		t.Fatalf("Wait with Retry-After 7s = %s, want 7s", got)
	}
	if got := b.Wait(10, time.Second); got != time.Duration(0.1*float64(300*time.Second)) { // Ceiling(10) is the 5 min cap
		t.Fatalf("Wait with a small Retry-After = %s, want the jittered backoff", got)
	}
}

func TestBreakerOpensProbesAndCloses(t *testing.T) {
	now := time.Date(2026, 11, 29, 12, 0, 0, 0, time.UTC)
	b := &Breaker{Threshold: 3, Cooldown: 5 * time.Second}
	for i := range 2 {
		b.Failure(now)
		if s, _ := b.State(); s != BreakerClosed || b.Allow() {
			t.Fatalf("after %d failures: %s, want closed and holding deliveries until a check", i+1, s)
		}
		if !b.CheckDue() || b.CheckDue() {
			t.Fatalf("after %d failures: want exactly one check due", i+1)
		}
		b.Checked(true, now)
		if !b.Allow() {
			t.Fatalf("after %d failures and a check that got an answer: refusing", i+1)
		}
	}
	b.Failure(now)
	if s, at := b.State(); s != BreakerOpen || !at.Equal(now) || b.Allow() {
		t.Fatalf("after 3 failures: %s since %s, want open and refusing", s, at)
	}
	if b.ProbeDue(now.Add(4 * time.Second)) {
		t.Fatal("probe before the cooldown")
	}
	if !b.ProbeDue(now.Add(5 * time.Second)) {
		t.Fatal("no probe after the cooldown")
	}
	if b.ProbeDue(now.Add(6 * time.Second)) {
		t.Fatal("a second probe within one cooldown")
	}
	b.ProbeResult(false, now.Add(6*time.Second))
	if s, _ := b.State(); s != BreakerOpen {
		t.Fatalf("after a failed probe: %s, want open", s)
	}
	if !b.ProbeDue(now.Add(10 * time.Second)) {
		t.Fatal("no probe one cooldown after the last")
	}
	b.ProbeResult(true, now.Add(10*time.Second))
	if s, _ := b.State(); s != BreakerHalfOpen {
		t.Fatalf("after a good probe: %s, want half-open", s)
	}
	if !b.Allow() || b.Allow() {
		t.Fatal("half-open must admit exactly one trial")
	}
	b.Failure(now.Add(11 * time.Second))
	if s, _ := b.State(); s != BreakerOpen {
		t.Fatalf("failed trial: %s, want open again", s)
	}
	b.ProbeDue(now.Add(20 * time.Second))
	b.ProbeResult(true, now.Add(20*time.Second))
	if !b.Allow() {
		t.Fatal("half-open refused the trial")
	}
	b.Success()
	if s, _ := b.State(); s != BreakerClosed || !b.Allow() || !b.Allow() {
		t.Fatalf("after a good trial: %s, want closed", s)
	}
}

// A check that gets no answer opens the breaker at once, whatever the
// count of failures: records are not charged to find out.
func TestBreakerCheckOpensWithoutFailures(t *testing.T) {
	now := time.Date(2026, 11, 29, 12, 0, 0, 0, time.UTC)
	b := &Breaker{Threshold: 5, Cooldown: time.Second}
	b.CheckFirst()
	if b.Allow() {
		t.Fatal("a breaker that must check first allowed a delivery")
	}
	if !b.CheckDue() {
		t.Fatal("no check due at start")
	}
	b.Checked(false, now)
	if s, at := b.State(); s != BreakerOpen || !at.Equal(now) || b.Allow() {
		t.Fatalf("after a check without answer: %s since %s, want open", s, at)
	}
	if b.CheckDue() {
		t.Fatal("an open breaker asked for a check (it probes instead)")
	}
}

func TestBreakerReleaseFreesTheTrial(t *testing.T) {
	now := time.Now()
	b := &Breaker{Threshold: 1, Cooldown: time.Second}
	b.Failure(now)
	b.ProbeDue(now.Add(time.Second))
	b.ProbeResult(true, now)
	if !b.Allow() {
		t.Fatal("trial refused")
	}
	b.Release()
	if !b.Allow() {
		t.Fatal("a released trial must let the next one through")
	}
}
