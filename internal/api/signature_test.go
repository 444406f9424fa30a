package api_test

import (
	"net/http"
	"strconv"
	"strings"
	"testing"
	"time"

	"corebridge/internal/api"
	"corebridge/internal/auth"
	"corebridge/internal/webhook"
)

// signedFixture: "signer" (bearer "cbt_signer") must sign with oldSecret
// or newSecret (both configured: a rotation under way); "lax" (bearer
// "cbt_lax") has oldSecret but require_signature: false.
func signedFixture(t *testing.T) (f *fixture, oldS, newS webhook.Secret) {
	t.Helper()
	oldStr, newStr := webhook.NewSecret(), webhook.NewSecret()
	var err error
	if oldS, err = webhook.ParseSecret(oldStr); err != nil {
		t.Fatal(err)
	}
	if newS, err = webhook.ParseSecret(newStr); err != nil {
		t.Fatal(err)
	}
	no := false
	toks := auth.NewTokens([]auth.Entry{
		{Name: "signer", Role: auth.RoleProducer, Modules: []string{"*"}, Hash: auth.HashSecret("cbt_signer"), SigningSecrets: []string{oldStr, newStr}},
		{Name: "lax", Role: auth.RoleProducer, Modules: []string{"*"}, Hash: auth.HashSecret("cbt_lax"), SigningSecrets: []string{oldStr}, RequireSignature: &no},
		{Name: "plain", Role: auth.RoleProducer, Modules: []string{"*"}, Hash: auth.HashSecret("cbt_plain")},
	})
	f = newFixtureWith(t, setup{api: api.Config{Auth: toks, OpenMetrics: true, SignatureTolerance: 5 * time.Minute}})
	return f, oldS, newS
}

// signedHeaders are the bearer and the three webhook headers for body sent
// as id at ts, signed by sig (the whole header value).
func signedHeaders(bearer, id string, ts time.Time, sig string) []string {
	h := []string{"Authorization", "Bearer " + bearer}
	if id != "" {
		h = append(h, "webhook-id", id)
	}
	if !ts.IsZero() {
		h = append(h, "webhook-timestamp", strconv.FormatInt(ts.Unix(), 10))
	}
	if sig != "" {
		h = append(h, "webhook-signature", sig)
	}
	return h
}

func metric(t *testing.T, f *fixture, line string) bool {
	t.Helper()
	r := f.do(t, "GET", "/metrics", "")
	r.want(t, http.StatusOK)
	return strings.Contains(string(r.body), line)
}

// The must-holds of issue 13, point 3, on both ingest routes.
func TestSignedRequests(t *testing.T) {
	for _, route := range []struct{ path, body string }{
		{"/core/update", `{"module":"education","data":{"a":1}}`},
		{"/core/updates", `[{"module":"education","data":{"a":1}},{"module":"education","data":{"b":2}}]`},
	} {
		t.Run(route.path, func(t *testing.T) {
			f, oldS, newS := signedFixture(t)
			other, _ := webhook.ParseSecret(webhook.NewSecret())
			now := f.clock.Now()
			body := route.body
			n := int64(strings.Count(body, `"module"`))
			changed := strings.Replace(body, `"a":1`, `"a":2`, 1)
			refused := []struct {
				name, body string
				hdr        []string
				reason     string
			}{
				{"wrong secret", body, signedHeaders("cbt_signer", "msg_a", now, webhook.Sign("msg_a", now, []byte(body), other)), "no signature matches"},
				{"missing signature", body, signedHeaders("cbt_signer", "", time.Time{}, ""), "required"},
				{"missing signature header only", body, signedHeaders("cbt_signer", "msg_a", now, ""), "required"},
				{"6 minutes old", body, signedHeaders("cbt_signer", "msg_a", now.Add(-6*time.Minute), webhook.Sign("msg_a", now.Add(-6*time.Minute), []byte(body), oldS)), "too old"},
				{"6 minutes ahead", body, signedHeaders("cbt_signer", "msg_a", now.Add(6*time.Minute), webhook.Sign("msg_a", now.Add(6*time.Minute), []byte(body), oldS)), "future"},
				{"body changed by one byte", changed, signedHeaders("cbt_signer", "msg_a", now, webhook.Sign("msg_a", now, []byte(body), oldS)), "no signature matches"},
				{"malformed", body, signedHeaders("cbt_signer", "msg_a", now, "v1,xyz"), "malformed"},
				{"lax token, bad signature sent", body, signedHeaders("cbt_lax", "msg_a", now, webhook.Sign("msg_a", now, []byte(body), other)), "no signature matches"},
			}
			for _, tc := range refused {
				r := f.do(t, "POST", route.path, tc.body, tc.hdr...)
				if r.code != http.StatusUnauthorized || !strings.Contains(string(r.body), tc.reason) {
					t.Errorf("%s: %d %s, want 401 naming %q", tc.name, r.code, r.body, tc.reason)
				}
				if strings.Contains(string(r.body), "whsec_") {
					t.Errorf("%s: the answer mentions a secret: %s", tc.name, r.body)
				}
			}
			if st := f.stats(t); st.Received != 0 {
				t.Fatalf("%d records stored after refused requests", st.Received)
			}
			if !metric(t, f, `corebridge_signature_failures_total{reason="too_old"} 1`) || !metric(t, f, `corebridge_signature_failures_total{reason="no_match"} 3`) {
				t.Error("signature failures not counted by reason")
			}

			// A valid signature is accepted.
			valid := signedHeaders("cbt_signer", "msg_1", now, webhook.Sign("msg_1", now, []byte(body), oldS))
			f.do(t, "POST", route.path, body, valid...).want(t, http.StatusOK)
			if st := f.stats(t); st.Received != n {
				t.Fatalf("%d records stored, want %d", st.Received, n)
			}
			// Its replay within the window stores nothing new, answers
			// duplicate and is counted.
			f.clock.Set(now.Add(4 * time.Minute))
			r := f.do(t, "POST", route.path, body, valid...)
			r.want(t, http.StatusOK)
			if !strings.Contains(string(r.body), `"duplicate":true`) {
				t.Errorf("replay not answered duplicate: %s", r.body)
			}
			if st := f.stats(t); st.Received != n {
				t.Fatalf("replay stored: %d records, want %d", st.Received, n)
			}
			if !metric(t, f, "corebridge_signature_replays_total 1") {
				t.Error("replay not counted")
			}
			// Past the window, the replay is refused outright.
			f.clock.Set(now.Add(6 * time.Minute))
			f.do(t, "POST", route.path, body, valid...).want(t, http.StatusUnauthorized)
			f.clock.Set(now)

			// Rotation: signed with the old and the new secret, accepted
			// while both are configured; with the new one alone too.
			rot := signedHeaders("cbt_signer", "msg_2", now, webhook.Sign("msg_2", now, []byte(body), oldS, newS))
			f.do(t, "POST", route.path, body, rot...).want(t, http.StatusOK)
			fresh := signedHeaders("cbt_signer", "msg_3", now, webhook.Sign("msg_3", now, []byte(body), newS))
			f.do(t, "POST", route.path, body, fresh...).want(t, http.StatusOK)
			if st := f.stats(t); st.Received != 3*n {
				t.Fatalf("%d records stored, want %d", st.Received, 3*n)
			}
			// A token with a key but require_signature: false may send
			// unsigned; one with no key is not asked for a signature.
			f.do(t, "POST", route.path, body, "Authorization", "Bearer cbt_lax").want(t, http.StatusOK)
			f.do(t, "POST", route.path, body, "Authorization", "Bearer cbt_plain", "webhook-signature", "v1,garbage").want(t, http.StatusOK)
		})
	}
}

// A producer's own Idempotency-Key wins over the webhook-id: two signed
// requests (two ids) carrying one key store one record.
func TestSignedRequestOwnKeyWins(t *testing.T) {
	f, oldS, _ := signedFixture(t)
	now := f.clock.Now()
	body := `{"module":"education","data":{"a":1}}`
	for _, id := range []string{"msg_x", "msg_y"} {
		h := append(signedHeaders("cbt_signer", id, now, webhook.Sign(id, now, []byte(body), oldS)), "Idempotency-Key", "k1")
		f.do(t, "POST", "/core/update", body, h...).want(t, http.StatusOK)
	}
	if st := f.stats(t); st.Received != 1 {
		t.Fatalf("%d records, want 1", st.Received)
	}
}
