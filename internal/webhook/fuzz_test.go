package webhook_test

import (
	"errors"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"corebridge/internal/webhook"
)

// FuzzParseSignatureHeader: any header value parses to at most
// MaxSignatures known signatures of the right sizes, or ErrMalformed; it
// never panics.
func FuzzParseSignatureHeader(f *testing.F) {
	for _, s := range []string{"", "v1,g0hM9SsE+OTPJTGt/tmIKtSyZlE3uFJELVlNIOLJ1OE=", "v1,a v1a,b", "v2,x  v1,", ",", "v1a," + string(make([]byte, 88))} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, v string) {
		sigs, err := webhook.ParseSignatureHeader(v)
		if err != nil {
			if !errors.Is(err, webhook.ErrMalformed) {
				t.Fatalf("error %v is not ErrMalformed", err)
			}
			return
		}
		if len(sigs) == 0 || len(sigs) > webhook.MaxSignatures {
			t.Fatalf("%d signatures", len(sigs))
		}
		for _, s := range sigs {
			if s.Version == "v1" && len(s.Sig) != 32 || s.Version == "v1a" && len(s.Sig) != 64 || s.Version != "v1" && s.Version != "v1a" {
				t.Fatalf("signature %s of %d bytes", s.Version, len(s.Sig))
			}
		}
	})
}

// FuzzVerify: no header values, body or change of a signed request make
// Verify accept what the key did not sign, or panic.
func FuzzVerify(f *testing.F) {
	sec, err := webhook.ParseSecret("whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw")
	if err != nil {
		f.Fatal(err)
	}
	keys := webhook.Keys{Secrets: []webhook.Secret{sec}}
	now := time.Unix(1614265330, 0)
	f.Add("msg_1", "1614265330", "v1,g0hM9SsE+OTPJTGt/tmIKtSyZlE3uFJELVlNIOLJ1OE=", []byte(`{"test": 2432232314}`))
	f.Add("msg_p5jXN8AQM9LWM0D4loKWxJek", "1614265330", "v1,g0hM9SsE+OTPJTGt/tmIKtSyZlE3uFJELVlNIOLJ1OE=", []byte(`{"test": 2432232314}`))
	f.Fuzz(func(t *testing.T, id, ts, sig string, body []byte) {
		err := webhook.Verify(id, ts, sig, body, keys, 5*time.Minute, now)
		if err != nil {
			return
		}
		// Accepted: it must be what the key signs for these values.
		n, perr := strconv.ParseInt(ts, 10, 64)
		if perr != nil {
			t.Fatalf("accepted timestamp %q", ts)
		}
		if want := webhook.Sign(id, time.Unix(n, 0), body, sec); !containsField(sig, want) {
			t.Fatalf("accepted %q for id %q ts %q; the key signs %q", sig, id, ts, want)
		}
	})
}

func containsField(s, f string) bool { return slices.Contains(strings.Fields(s), f) }
