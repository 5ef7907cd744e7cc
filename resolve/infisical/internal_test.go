package infisical

import (
	"context"
	"net/http"
	"testing"
	"time"
)

func TestAPIBase(t *testing.T) {
	tests := []struct {
		in, want string
		wantErr  bool
	}{
		{in: "http://127.0.0.1:8080", want: "http://127.0.0.1:8080/api"},
		{in: "http://127.0.0.1:8080/", want: "http://127.0.0.1:8080/api"},
		{in: "https://app.infisical.com/api", want: "https://app.infisical.com/api"},
		{in: "https://example.com/infisical/api/", want: "https://example.com/infisical/api"},
		{in: " https://example.com/infisical ", want: "https://example.com/infisical/api"},
		{in: "", wantErr: true},
		{in: "ftp://example.com", wantErr: true},
		{in: "127.0.0.1:8080", wantErr: true},
		{in: "https://user:pw@example.com", wantErr: true},
	}
	for _, tt := range tests {
		got, err := apiBase(tt.in)
		if (err != nil) != tt.wantErr || got != tt.want {
			t.Errorf("apiBase(%q) = %q, %v; want %q, err=%v", tt.in, got, err, tt.want, tt.wantErr)
		}
	}
}

func TestParseRetryAfter(t *testing.T) {
	now := time.Date(2026, 11, 28, 12, 0, 0, 0, time.UTC)
	tests := []struct {
		in   string
		want time.Duration
	}{
		{"", 0},
		{"1", time.Second},
		{" 7 ", 7 * time.Second},
		{"0", 0},
		{"-3", 0},
		{"soon", 0},
		{now.Add(3 * time.Second).Format(http.TimeFormat), 3 * time.Second},
		{now.Add(-time.Minute).Format(http.TimeFormat), 0},
		{"99999999", 24 * time.Hour},
	}
	for _, tt := range tests {
		if got := parseRetryAfter(tt.in, now); got != tt.want {
			t.Errorf("parseRetryAfter(%q) = %v, want %v", tt.in, got, tt.want)
		}
	}
}

func TestDelay(t *testing.T) {
	p := RetryPolicy{}.withDefaults()
	long, cancel := context.WithTimeout(context.Background(), time.Hour)
	defer cancel()
	short, cancel2 := context.WithTimeout(context.Background(), 500*time.Millisecond)
	defer cancel2()

	tests := []struct {
		name       string
		ctx        context.Context
		attempt    int
		retryAfter time.Duration
		lo, hi     time.Duration
		ok         bool
	}{
		{"first backoff", long, 0, 0, 0, p.Base, true},
		{"third backoff", long, 2, 0, 0, 4 * p.Base, true},
		{"backoff capped", long, 20, 0, 0, p.Max, true},
		{"retry-after with jitter", long, 0, time.Second, time.Second, time.Second + p.RetryAfterJitter, true},
		{"long retry-after, proportional jitter", long, 0, 8 * time.Second, 8 * time.Second, 10 * time.Second, true},
		{"retry-after beyond deadline", short, 0, time.Second, 0, 0, false},
		{"backoff beyond deadline", short, 30, 0, 0, 500 * time.Millisecond, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			// Randomised: sample enough to see the bounds hold.
			oks := 0
			for range 200 {
				d, ok := p.delay(tt.ctx, tt.attempt, tt.retryAfter)
				if ok {
					oks++
					if d < tt.lo || d > tt.hi {
						t.Fatalf("delay = %v, want within [%v, %v]", d, tt.lo, tt.hi)
					}
				}
			}
			if tt.ok && oks != 200 {
				t.Fatalf("delay refused %d of 200 times", 200-oks)
			}
			// Backoff beyond the deadline is random: full jitter may still pick a
			// short wait, but a 2s ceiling against 0.5s left must refuse often.
			if !tt.ok && oks > 150 {
				t.Fatalf("delay accepted %d of 200 waits past the deadline", oks)
			}
			if !tt.ok && tt.retryAfter > 0 && oks != 0 {
				t.Fatalf("Retry-After past the deadline accepted %d times", oks)
			}
		})
	}
}

func TestMessageText(t *testing.T) {
	tests := []struct{ raw, want string }{
		{`"Secret already exist"`, "Secret already exist"},
		{`[{"code":"invalid_type","received":"s3cr3t","path":["body","secretValue"],"message":"Expected number"}]`, "body.secretValue: Expected number"},
		{`{"weird":true}`, ""},
		{``, ""},
	}
	for _, tt := range tests {
		if got := messageText([]byte(tt.raw)); got != tt.want {
			t.Errorf("messageText(%s) = %q, want %q", tt.raw, got, tt.want)
		}
	}
}
