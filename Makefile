# engage — build, test, run, bench, lint. See README.md.
GO        ?= go
BIN       ?= bin/engage
DEMO      ?= demo
ACCOUNTS  ?= 20000
DAYS      ?= 90
SEED      ?= 1
ADDR      ?= 127.0.0.1:8080
export CGO_ENABLED ?= 0

.PHONY: all build test run bench lint demo clean

all: build

## build: the single engage binary, without cgo
build:
	$(GO) build -o $(BIN) ./cmd/engage

## test: every package's tests (slow cross-checks run with ENGAGE_SLOW=1)
test:
	$(GO) vet ./...
	CGO_ENABLED=1 $(GO) test -count=1 -timeout 30m ./...

## run: the main job end to end on the embedded default
run: build
	bash scripts/run-demo.sh $(BIN) $(DEMO) $(ACCOUNTS) $(DAYS) $(SEED) $(ADDR)

## bench: benchmarks and cross-checks; prints a table and writes bench/results/
bench: build
	bash bench/run.sh

## lint: formatting and vet
lint:
	@out=$$(gofmt -l $$(git ls-files '*.go')); if [ -n "$$out" ]; then echo "gofmt needed:"; echo "$$out"; exit 1; fi
	$(GO) vet ./...

clean:
	rm -rf bin $(DEMO)
