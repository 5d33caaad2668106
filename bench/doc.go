// Package bench compares this driver with other Go SQLite drivers through
// database/sql, on the same kind of database file with the same pragmas.
// It holds only benchmarks; run them with
//
//	make bench
//
// or go test -run '^$' -bench . -benchmem -count 6 ./bench, and compare the
// drivers with benchstat -col /driver.
package bench
