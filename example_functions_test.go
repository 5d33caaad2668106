package libsql_test

import (
	"context"
	"database/sql/driver"
	"fmt"
	"regexp"
	"slices"
	"strings"

	"github.com/golibsql/libsql"
)

// median is an aggregate: one value per group.
type median struct{ xs []float64 }

func (m *median) Step(_ context.Context, args []driver.Value) error {
	switch v := args[0].(type) {
	case int64:
		m.xs = append(m.xs, float64(v))
	case float64:
		m.xs = append(m.xs, v)
	}
	return nil
}

func (m *median) Final(context.Context) (driver.Value, error) {
	if len(m.xs) == 0 {
		return nil, nil
	}
	slices.Sort(m.xs)
	return m.xs[len(m.xs)/2], nil
}

func ExampleWithFunction() {
	db, err := libsql.Open(":memory:",
		libsql.WithFunction("regexp", 2, func(ctx context.Context, args []driver.Value) (driver.Value, error) {
			pattern, _ := args[0].(string)
			text, ok := args[1].(string)
			if !ok {
				return nil, nil // NULL for a NULL or non-text subject
			}
			return regexp.MatchString(pattern, text) // an error fails the statement
		}, libsql.Deterministic),
		libsql.WithAggregate("median", 1, func() *median { return &median{} }),
		libsql.WithCollation("nocase_unicode", func(a, b string) int {
			return strings.Compare(strings.ToLower(a), strings.ToLower(b))
		}))
	if err != nil {
		panic(err)
	}
	defer db.Close()
	if _, err := db.Exec(`CREATE TABLE users(name TEXT, age INTEGER);
		INSERT INTO users VALUES ('Ärne', 31), ('anna', 25), ('Bob', 40), ('alma', 52)`); err != nil {
		panic(err)
	}
	rows, err := db.Query("SELECT name FROM users WHERE name REGEXP '^[aÄ]' ORDER BY name COLLATE nocase_unicode")
	if err != nil {
		panic(err)
	}
	defer rows.Close()
	for rows.Next() {
		var name string
		rows.Scan(&name)
		fmt.Println(name)
	}
	var age float64
	if err := db.QueryRow("SELECT median(age) FROM users").Scan(&age); err != nil {
		panic(err)
	}
	fmt.Println("median age", age)
	_, err = db.Exec("SELECT 'x' REGEXP '('")
	fmt.Println(err)
	// Output:
	// alma
	// anna
	// Ärne
	// median age 40
	// libsql: error parsing regexp: missing closing ): `(` (SQLITE_ERROR)
}
