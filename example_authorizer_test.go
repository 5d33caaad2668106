package libsql_test

import (
	"context"
	"errors"
	"fmt"
	"log"

	"github.com/golibsql/libsql"
)

// Run SQL from an untrusted source with an authorizer that allows reads
// only, and hides one column.
func ExampleWithAuthorizer() {
	db, err := libsql.Open(":memory:", libsql.WithAuthorizer(func(r libsql.AuthRequest) libsql.AuthResult {
		switch r.Action {
		case libsql.AuthSelect, libsql.AuthFunction:
			return libsql.AuthOK
		case libsql.AuthRead:
			if r.Arg1 == "users" && r.Arg2 == "password_hash" {
				return libsql.AuthIgnore // the column reads as NULL
			}
			return libsql.AuthOK
		}
		return libsql.AuthDeny
	}), libsql.WithConnectHook(setUpUsers))
	if err != nil {
		log.Fatal(err)
	}
	defer db.Close()

	var name string
	var hash any
	if err := db.QueryRow("SELECT name, password_hash FROM users").Scan(&name, &hash); err != nil {
		log.Fatal(err)
	}
	fmt.Println(name, hash)

	_, err = db.Exec("DELETE FROM users")
	var e *libsql.Error
	fmt.Println(errors.As(err, &e) && e.Code() == libsql.AUTH, err)
	// Output:
	// ada <nil>
	// true libsql: not authorized (SQLITE_AUTH)
}

// setUpUsers creates the example's table; a connect hook's SQL is not
// judged by the authorizer.
func setUpUsers(ctx context.Context, c *libsql.Conn) error {
	_, err := c.Exec(ctx, `CREATE TABLE IF NOT EXISTS users(name TEXT, password_hash BLOB);
		INSERT INTO users SELECT 'ada', x'00ff' WHERE NOT EXISTS (SELECT 1 FROM users)`)
	return err
}
