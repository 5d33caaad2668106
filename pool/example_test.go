package pool_test

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"time"

	"github.com/golibsql/libsql/pool"
)

func Example() {
	dir, err := os.MkdirTemp("", "pool-example")
	if err != nil {
		panic(err)
	}
	defer os.RemoveAll(dir)
	ctx := context.Background()

	p, err := pool.Open(filepath.Join(dir, "app.db"), pool.Options{MaxConns: 4, AcquireTimeout: 5 * time.Second})
	if err != nil {
		panic(err)
	}
	defer p.Close(ctx)

	// Write: BEGIN IMMEDIATE ... COMMIT, rolled back if fn fails.
	err = p.Write(ctx, func(c *pool.Conn) error {
		if _, err := c.Exec(ctx, "CREATE TABLE accounts(id INTEGER PRIMARY KEY, balance INTEGER)"); err != nil {
			return err
		}
		_, err := c.Exec(ctx, "INSERT INTO accounts VALUES (1, 100), (2, 50)")
		return err
	})
	if err != nil {
		panic(err)
	}

	// Concurrent: BEGIN CONCURRENT, retried on conflict; fn must have no
	// effects outside the transaction.
	err = p.Concurrent(ctx, func(c *pool.Conn) error {
		if _, err := c.Exec(ctx, "UPDATE accounts SET balance = balance - 30 WHERE id = 1"); err != nil {
			return err
		}
		_, err := c.Exec(ctx, "UPDATE accounts SET balance = balance + 30 WHERE id = 2")
		return err
	})
	if err != nil {
		panic(err)
	}

	// Read: a read-only snapshot.
	err = p.Read(ctx, func(c *pool.Conn) error {
		rows, err := c.Query(ctx, "SELECT id, balance FROM accounts ORDER BY id")
		if err != nil {
			return err
		}
		defer rows.Close()
		for rows.Next() {
			var id, balance int64
			if err := rows.Scan(&id, &balance); err != nil {
				return err
			}
			fmt.Println(id, balance)
		}
		return rows.Err()
	})
	if err != nil {
		panic(err)
	}

	// Get and Put by hand.
	c, err := p.Get(ctx)
	if err != nil {
		panic(err)
	}
	var total int64
	err = c.QueryRow(ctx, "SELECT sum(balance) FROM accounts").Scan(&total)
	p.Put(c)
	if err != nil {
		panic(err)
	}
	fmt.Println("total", total)
	fmt.Println("in use", p.Stats().InUse)
	// Output:
	// 1 70
	// 2 80
	// total 150
	// in use 0
}
