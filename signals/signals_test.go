package signals

import (
	"os"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"
)

func TestSignalNames(t *testing.T) {
	for _, tc := range []struct {
		sig  syscall.Signal
		name string
	}{
		{syscall.SIGHUP, "HUP"}, {syscall.SIGTERM, "TERM"}, {syscall.SIGWINCH, "WINCH"},
		{syscall.SIGSYS, "SYS"}, {0, "0"}, {32, "32"}, {33, "33"}, {65, "65"},
		{34, "RTMIN"}, {35, "RTMIN+1"}, {49, "RTMIN+15"}, {50, "RTMAX-14"}, {63, "RTMAX-1"}, {64, "RTMAX"},
	} {
		if got := Name(tc.sig); got != tc.name {
			t.Errorf("Name(%d) = %q, want %q", tc.sig, got, tc.name)
		}
	}
	// Every signal but the C library's two has a name that Parse reads back.
	for n := syscall.Signal(1); n <= rtMax; n++ {
		if n == 32 || n == 33 {
			continue
		}
		if got, err := Parse(Name(n)); err != nil || got != n {
			t.Errorf("Parse(Name(%d)) = %d, %v", n, got, err)
		}
	}
}

func TestSignalParse(t *testing.T) {
	good := map[string]syscall.Signal{
		"TERM": 15, "SIGTERM": 15, "term": 15, "SigTerm": 15, "15": 15,
		"1": 1, "31": 31, "IOT": 6, "SIGPOLL": 29, "winch": 28,
		"40": 40, "64": 64, "RTMIN": 34, "SIGRTMIN": 34, "rtmin+6": 40,
		"RTMIN+30": 64, "RTMAX": 64, "RTMAX-2": 62, "SIGRTMAX-30": 34, "RTMIN+0": 34,
	}
	for in, want := range good {
		if got, err := Parse(in); err != nil || got != want {
			t.Errorf("Parse(%q) = %d, %v; want %d", in, got, err, want)
		}
	}
	for _, in := range []string{"", "0", "32", "33", "65", "-1", "+15", "15x", "SIG", "herp", " TERM", "0x0f",
		"RTMIN+31", "RTMAX-31", "RTMIN-1", "RTMAX+1", "RTMIN+", "RTMIN+-1", "RTMIN++1", "RTMIN1", "RTMAX 2", "RTMIN+1x"} {
		if got, err := Parse(in); err == nil {
			t.Errorf("Parse(%q) = %d, want an error", in, got)
		}
	}
}

func TestSignalParseRewrite(t *testing.T) {
	for _, tc := range []struct {
		specs []string
		want  Rewrite
	}{
		{nil, Rewrite{}},
		{[]string{"TERM:QUIT"}, Rewrite{15: 3}},
		{[]string{"15:3"}, Rewrite{15: 3}},
		{[]string{"SIGTERM:SIGQUIT"}, Rewrite{15: 3}},
		{[]string{"INT:0"}, Rewrite{2: 0}},
		{[]string{"1:31"}, Rewrite{1: 31}},           // to the last standard signal
		{[]string{"31:1"}, Rewrite{31: 1}},           // SYS, forwarded like every kill
		{[]string{"SEGV:TERM"}, Rewrite{11: 15}},     // so are the faults
		{[]string{"64:1"}, Rewrite{64: 1}},           // the last realtime signal
		{[]string{"RTMIN+1:RTMAX"}, Rewrite{35: 64}}, // by name
		{[]string{"40:0"}, Rewrite{40: 0}},
		{[]string{"TERM:RTMIN"}, Rewrite{15: 34}},           // TO may be one that is never forwarded
		{[]string{"TERM:QUIT,INT:0"}, Rewrite{15: 3, 2: 0}}, // a flag's value is a comma list too
		{[]string{"TERM:KILL"}, Rewrite{15: 9}},             // TO may be uncatchable
		{[]string{" TERM : QUIT "}, Rewrite{15: 3}},         // a comma list from env may carry spaces
		{[]string{"TERM:QUIT", "INT:0", "winch:0"}, Rewrite{15: 3, 2: 0, 28: 0}},
	} {
		got, err := ParseRewrite(tc.specs)
		if err != nil {
			t.Errorf("ParseRewrite(%q): %v", tc.specs, err)
			continue
		}
		if len(got) != len(tc.want) {
			t.Errorf("ParseRewrite(%q) = %v, want %v", tc.specs, got, tc.want)
		}
		for k, v := range tc.want {
			if got[k] != v {
				t.Errorf("ParseRewrite(%q) = %v, want %v", tc.specs, got, tc.want)
			}
		}
	}
}

func TestSignalParseRewriteMalformed(t *testing.T) {
	for _, tc := range []struct {
		specs []string
		why   string
	}{
		{[]string{""}, "empty"},
		{[]string{","}, "two empty rules"},
		{[]string{"TERM:QUIT,"}, "an empty rule after a comma"},
		{[]string{" "}, "blank"},
		{[]string{"herp"}, "no colon"},
		{[]string{"15"}, "no colon"},
		{[]string{"15::12"}, "two colons"},
		{[]string{"15:"}, "no TO"},
		{[]string{":15"}, "no FROM"},
		{[]string{"1:65"}, "there is no signal 65"},
		{[]string{"32:1"}, "32 is the C library's, never forwarded"},
		{[]string{"33:1"}, "33 is the C library's, never forwarded"},
		{[]string{"TERM:32"}, "32 is not for programs"},
		{[]string{"RTMIN:1"}, "34 is never forwarded"},
		{[]string{"0:15"}, "FROM 0"},
		{[]string{"KILL:TERM"}, "KILL can never be caught, the rule could never fire"},
		{[]string{"STOP:TERM"}, "STOP can never be caught"},
		{[]string{"CHLD:TERM"}, "CHLD is secret-init's own"},
		{[]string{"URG:TERM"}, "URG is the Go runtime's"},
		{[]string{"PROF:TERM"}, "PROF never reaches Notify"},
		{[]string{"TTOU:TERM"}, "TTOU is not forwarded"},
		{[]string{"TERM:herp"}, "unknown TO"},
		{[]string{"TERM:-1"}, "negative TO"},
		{[]string{"TERM:QUIT", "15:2"}, "TERM rewritten twice"},
	} {
		r, err := ParseRewrite(tc.specs)
		if err == nil {
			t.Errorf("ParseRewrite(%q) = %v, want an error (%s)", tc.specs, r, tc.why)
			continue
		}
		// The error names the rule (or, for an empty one, the value), so
		// the operator finds it among many.
		bad := tc.specs[len(tc.specs)-1]
		if i := strings.LastIndexByte(bad, ','); i >= 0 && strings.TrimSpace(bad[i+1:]) != "" {
			bad = bad[i+1:]
		}
		if !strings.Contains(err.Error(), `"`+bad+`"`) {
			t.Errorf("ParseRewrite(%q) error %q does not name the spec", tc.specs, err)
		}
	}
}

func TestSignalRewriteApply(t *testing.T) {
	r, err := ParseRewrite([]string{"TERM:QUIT", "INT:0"})
	if err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		in   syscall.Signal
		out  syscall.Signal
		send bool
	}{
		{syscall.SIGTERM, syscall.SIGQUIT, true},
		{syscall.SIGINT, 0, false},
		{syscall.SIGUSR1, syscall.SIGUSR1, true},
	} {
		out, send := r.Apply(tc.in)
		if out != tc.out || send != tc.send {
			t.Errorf("Apply(%s) = %s, %v; want %s, %v", Name(tc.in), Name(out), send, Name(tc.out), tc.send)
		}
	}
	var none Rewrite // nil means no rewrites
	if out, send := none.Apply(syscall.SIGTERM); out != syscall.SIGTERM || !send {
		t.Errorf("nil Rewrite changed TERM to %s, %v", Name(out), send)
	}
}

func TestSignalForwardedList(t *testing.T) {
	kept := map[syscall.Signal]bool{
		syscall.SIGKILL: true, syscall.SIGSTOP: true, syscall.SIGCHLD: true, syscall.SIGURG: true,
		syscall.SIGTTIN: true, syscall.SIGTTOU: true,
		syscall.SIGPROF: true,                        // the Go runtime never hands it to Notify
		32:              true, 33: true, rtMin: true, // the Go runtime's
	}
	for n := syscall.Signal(1); n <= rtMax; n++ {
		if isForwarded(n) == kept[n] {
			t.Errorf("%s: forwarded=%v, want %v", Name(n), isForwarded(n), !kept[n])
		}
	}
	if len(Forwarded) != rtMax-len(kept) {
		t.Errorf("Forwarded has %d entries (duplicates?), want %d", len(Forwarded), rtMax-len(kept))
	}
	// The four that end a start are subscribed first.
	for i, sig := range []syscall.Signal{syscall.SIGTERM, syscall.SIGINT, syscall.SIGHUP, syscall.SIGQUIT} {
		if Forwarded[i] != sig {
			t.Errorf("Forwarded[%d] = %s, want %s", i, Name(Forwarded[i]), Name(sig))
		}
	}
}

// sendSelf delivers sig to this process.
func sendSelf(t *testing.T, sig syscall.Signal) {
	t.Helper()
	if err := syscall.Kill(os.Getpid(), sig); err != nil {
		t.Error(err)
	}
}

// collect takes from Forward until it has seen every signal of want, or
// gives up after a bound far above any delivery time; it returns what it
// took besides pending.
func collect(c *Catcher, pending []syscall.Signal, want ...syscall.Signal) map[syscall.Signal]int {
	got := map[syscall.Signal]int{}
	for _, sig := range pending {
		got[sig]++
	}
	deadline := time.After(10 * time.Second)
	for {
		missing := false
		for _, w := range want {
			missing = missing || got[w] == 0
		}
		if !missing {
			return got
		}
		select {
		case s := <-c.Forward:
			got[s.(syscall.Signal)]++
		case <-deadline:
			return got
		}
	}
}

// TestSignalFaultsAndRealtimeCaught: SEGV and the other fault signals,
// sent with kill, and the realtime signals reach Forward like any other;
// this process survives them.
func TestSignalFaultsAndRealtimeCaught(t *testing.T) {
	c := Catch()
	c.Subscribed()
	for _, sig := range []syscall.Signal{syscall.SIGSEGV, syscall.SIGBUS, syscall.SIGFPE, syscall.SIGILL, syscall.SIGTRAP, syscall.SIGSYS, 35, 40, 64} {
		sendSelf(t, sig)
		if got := collect(c, nil, sig); got[sig] == 0 {
			t.Errorf("%s sent with kill never reached Forward (got %v)", Name(sig), got)
		}
	}
}

// TestSignalStartupQueuesForTheChild: signals other than the four that
// abort are kept for the child, in pending or still in the channel, never
// lost, while work runs and after it returned.
func TestSignalStartupQueuesForTheChild(t *testing.T) {
	c := Catch()
	for round := range 20 {
		// Distinct signals: identical ones may coalesce in the kernel.
		pending, abort := c.Startup(func() {
			sendSelf(t, syscall.SIGUSR1)
			sendSelf(t, syscall.SIGWINCH)
			sendSelf(t, syscall.SIGPWR)
		})
		if abort != 0 {
			t.Fatalf("round %d: abort %s", round, Name(abort))
		}
		got := collect(c, pending, syscall.SIGUSR1, syscall.SIGWINCH, syscall.SIGPWR)
		for _, sig := range []syscall.Signal{syscall.SIGUSR1, syscall.SIGWINCH, syscall.SIGPWR} {
			if got[sig] != 1 {
				t.Fatalf("round %d: %s seen %d times, want once (pending %v)", round, Name(sig), got[sig], pending)
			}
		}
	}
}

// TestSignalStartupAbort: TERM, INT, QUIT and HUP end the start-up at once,
// while work is still running; a signal sent before stays for the child.
func TestSignalStartupAbort(t *testing.T) {
	c := Catch()
	for _, stop := range []syscall.Signal{syscall.SIGTERM, syscall.SIGINT, syscall.SIGQUIT, syscall.SIGHUP} {
		release := make(chan struct{})
		pending, abort := c.Startup(func() {
			sendSelf(t, syscall.SIGUSR2)
			sendSelf(t, stop)
			<-release // work never returns on its own: only the signal ends the wait
		})
		close(release)
		if abort != stop {
			t.Fatalf("abort = %s, want %s", Name(abort), Name(stop))
		}
		if got := collect(c, pending, syscall.SIGUSR2); got[syscall.SIGUSR2] != 1 {
			t.Fatalf("%s: USR2 seen %d times, want once", Name(stop), got[syscall.SIGUSR2])
		}
	}
}

func FuzzParseRewrite(f *testing.F) {
	for _, s := range []string{"TERM:QUIT", "15:3", "SIGTERM:SIGQUIT", "INT:0", "1:31", "31:1", "", "herp", "15", "15::12", "1:32", "KILL:TERM",
		"RTMIN+1:RTMAX-1", "40:0", "TERM:QUIT,INT:0", ",", "TERM:QUIT,"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, spec string) {
		r, err := ParseRewrite([]string{spec})
		rules := strings.Split(spec, ",")
		if err != nil {
			named := strings.Contains(err.Error(), strconv.Quote(spec))
			for _, rule := range rules {
				named = named || strings.Contains(err.Error(), strconv.Quote(rule))
			}
			if !named {
				t.Fatalf("error %q names neither the value %q nor one of its rules", err, spec)
			}
			return
		}
		if len(r) != len(rules) {
			t.Fatalf("%d rules gave %d", len(rules), len(r))
		}
		for from, to := range r {
			if !isForwarded(from) {
				t.Fatalf("%q: rule for %s, which is never forwarded", spec, Name(from))
			}
			if to < 0 || to > rtMax {
				t.Fatalf("%q: TO %d out of range", spec, to)
			}
			// A valid spec reads back the same through names.
			again, err := ParseRewrite([]string{Name(from) + ":" + Name(to)})
			if to == 0 {
				again, err = ParseRewrite([]string{Name(from) + ":0"})
			}
			if err != nil || again[from] != to {
				t.Fatalf("%q: round trip gave %v, %v", spec, again, err)
			}
		}
	})
}
