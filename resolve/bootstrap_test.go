package resolve

import (
	"context"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
)

// TestLoginScrubsUnusedCredentials: in token mode the client secret is
// never sent, yet a server (or a proxy) that answers with it in the
// message must still not put it into secret-init's errors.
func TestLoginScrubsUnusedCredentials(t *testing.T) {
	const unused = "CANARY-unused-client-secret-3b9a"
	const token = "CANARY-token-51c0"
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "application/json")
		w.WriteHeader(http.StatusForbidden)
		w.Write([]byte(`{"reqId":"req-abcdefghijklmn","statusCode":403,"message":"denied for ` + unused + ` and ` + token + `","error":"PermissionDenied"}`))
	}))
	defer srv.Close()
	b := Bootstrap{Addr: srv.URL, ProjectID: "p", Environment: "dev", Token: token, ClientSecret: unused}
	c, err := b.Client(context.Background(), "", nil)
	if err != nil {
		t.Fatal(err)
	}
	if err := b.Login(context.Background(), c); err != nil {
		t.Fatalf("token login sends nothing, so cannot fail: %v", err)
	}
	_, err = c.ListSecrets(context.Background(), "/shared/db")
	if err == nil {
		t.Fatal("want the 403")
	}
	if strings.Contains(err.Error(), unused) || strings.Contains(err.Error(), token) {
		t.Errorf("error carries a credential: %v", err)
	}
	if !strings.Contains(err.Error(), "403") {
		t.Errorf("error lost the status: %v", err)
	}
}
