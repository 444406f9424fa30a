package api_test

import (
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"corebridge/internal/api"
)

// A request over TLS with a verified client certificate and no
// Authorization header is the token entry named by the certificate's
// CommonName; a bearer token, when sent, decides instead; an unknown name
// or an unverified certificate is no credential.
func TestClientCertificateNamesAPrincipal(t *testing.T) {
	f := newFixtureWith(t, setup{api: api.Config{Auth: tableTokens()}})
	do := func(body, cn string, verified bool, authorization string) int {
		req := httptest.NewRequest("POST", "/core/update", strings.NewReader(body))
		req.Header.Set("Content-Type", "application/json")
		if authorization != "" {
			req.Header.Set("Authorization", authorization)
		}
		leaf := &x509.Certificate{Subject: pkix.Name{CommonName: cn}}
		req.TLS = &tls.ConnectionState{PeerCertificates: []*x509.Certificate{leaf}}
		if verified {
			req.TLS.VerifiedChains = [][]*x509.Certificate{{leaf}}
		}
		w := httptest.NewRecorder()
		f.srv.ServeHTTP(w, req)
		return w.Code
	}
	edu, fin := `{"module":"education","data":{}}`, `{"module":"finance","data":{}}`
	for _, c := range []struct {
		name, body, cn string
		verified       bool
		authorization  string
		want           int
	}{
		{"producer by certificate", edu, "producer-edu", true, "", http.StatusOK},
		{"its modules only", fin, "producer-edu", true, "", http.StatusForbidden},
		{"a viewer may not send", edu, "viewer", true, "", http.StatusForbidden},
		{"unknown name", edu, "nobody", true, "", http.StatusUnauthorized},
		{"certificate not verified", edu, "producer-edu", false, "", http.StatusUnauthorized},
		{"the token decides", edu, "producer-edu", true, "Bearer cbt_viewer_secret", http.StatusForbidden},
		{"a bad token is not saved by the certificate", edu, "producer-edu", true, "Bearer cbt_wrong", http.StatusUnauthorized},
	} {
		if got := do(c.body, c.cn, c.verified, c.authorization); got != c.want {
			t.Errorf("%s: %d, want %d", c.name, got, c.want)
		}
	}
	if st := f.stats(t); st.Received != 1 {
		t.Errorf("%d records stored, want the one sent by certificate", st.Received)
	}
}
