# make demo   run the demo on a temporary database
# make test   everything CI checks (see .ci/run)
# make bench  benchmarks against modernc.org/sqlite, compared with benchstat
# make soak   the long-running variants of the tests
# make lint   gofmt and go vet

GO        ?= go
# Tests run under the race detector: the concurrency tests, on small data
# (the detector makes the transpiled engine ~70x slower).
RACE_RUN  ?= Concurrent|Race
COUNT     ?= 6
BENCH     ?= .
BENCHTIME ?= 1s
BENCHSTAT ?= $(GO) run golang.org/x/perf/cmd/benchstat@latest

.PHONY: demo test lint fmt-check vet unit race cross bench-smoke bench soak

demo:
	$(GO) run ./cmd/libsql demo

test: lint unit race cross bench-smoke

lint: fmt-check vet

fmt-check:
	@out=$$(gofmt -l .); if [ -n "$$out" ]; then echo "gofmt -l reports:"; echo "$$out"; exit 1; fi

vet:
	$(GO) vet ./...

unit:
	$(GO) test ./...

race:
	$(GO) test -race -count=1 -run '$(RACE_RUN)' ./...

# The library must build without cgo on the other supported systems.
cross:
	CGO_ENABLED=0 GOOS=darwin $(GO) build ./...
	CGO_ENABLED=0 GOOS=windows $(GO) build ./...

# Every benchmark once, so they keep compiling and running.
bench-smoke:
	$(GO) test -run '^$$' -bench . -benchtime=1x ./...

# The drivers run in alternation, COUNT rounds of one run each, so that load
# from other work on the machine falls on both alike; benchstat compares
# them column by column.
bench:
	$(GO) test -c -o bench/bench.test ./bench
	rm -f bench.out
	for i in $$(seq $(COUNT)); do \
		(cd bench && ./bench.test -test.run '^$$' -test.bench '$(BENCH)' -test.benchtime $(BENCHTIME) -test.benchmem -test.count 1 -test.timeout 60m) | tee -a bench.out || exit 1; \
	done
	$(BENCHSTAT) -col /driver bench.out

soak:
	LIBSQL_SOAK=1 $(GO) test -count=1 -timeout 60m ./...
