package libsql_test

import (
	"fmt"
	"log"
	"time"

	"github.com/golibsql/libsql"
)

// Report the application's statements as they end, with the rows they
// returned; a real tracer would log those slower than a threshold.
func ExampleWithTrace() {
	db, err := libsql.Open(":memory:", libsql.WithTrace(libsql.TraceProfile|libsql.TraceExpandSQL, func(e libsql.TraceEvent) {
		if !e.Driver && e.Duration < time.Minute {
			fmt.Printf("%s: %d rows, err %v\n", e.SQL, e.Rows, e.Err)
		}
	}))
	if err != nil {
		log.Fatal(err)
	}
	defer db.Close()
	if _, err := db.Exec("CREATE TABLE t(x)"); err != nil {
		log.Fatal(err)
	}
	if _, err := db.Exec("INSERT INTO t VALUES (?), (?)", 1, "two"); err != nil {
		log.Fatal(err)
	}
	var n int
	if err := db.QueryRow("SELECT count(*) FROM t WHERE x > ?", 0).Scan(&n); err != nil {
		log.Fatal(err)
	}
	// Output:
	// CREATE TABLE t(x): 0 rows, err <nil>
	// INSERT INTO t VALUES (1), ('two'): 0 rows, err <nil>
	// SELECT count(*) FROM t WHERE x > 0: 1 rows, err <nil>
}
