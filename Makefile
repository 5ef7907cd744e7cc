# The README shows these same commands.
GO       ?= go
VERSION  ?= $(shell git describe --tags --always --dirty 2>/dev/null || echo dev)
LDFLAGS  := -s -w -X main.version=$(VERSION)
BIN      := bin/secret-init
TESTSRV  := bin/infisical-testserver

export CGO_ENABLED := 0

.PHONY: build run test bench lint fuzz clean

build: $(BIN) $(TESTSRV)

$(BIN): FORCE
	$(GO) build -trimpath -ldflags '$(LDFLAGS)' -o $@ .

$(TESTSRV): FORCE
	$(GO) build -trimpath -o $@ ./cmd/infisical-testserver

# Build, start the local Infisical test server with the bundled example,
# and run secret-init against it: `check` shows where each key comes
# from, then the example service prints what it got (values redacted).
run: build
	./testdata/example/run.sh

# The whole suite: unit tests, fuzz seed corpora, and end-to-end tests of
# the real binary (as PID 1 in a PID namespace when run as root).
test:
	$(GO) vet ./...
	@test -z "$$(gofmt -l . | tee /dev/stderr)" || { echo "gofmt: files above need formatting"; exit 1; }
	$(GO) test -count=1 -timeout 10m ./...

bench: build
	$(GO) run ./bench

lint:
	$(GO) vet ./...
	@test -z "$$(gofmt -l . | tee /dev/stderr)"

# Longer fuzzing than the seed corpora that `make test` runs.
fuzz:
	$(GO) test ./resolve/ -run '^$$' -fuzz FuzzParseDotenv -fuzztime 60s
	$(GO) test ./contracts/ -run '^$$' -fuzz FuzzParse -fuzztime 60s
	$(GO) test ./contracts/ -run '^$$' -fuzz FuzzFastPath -fuzztime 60s
	$(GO) test ./signals/ -run '^$$' -fuzz FuzzParseRewrite -fuzztime 60s

clean:
	rm -rf bin

FORCE:
