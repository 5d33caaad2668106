# make demo   run the demo on a temporary database
# make test   everything CI checks (see .ci/run)
# make bench  every Go SQLite driver compared (the bench/ module): bench/results/
# make soak   the long-running variants of the tests
# make lint   gofmt and go vet

GO        ?= go
# Tests run under the race detector: the concurrency tests, on small data
# (the detector makes the transpiled engine ~70x slower).
RACE_RUN  ?= Concurrent|Race|Pool|WriterLock
# Fuzz targets (package:Target); make test runs each for FUZZTIME, make
# soak for SOAK_FUZZTIME. make test counts executions rather than time: Go
# 1.26's fuzz coordinator can fail a target with "context deadline
# exceeded" when a -fuzztime duration ends while a worker is busy
# (golang/go#75804, fixed in Go 1.27), which made CI fail without a failing
# input; a count has no deadline to race.
FUZZ      ?= ./iouring_vfs/wal:FuzzRecover ./changefeed:FuzzDecodeTx .:FuzzParseDSN
FUZZTIME  ?= 50000x
SOAK_FUZZTIME ?= 5m
COUNT     ?= 6
BENCH     ?= .
BENCHTIME ?= 1s
BENCHSTAT ?= $(GO) run golang.org/x/perf/cmd/benchstat@latest
# mattn's and ncruces' drivers both register "sqlite3": ncruces' is renamed.
BENCH_LDFLAGS ?= -X github.com/ncruces/go-sqlite3/driver.driverName=ncruces
# Flags for bench/cmd/runbench, e.g. BENCH_ARGS='-rounds 7 -duration 3s'.
BENCH_ARGS ?=

.PHONY: demo test lint fmt-check vet unit race fuzz cross bench-smoke bench-build bench bench-test bench-driver bench-pool bench-engine soak

demo:
	$(GO) run ./cmd/libsql demo

test: lint unit race fuzz cross bench-smoke bench-build

lint: fmt-check vet

fmt-check:
	@out=$$(gofmt -l .); if [ -n "$$out" ]; then echo "gofmt -l reports:"; echo "$$out"; exit 1; fi

vet:
	$(GO) vet ./...

unit:
	$(GO) test ./...

race:
	$(GO) test -race -count=1 -run '$(RACE_RUN)' ./...

# A short run of every fuzz target (the seed corpora run in unit too).
fuzz:
	@for t in $(FUZZ); do \
		pkg=$${t%%:*}; name=$${t##*:}; \
		echo "fuzz $$name ($$pkg) for $(FUZZTIME)"; \
		$(GO) test -run '^$$' -fuzz "^$$name$$" -fuzztime $(FUZZTIME) $$pkg || exit 1; \
	done

# The library must build without cgo on the other supported systems.
cross:
	CGO_ENABLED=0 GOOS=darwin $(GO) build ./...
	CGO_ENABLED=0 GOOS=windows $(GO) build ./...

# Every benchmark once, so they keep compiling and running.
bench-smoke:
	$(GO) test -run '^$$' -bench . -benchtime=1x ./...

# The comparison module (its own go.mod; cgo for mattn's driver) builds and
# vets; make test does not run its benchmarks.
bench-build:
	cd bench && CGO_ENABLED=1 $(GO) build -ldflags '$(BENCH_LDFLAGS)' ./...
	cd bench && CGO_ENABLED=1 $(GO) vet ./...

# Every workload for every driver, drivers interleaved, median of 5 rounds
# (6-7 minutes on a 2-core machine, plus the first cgo build of mattn's
# driver): writes bench/results/results.md, chart.svg and results.json.
bench:
	cd bench && CGO_ENABLED=1 $(GO) run -ldflags '$(BENCH_LDFLAGS)' ./cmd/runbench $(BENCH_ARGS)

# The comparison module's tests: every workload for every driver, briefly.
bench-test:
	cd bench && CGO_ENABLED=1 $(GO) test -count=1 -ldflags '$(BENCH_LDFLAGS)' ./...

# This driver against modernc.org/sqlite's through database/sql (go test
# benchmarks of the root package), COUNT alternating rounds, benchstat by
# driver.
bench-driver:
	$(GO) test -c -o libsql.test .
	rm -f bench-driver.out
	for i in $$(seq $(COUNT)); do \
		./libsql.test -test.run '^$$' -test.bench 'PointSelect|BulkInsert|FullScan|BlobRead|Open' -test.benchtime $(BENCHTIME) -test.benchmem -test.count 1 -test.timeout 60m | tee -a bench-driver.out || exit 1; \
	done
	$(BENCHSTAT) -col /driver bench-driver.out

# The pool and native connections against database/sql on the same work
# (point select, 10-row transactions), benchstat by API.
bench-pool:
	$(GO) test -run '^$$' -bench '$(BENCH)' -benchtime $(BENCHTIME) -benchmem -count $(COUNT) ./pool | tee bench-pool.out
	$(BENCHSTAT) -col /api bench-pool.out

# The engine's concurrency and change-capture benchmarks against
# modernc.org/sqlite's stock WAL (commits/s, tx/s, latency percentiles,
# conflicts, rebases), COUNT rounds.
bench-engine:
	$(GO) test -run '^$$' -bench 'Writers|ConcurrentTx|ReadersWriter|CDC' -benchtime $(BENCHTIME) -count $(COUNT) -timeout 60m . | tee bench-engine.out

# Long runs: the crash tests with 500 kills, 10 crash-matrix seeds, 5000
# random crashes, longer concurrency runs, and every fuzz target for
# SOAK_FUZZTIME.
soak:
	LIBSQL_SOAK=1 $(GO) test -count=1 -timeout 120m ./...
	$(MAKE) fuzz FUZZTIME=$(SOAK_FUZZTIME)
	$(GO) test -run '^$$' -fuzz '^FuzzDifferential$$' -fuzztime $(SOAK_FUZZTIME) -fuzzminimizetime 10x .
