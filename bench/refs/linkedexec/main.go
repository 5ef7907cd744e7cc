// Command linkedexec is a yardstick for the bench, not a product: it links
// every package secret-init links (so the Go runtime and all their package
// inits run), then execs its arguments and does nothing else. secret-init's
// start minus this one's is what secret-init's own main costs: flag
// parsing, logging set-up, .env, signals and the hand-over.
package main

import (
	"os"
	"syscall"

	_ "github.com/alecthomas/kong"
	_ "github.com/rs/zerolog"
	_ "golang.org/x/sys/unix"

	_ "secret-init/contracts"
	_ "secret-init/launcher"
	_ "secret-init/resolve"
	_ "secret-init/signals"
)

func main() {
	if len(os.Args) < 2 {
		os.Exit(125)
	}
	// An absolute path is expected: no PATH lookup, as in the other refs.
	_ = syscall.Exec(os.Args[1], os.Args[1:], os.Environ())
	os.Exit(127)
}
