package insight

import (
	"sort"
	"sync"
	"time"

	"corebridge/internal/bridge"
)

// Security event reasons, as counted in health's security object and in
// corebridge_security_events_total{reason}.
const (
	SecAuthFailure     = "auth_failure"     // no token, or one that is not valid (401)
	SecForbidden       = "forbidden"        // a role or module the token may not use (403)
	SecCrossSite       = "cross_site"       // a state-changing request from another site (403)
	SecHostRefused     = "host_refused"     // a Host not in --allowed-hosts (421)
	SecRateLimited     = "rate_limited"     // past --rate-limit (429)
	SecSignatureReject = "signature_reject" // a signature missing, wrong or out of tolerance (401)
	SecReplay          = "replay"           // a signed request sent again (absorbed as a duplicate)
)

var secReasons = []string{SecAuthFailure, SecForbidden, SecCrossSite, SecHostRefused, SecRateLimited, SecSignatureReject, SecReplay}

// SecurityFigures is health's security object: refusals in the last 24 h
// by reason, and when each module last sent a validly signed request.
// Counted in memory by this process: a restart starts them at zero.
type SecurityFigures struct {
	AuthFailures24h      int64             `json:"auth_failures_24h"`
	Forbidden24h         int64             `json:"forbidden_24h"`
	CrossSite24h         int64             `json:"cross_site_24h"`
	HostRefused24h       int64             `json:"host_refused_24h"`
	RateLimited24h       int64             `json:"rate_limited_24h"`
	SignatureRejects24h  int64             `json:"signature_rejects_24h"`
	ReplayRejects24h     int64             `json:"replay_rejects_24h"`
	LastValidSignatureTS map[string]string `json:"last_valid_signature_ts"`
}

// security counts security events per minute over the last day.
type security struct {
	mu      sync.Mutex
	minutes map[int64]map[string]int64 // unix minute → reason → count
	lastSig map[string]time.Time       // module → last valid signature
}

func newSecurity() *security {
	return &security{minutes: map[int64]map[string]int64{}, lastSig: map[string]time.Time{}}
}

func (s *security) add(reason string, at time.Time) {
	m := at.Unix() / 60
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.minutes[m] == nil {
		s.minutes[m] = map[string]int64{}
		for k := range s.minutes { // at most one pass a minute
			if k <= m-24*60 {
				delete(s.minutes, k)
			}
		}
	}
	s.minutes[m][reason]++
}

func (s *security) figures(now time.Time) SecurityFigures {
	from := now.Unix()/60 - 24*60
	sum := map[string]int64{}
	s.mu.Lock()
	for m, c := range s.minutes {
		if m > from {
			for r, n := range c {
				sum[r] += n
			}
		}
	}
	mods := make([]string, 0, len(s.lastSig))
	for mod := range s.lastSig {
		mods = append(mods, mod)
	}
	sort.Strings(mods)
	last := make(map[string]string, len(mods))
	for _, mod := range mods {
		last[mod] = bridge.FormatTime(s.lastSig[mod])
	}
	s.mu.Unlock()
	return SecurityFigures{AuthFailures24h: sum[SecAuthFailure], Forbidden24h: sum[SecForbidden], CrossSite24h: sum[SecCrossSite],
		HostRefused24h: sum[SecHostRefused], RateLimited24h: sum[SecRateLimited], SignatureRejects24h: sum[SecSignatureReject],
		ReplayRejects24h: sum[SecReplay], LastValidSignatureTS: last}
}

// Security counts one security event (one of the Sec* reasons).
func (h *Hub) Security(reason string) {
	if h == nil {
		return
	}
	h.security.add(reason, h.cfg.Now())
	h.metrics.security.WithLabelValues(reason).Inc()
}

// SignatureValid records that module sent a validly signed request at at.
func (h *Hub) SignatureValid(module string, at time.Time) {
	if h == nil {
		return
	}
	h.security.mu.Lock()
	if at.After(h.security.lastSig[module]) {
		h.security.lastSig[module] = at
	}
	h.security.mu.Unlock()
}
