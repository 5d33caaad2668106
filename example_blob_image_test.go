package libsql_test

import (
	"context"
	"crypto/sha256"
	"fmt"
	"io"
	"log"
	"strings"

	"github.com/golibsql/libsql"
)

// storeFile inserts a row for a file of size bytes and streams its bytes
// into the row's zeroblob, in one transaction of conn's.
func storeFile(ctx context.Context, conn *libsql.Conn, name string, size int64, f io.Reader) error {
	if err := conn.BeginTx(ctx, nil); err != nil {
		return err
	}
	defer conn.Rollback() // no-op after Commit
	res, err := conn.Exec(ctx, "INSERT INTO files(name, data) VALUES (?, zeroblob(?))", name, size)
	if err != nil {
		return err
	}
	id, _ := res.LastInsertId()
	b, err := conn.OpenBlob(ctx, "main", "files", "data", id, true)
	if err != nil {
		return err
	}
	if _, err := io.Copy(b, f); err != nil {
		b.Close()
		return err
	}
	if err := b.Close(); err != nil {
		return err
	}
	return conn.Commit()
}

func ExampleConn_OpenBlob() {
	ctx := context.Background()
	conn, err := libsql.OpenConn(ctx, ":memory:")
	if err != nil {
		log.Fatal(err)
	}
	defer conn.Close()
	if _, err := conn.Exec(ctx, "CREATE TABLE files(id INTEGER PRIMARY KEY, name TEXT, data BLOB)"); err != nil {
		log.Fatal(err)
	}
	content := strings.Repeat("a line of a big file\n", 100_000) // 2.1 MB, read a chunk at a time
	if err := storeFile(ctx, conn, "big.txt", int64(len(content)), strings.NewReader(content)); err != nil {
		log.Fatal(err)
	}

	b, err := conn.OpenBlob(ctx, "", "files", "data", 1, false)
	if err != nil {
		log.Fatal(err)
	}
	defer b.Close()
	h := sha256.New()
	n, err := io.Copy(h, b)
	if err != nil {
		log.Fatal(err)
	}
	fmt.Println(n, fmt.Sprintf("%x", h.Sum(nil)) == fmt.Sprintf("%x", sha256.Sum256([]byte(content))))
	// Output: 2100000 true
}

func ExampleWithImage() {
	ctx := context.Background()
	// A database to copy: in a test, the fixtures of a live database; in a
	// program, bytes embedded with go:embed.
	src, err := libsql.Open(":memory:")
	if err != nil {
		log.Fatal(err)
	}
	defer src.Close()
	if _, err := src.Exec("CREATE TABLE users(name TEXT); INSERT INTO users VALUES ('ada'), ('grace')"); err != nil {
		log.Fatal(err)
	}
	image, err := libsql.Serialize(ctx, src, "main")
	if err != nil {
		log.Fatal(err)
	}

	db, err := libsql.Open(":memory:", libsql.WithImage(image))
	if err != nil {
		log.Fatal(err)
	}
	defer db.Close()
	if _, err := db.Exec("INSERT INTO users VALUES ('linus')"); err != nil {
		log.Fatal(err)
	}
	var n, m int
	db.QueryRow("SELECT count(*) FROM users").Scan(&n)
	src.QueryRow("SELECT count(*) FROM users").Scan(&m)
	fmt.Println(n, m)
	// Output: 3 2
}
