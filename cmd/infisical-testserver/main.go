// Command infisical-testserver runs the in-memory Infisical of package
// infisicaltest on a local port, for demos, end-to-end tests and benchmarks.
// It is a dev tool, not part of secret-init.
//
//	infisical-testserver --listen 127.0.0.1:0 --seed testdata/seed.yaml [--latency 20ms] [--rate-limit 10]
//	    [--rate-window 120] [--no-v3 | --no-v4] [--empty-missing-folders]
//
// The first line on stdout is INFISICAL_ADDR=http://127.0.0.1:PORT, so a
// script can read the bound port. The seed format is documented in package
// infisicaltest. It runs until SIGINT or SIGTERM.
package main

import (
	"flag"
	"fmt"
	"os"
	"os/signal"
	"syscall"
	"time"

	"secret-init/infisical/infisicaltest"
)

func main() {
	if err := run(); err != nil {
		fmt.Fprintln(os.Stderr, "infisical-testserver:", err)
		os.Exit(1)
	}
}

func run() error {
	listen := flag.String("listen", "127.0.0.1:0", "address to listen on; port 0 picks a free one")
	seedFile := flag.String("seed", "", "YAML seed file (format: go doc secret-init/infisicaltest)")
	latency := flag.Duration("latency", 0, "latency added to every answer, e.g. 20ms")
	rate := flag.Float64("rate-limit", 0, "requests per second over all clients; beyond it 429 with Retry-After (0 = unlimited)")
	burst := flag.Int("burst", 0, "token-bucket burst for --rate-limit (default: the rate, at least 1)")
	window := flag.Int("rate-window", 0, "Infisical Cloud's limiter: at most this many requests per caller address per minute (0 = off)")
	noV3 := flag.Bool("no-v3", false, "do not serve the v3 secrets routes, as a future server")
	noV4 := flag.Bool("no-v4", false, "do not serve the v4 secrets routes, as an older server")
	emptyMissing := flag.Bool("empty-missing-folders", false, "answer a list of a missing folder 200 with nothing, as older servers, not 404")
	useTLS := flag.Bool("tls", false, "serve HTTPS with a fresh CA, written to --ca-out")
	caOut := flag.String("ca-out", "", "with --tls: file to write the CA certificate PEM to")
	flag.Parse()

	s := infisicaltest.NewUnstartedServer()
	s.SetLatency(*latency)
	if *rate > 0 {
		b := *burst
		if b <= 0 {
			b = max(1, int(*rate))
		}
		s.RateLimit(*rate, b)
	}
	s.RateLimitWindow(*window, time.Minute)
	s.ServeV3(!*noV3)
	s.ServeV4(!*noV4)
	s.EmptyMissingFolders(*emptyMissing)
	if *seedFile != "" {
		f, err := os.Open(*seedFile)
		if err != nil {
			return err
		}
		seed, err := infisicaltest.LoadSeed(f)
		f.Close()
		if err != nil {
			return fmt.Errorf("%s: %w", *seedFile, err)
		}
		s.ApplySeed(seed)
	}

	if *useTLS {
		if *caOut == "" {
			return fmt.Errorf("--tls needs --ca-out")
		}
		if err := s.StartTLS(*listen); err != nil {
			return err
		}
		if err := os.WriteFile(*caOut, s.CACertPEM(), 0o644); err != nil {
			s.Close()
			return err
		}
	} else if err := s.Start(*listen); err != nil {
		return err
	}
	defer s.Close()

	// Subscribe before announcing the address: whoever reads the address
	// may send TERM at once, and must get a clean stop, not a kill.
	sig := make(chan os.Signal, 1)
	signal.Notify(sig, syscall.SIGINT, syscall.SIGTERM)
	fmt.Printf("INFISICAL_ADDR=%s\n", s.URL)
	fmt.Fprintf(os.Stderr, "infisical-testserver: serving project %s on %s (latency %s)\n", s.ProjectID(), s.URL, *latency)

	got := <-sig
	fmt.Fprintf(os.Stderr, "infisical-testserver: %s after %d requests, stopping\n", got, len(s.Requests()))
	return nil
}
