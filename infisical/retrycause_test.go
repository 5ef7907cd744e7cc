package infisical_test

import (
	"net/http"
	"net/http/httptest"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"secret-init/infisical"
)

// TestDeadlineDuringRetryKeepsTheCause: when the deadline cuts a retry
// short, the error is the failure that made it a retry, not the deadline.
func TestDeadlineDuringRetryKeepsTheCause(t *testing.T) {
	var n atomic.Int32
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if n.Add(1) == 1 {
			w.Header().Set("Content-Type", "text/html")
			w.WriteHeader(http.StatusBadGateway)
			w.Write([]byte("<html>bad gateway</html>"))
			return
		}
		<-r.Context().Done() // the retry hangs until the client gives up
	}))
	t.Cleanup(srv.Close)
	c, err := infisical.New(infisical.Config{Addr: srv.URL, ProjectID: "p", Environment: "dev"})
	if err != nil {
		t.Fatal(err)
	}
	c.SetToken("token")
	_, err = c.ListSecrets(ctx(t, 2*time.Second), "/")
	if n.Load() < 2 {
		t.Fatalf("%d requests: the 502 was not retried", n.Load())
	}
	if err == nil || !strings.Contains(err.Error(), "status 502") || !strings.Contains(err.Error(), "the retry got no answer before the deadline") {
		t.Errorf("err = %v, want the 502 and why it stands", err)
	}
}
