package libsql_test

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"time"

	"github.com/golibsql/libsql"
)

func Example() {
	db, err := sql.Open("libsql", ":memory:")
	if err != nil {
		panic(err)
	}
	defer db.Close()
	if _, err := db.Exec(`CREATE TABLE kv(k TEXT PRIMARY KEY, v TEXT);
		INSERT INTO kv VALUES ('hello', 'world')`); err != nil {
		panic(err)
	}
	var v string
	if err := db.QueryRow("SELECT v FROM kv WHERE k = ?", "hello").Scan(&v); err != nil {
		panic(err)
	}
	fmt.Println(v)
	// Output: world
}

func ExampleOpen() {
	db, err := libsql.Open("file:example?mode=memory",
		libsql.WithMaxConns(4), libsql.WithBusyTimeout(2*time.Second), libsql.WithForeignKeys(true))
	if err != nil {
		panic(err)
	}
	defer db.Close()
	var fk int
	db.QueryRow("PRAGMA foreign_keys").Scan(&fk)
	fmt.Println("foreign keys:", fk)
	// Output: foreign keys: 1
}

func ExampleError() {
	db, _ := sql.Open("libsql", ":memory:")
	defer db.Close()
	db.Exec("CREATE TABLE users(email TEXT UNIQUE)")
	db.Exec("INSERT INTO users VALUES ('a@example.com')")
	_, err := db.Exec("INSERT INTO users VALUES ('a@example.com')")

	fmt.Println(errors.Is(err, libsql.ErrConstraint))
	var e *libsql.Error
	if errors.As(err, &e) {
		fmt.Println(e.Code(), e.ExtendedCode())
	}
	fmt.Println(err)
	// Output:
	// true
	// SQLITE_CONSTRAINT SQLITE_CONSTRAINT_UNIQUE
	// libsql: UNIQUE constraint failed: users.email (SQLITE_CONSTRAINT_UNIQUE)
}

func ExampleConnector() {
	c, err := libsql.NewConnector(":memory:", libsql.WithTxLock("immediate"))
	if err != nil {
		panic(err)
	}
	db := sql.OpenDB(c) // closing db closes the connector
	defer db.Close()
	tx, err := db.Begin() // BEGIN IMMEDIATE: the write lock is taken now
	if err != nil {
		panic(err)
	}
	tx.Exec("CREATE TABLE t(x)")
	fmt.Println(tx.Commit())
	// Output: <nil>
}

func Example_contextTimeout() {
	db, _ := sql.Open("libsql", ":memory:")
	defer db.Close()
	ctx, cancel := context.WithTimeout(context.Background(), 50*time.Millisecond)
	defer cancel()
	var n int64
	err := db.QueryRowContext(ctx,
		"WITH RECURSIVE c(x) AS (SELECT 1 UNION ALL SELECT x+1 FROM c) SELECT count(*) FROM c").Scan(&n)
	fmt.Println(errors.Is(err, context.DeadlineExceeded))
	// The pool's connection is still fine.
	fmt.Println(db.QueryRow("SELECT 1").Scan(&n), n)
	// Output:
	// true
	// <nil> 1
}

func ExampleDSNError() {
	_, err := libsql.Open("data.db?busy_timeout=soon")
	fmt.Println(err)
	// Output: libsql: DSN key "busy_timeout": invalid value "soon": not a duration (such as 5s or 250ms) or a number of milliseconds
}

func Example_readOnlyTransaction() {
	db, _ := libsql.Open(":memory:", libsql.WithMaxConns(1))
	defer db.Close()
	db.Exec("CREATE TABLE t(x)")
	tx, _ := db.BeginTx(context.Background(), &sql.TxOptions{ReadOnly: true})
	_, err := tx.Exec("INSERT INTO t VALUES (1)")
	fmt.Println(errors.Is(err, libsql.ErrReadOnly))
	tx.Rollback()
	// Output: true
}
