package e2e

// The order of secret-init's own lines: a person reads the cause first.

import (
	"strings"
	"testing"
)

// TestLoginFailureCauseFirst: when the login fails, the line that says why
// comes before the summary of what the start goes on with; when the
// failure stops the start (--required), it is the one line and no summary
// precedes it.
func TestLoginFailureCauseFirst(t *testing.T) {
	for _, format := range []string{"json", "console"} {
		for _, required := range []bool{false, true} {
			f := newStore(t)
			args := []string{"--log-format", format}
			if required {
				args = append(args, "--required")
			}
			r := f.start([]string{"INFISICAL_CLIENT_SECRET=wrong", "STRIPE_API_KEY=from-env"}, args...)
			lines := strings.Split(strings.TrimSpace(r.Stderr), "\n")
			cause, summary := -1, -1
			for i, l := range lines {
				if strings.Contains(l, "login to Infisical") && strings.Contains(l, "401") && cause < 0 {
					cause = i
				}
				if strings.Contains(l, "prefetch from Infisical") && summary < 0 {
					summary = i
				}
			}
			switch {
			case cause < 0:
				t.Errorf("%s, --required %v: no line gives the cause:\n%s", format, required, r.Stderr)
			case required && summary >= 0 && summary < cause:
				t.Errorf("%s, --required: the summary comes before the cause:\n%s", format, r.Stderr)
			case !required && (summary < 0 || summary < cause):
				t.Errorf("%s: want the cause, then the summary:\n%s", format, r.Stderr)
			}
			if required {
				wantCode(t, r, 125)
			} else {
				wantCode(t, r, 0)
			}
		}
	}
}
