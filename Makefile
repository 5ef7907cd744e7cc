# The README shows these same commands.
GO       ?= go
VERSION  ?= $(shell git describe --tags --always --dirty 2>/dev/null || echo dev)
LDFLAGS  := -s -w -X main.version=$(VERSION)
BIN      := bin/secret-init
TESTSRV  := bin/infisical-testserver

export CGO_ENABLED := 0

.PHONY: build run test conformance bench lint fuzz clean

build: $(BIN) $(TESTSRV)

$(BIN): FORCE
	$(GO) build -trimpath -ldflags '$(LDFLAGS)' -o $@ .

$(TESTSRV): FORCE
	$(GO) build -trimpath -o $@ ./cmd/infisical-testserver

# Build, start the local Infisical test server with the bundled example,
# and run secret-init against it: `check` shows where each key comes
# from, then the example service prints what it got (values redacted).
# Then the same service from an empty Infisical: provision, seed, start.
run: build
	./testdata/example/run.sh
	@echo
	./testdata/bootstrap/run.sh

# The whole suite: lint, unit tests, fuzz seed corpora, and the end-to-end
# tests of the real binary in e2e/ (as PID 1 in a PID namespace when run as
# root); then the end-to-end tests that talk to Infisical once more with
# --fetch folders (the first pass runs the default, auto). The launcher's
# tests (exit codes, signals, reaping, exec, terminals, a broken stderr)
# fetch nothing.
test: lint
	$(GO) test -count=1 -timeout 10m ./...
	SECRET_INIT_FETCH=folders $(GO) test -count=1 -timeout 10m ./e2e -skip '^Test(Exit|Signal|Startup|Group|Rewrite|Reap|Exec|Pty|BrokenStderr|ChildSignalMask)'

# Our client and test server against the official go-sdk. conformance/ is
# a module of its own (with a replace to this one) because the SDK pulls in
# cloud SDKs that the product and `make test` never need.
conformance:
	cd conformance && $(GO) vet ./...
	cd conformance && $(GO) test -count=1 -timeout 10m ./...

bench: build
	$(GO) run ./bench

# gofmt's list is kept in a variable and printed with echo: writing it to
# /dev/stderr would reopen a redirected log and truncate it.
lint:
	$(GO) vet ./...
	@unformatted="$$(gofmt -l .)"; if [ -n "$$unformatted" ]; then \
		echo "$$unformatted" >&2; echo "gofmt: the files above need formatting" >&2; exit 1; fi

# Longer fuzzing than the seed corpora that `make test` runs.
fuzz:
	$(GO) test ./dotenv/ -run '^$$' -fuzz FuzzParseDotenv -fuzztime 60s
	$(GO) test ./dotenv/ -run '^$$' -fuzz FuzzUpdate -fuzztime 60s
	$(GO) test ./contracts/ -run '^$$' -fuzz FuzzParse -fuzztime 60s
	$(GO) test ./contracts/ -run '^$$' -fuzz FuzzFastPath -fuzztime 60s
	$(GO) test ./signals/ -run '^$$' -fuzz FuzzParseRewrite -fuzztime 60s

clean:
	rm -rf bin

FORCE:
