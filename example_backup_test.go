package libsql_test

import (
	"context"
	"fmt"
	"log"
	"os"
	"path/filepath"

	"github.com/golibsql/libsql"
)

// Back up a live database into a new file, with progress, then restore a
// second database from that file.
func ExampleBackup() {
	ctx := context.Background()
	dir, err := os.MkdirTemp("", "backup-example")
	if err != nil {
		log.Fatal(err)
	}
	defer os.RemoveAll(dir)

	db, err := libsql.Open("file:" + filepath.ToSlash(filepath.Join(dir, "app.db")))
	if err != nil {
		log.Fatal(err)
	}
	defer db.Close()
	if _, err := db.Exec(`CREATE TABLE notes(id INTEGER PRIMARY KEY, body TEXT);
		WITH RECURSIVE c(i) AS (SELECT 1 UNION ALL SELECT i+1 FROM c WHERE i < 5000)
		INSERT INTO notes(body) SELECT printf('note %d', i) FROM c`); err != nil {
		log.Fatal(err)
	}

	copyPath := filepath.Join(dir, "app-backup.db")
	steps := 0
	err = libsql.Backup(ctx, db, "main", copyPath, &libsql.BackupOptions{
		StepPages: 16,
		Progress: func(copied, total int) {
			steps++
			if copied == total {
				fmt.Println("backup complete:", copied == total, "in more than one step:", steps > 1)
			}
		},
	})
	if err != nil {
		log.Fatal(err)
	}

	other, err := libsql.Open("file:" + filepath.ToSlash(filepath.Join(dir, "other.db")))
	if err != nil {
		log.Fatal(err)
	}
	defer other.Close()
	if err := libsql.Restore(ctx, other, "main", copyPath, nil); err != nil {
		log.Fatal(err)
	}
	var n int
	if err := other.QueryRow("SELECT count(*) FROM notes").Scan(&n); err != nil {
		log.Fatal(err)
	}
	fmt.Println("restored notes:", n)
	// Output:
	// backup complete: true in more than one step: true
	// restored notes: 5000
}
