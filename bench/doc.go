// Package bench compares github.com/golibsql/libsql with the other Go SQLite
// drivers — modernc.org/sqlite, github.com/mattn/go-sqlite3 (cgo) and
// github.com/ncruces/go-sqlite3 — through database/sql, on the same
// workloads with the same settings. It is a module of its own, so that the
// library does not depend on the drivers it is compared with (nor on cgo).
//
// Run the comparison from the repository root with
//
//	make bench
//
// which runs cmd/runbench: every workload for every driver, drivers
// interleaved, 5 rounds by default, and writes results/results.md (a table of
// medians and each driver's ratio to modernc.org/sqlite measured in the
// same round, with the machine described) and results/chart.svg.
//
// Both mattn's and ncruces' drivers register the database/sql name
// "sqlite3", and a second registration panics; ncruces' is renamed at
// build time, so every binary of this module that links both (the runner,
// the tests) must be built with
//
//	-ldflags '-X github.com/ncruces/go-sqlite3/driver.driverName=ncruces'
//
// as the Makefile does. See Workloads for what is measured and Drivers for
// the settings each driver runs with.
package bench
