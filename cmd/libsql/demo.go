package main

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"text/tabwriter"
	"time"

	"github.com/golibsql/libsql"
)

// demo shows the driver's main path end to end on a temporary database:
// schema, inserts in a transaction, a query with a timeout, a query that
// runs out of time, and an error checked with errors.Is.
func demo(w io.Writer) error {
	dir, err := os.MkdirTemp("", "libsql-demo-")
	if err != nil {
		return err
	}
	defer os.RemoveAll(dir)
	dsn := "file:" + filepath.ToSlash(filepath.Join(dir, "demo.db")) + "?busy_timeout=5s&foreign_keys=on"
	fmt.Fprintf(w, "opening %s\n", dsn)

	db, err := libsql.Open(dsn, libsql.WithMaxConns(4))
	if err != nil {
		return err
	}
	defer db.Close()
	ctx := context.Background()

	if _, err := db.ExecContext(ctx, `
		CREATE TABLE authors(id INTEGER PRIMARY KEY, name TEXT NOT NULL UNIQUE);
		CREATE TABLE books(
			id INTEGER PRIMARY KEY,
			author_id INTEGER NOT NULL REFERENCES authors(id),
			title TEXT NOT NULL,
			published DATE NOT NULL,
			rating REAL
		);`); err != nil {
		return fmt.Errorf("schema: %w", err)
	}
	fmt.Fprintln(w, "created tables authors and books")

	if err := insertBooks(ctx, w, db); err != nil {
		return err
	}

	qctx, cancel := context.WithTimeout(ctx, 2*time.Second)
	defer cancel()
	rows, err := db.QueryContext(qctx, `
		SELECT a.name, b.title, b.published, b.rating
		FROM books b JOIN authors a ON a.id = b.author_id
		WHERE b.published >= ?
		ORDER BY b.published`, date(1815, 1, 1))
	if err != nil {
		return fmt.Errorf("query: %w", err)
	}
	defer rows.Close()
	tw := tabwriter.NewWriter(w, 0, 4, 2, ' ', 0)
	fmt.Fprintln(tw, "\nAUTHOR\tTITLE\tPUBLISHED\tRATING")
	for rows.Next() {
		var (
			author, title string
			published     time.Time
			rating        *float64
		)
		if err := rows.Scan(&author, &title, &published, &rating); err != nil {
			return err
		}
		r := "-"
		if rating != nil {
			r = fmt.Sprintf("%.1f", *rating)
		}
		fmt.Fprintf(tw, "%s\t%s\t%s\t%s\n", author, title, published.Format("2006-01-02"), r)
	}
	if err := rows.Err(); err != nil {
		return err
	}
	tw.Flush()

	// A query that would never end, stopped by its context.
	tctx, cancel2 := context.WithTimeout(ctx, 100*time.Millisecond)
	defer cancel2()
	start := time.Now()
	var n int64
	err = db.QueryRowContext(tctx, "WITH RECURSIVE c(x) AS (SELECT 1 UNION ALL SELECT x+1 FROM c) SELECT count(*) FROM c").Scan(&n)
	fmt.Fprintf(w, "\nan endless query with a 100ms timeout stopped after %v: %v (DeadlineExceeded: %t)\n",
		time.Since(start).Round(time.Millisecond), err, errors.Is(err, context.DeadlineExceeded))

	// A constraint error, recognised with errors.Is and errors.As.
	_, err = db.ExecContext(ctx, "INSERT INTO authors(name) VALUES ('Jane Austen')")
	var le *libsql.Error
	if errors.As(err, &le) {
		fmt.Fprintf(w, "inserting a duplicate author: %v (ErrConstraint: %t, code %v)\n",
			err, errors.Is(err, libsql.ErrConstraint), le.ExtendedCode())
	}
	return nil
}

// insertBooks fills the tables in one transaction with prepared statements.
func insertBooks(ctx context.Context, w io.Writer, db *sql.DB) error {
	tx, err := db.BeginTx(ctx, nil)
	if err != nil {
		return err
	}
	defer tx.Rollback() // after Commit, a no-op
	addAuthor, err := tx.PrepareContext(ctx, "INSERT INTO authors(name) VALUES (?)")
	if err != nil {
		return err
	}
	addBook, err := tx.PrepareContext(ctx, "INSERT INTO books(author_id, title, published, rating) VALUES (?, ?, ?, ?)")
	if err != nil {
		return err
	}
	books := []struct {
		author, title string
		published     time.Time
		rating        any
	}{
		{"Jane Austen", "Pride and Prejudice", date(1813, 1, 28), 4.3},
		{"Jane Austen", "Emma", date(1815, 12, 23), 4.0},
		{"Mary Shelley", "Frankenstein", date(1818, 1, 1), 3.9},
		{"Ursula K. Le Guin", "A Wizard of Earthsea", date(1968, 11, 1), 4.0},
		{"Ursula K. Le Guin", "The Dispossessed", date(1974, 5, 1), nil},
		{"Octavia E. Butler", "Kindred", date(1979, 6, 1), 4.2},
	}
	ids := map[string]int64{}
	for _, b := range books {
		id, ok := ids[b.author]
		if !ok {
			r, err := addAuthor.ExecContext(ctx, b.author)
			if err != nil {
				return err
			}
			id, _ = r.LastInsertId()
			ids[b.author] = id
		}
		if _, err := addBook.ExecContext(ctx, id, b.title, b.published, b.rating); err != nil {
			return err
		}
	}
	if err := tx.Commit(); err != nil {
		return err
	}
	fmt.Fprintf(w, "inserted %d authors and %d books in one transaction\n", len(ids), len(books))
	return nil
}

func date(y int, m time.Month, d int) time.Time { return time.Date(y, m, d, 0, 0, 0, 0, time.UTC) }
