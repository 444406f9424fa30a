package client_test

import (
	"context"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"corebridge/client"
	"corebridge/internal/webhook"
)

func TestWithSigningSecret(t *testing.T) {
	oldStr, newStr := webhook.NewSecret(), webhook.NewSecret()
	oldS, _ := webhook.ParseSecret(oldStr)
	newS, _ := webhook.ParseSecret(newStr)
	var ids []string
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		body, _ := io.ReadAll(r.Body)
		for _, k := range []webhook.Secret{oldS, newS} {
			if err := webhook.VerifyHeader(r.Header, body, webhook.Keys{Secrets: []webhook.Secret{k}}, time.Minute, time.Now()); err != nil {
				t.Errorf("not signed with every secret: %v", err)
			}
		}
		ids = append(ids, r.Header.Get(webhook.HeaderID))
		_, _ = io.WriteString(w, `{"status":"success"}`)
	}))
	defer srv.Close()
	c := client.New(srv.URL, client.WithSigningSecret(oldStr), client.WithSigningSecret(newStr))
	for range 2 {
		if _, err := c.Update(context.Background(), client.UpdateRequest{Module: "m", Data: map[string]any{"a": 1}}); err != nil {
			t.Fatal(err)
		}
	}
	if len(ids) != 2 || ids[0] == ids[1] {
		t.Errorf("webhook-ids %q: want two different", ids)
	}

	bad := client.New(srv.URL, client.WithSigningSecret("whsec_c2VjcmV0"))
	_, err := bad.Update(context.Background(), client.UpdateRequest{Module: "m", Data: map[string]any{}})
	if err == nil || strings.Contains(err.Error(), "c2VjcmV0") {
		t.Errorf("bad secret: err %v", err)
	}
}
