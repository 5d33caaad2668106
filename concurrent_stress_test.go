package libsql

import (
	"cmp"
	"context"
	"database/sql"
	"errors"
	"fmt"
	"math/rand/v2"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/golibsql/libsql/iouring_vfs/wal"
)

// Bank invariant: random transfers between accounts from 8 goroutines,
// each through RetryTx in BEGIN CONCURRENT; money is conserved and every
// transfer that succeeded is logged exactly once.
func TestConcurrentBankTransfers(t *testing.T) {
	const accounts, start = 20, 1000
	perWriter := 40
	if raceEnabled {
		perWriter = 8
	}
	db := openTestDB(t, "busy_timeout=10s")
	mustExec(t, db, "CREATE TABLE account(id INTEGER PRIMARY KEY, balance INTEGER NOT NULL CHECK (balance >= 0))")
	mustExec(t, db, "CREATE TABLE transfer(tid TEXT PRIMARY KEY, src INTEGER, dst INTEGER, amount INTEGER)")
	for i := range accounts {
		mustExec(t, db, "INSERT INTO account VALUES (?, ?)", i, start)
	}
	// Restart the log often, while other transactions' snapshots are open.
	mustExec(t, db, "PRAGMA wal_autocheckpoint=8")
	var mu sync.Mutex
	succeeded := map[string]bool{}
	var wg sync.WaitGroup
	for w := range 8 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			rng := rand.New(rand.NewPCG(uint64(w), 42))
			for i := range perWriter {
				tid := fmt.Sprintf("w%d-%d", w, i)
				src, dst := rng.IntN(accounts), rng.IntN(accounts)
				amount := 1 + rng.IntN(200)
				ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
				err := RetryTx(ctx, db, &sql.TxOptions{Isolation: LevelConcurrent}, func(tx *sql.Tx) error {
					var bal int
					if err := tx.QueryRow("SELECT balance FROM account WHERE id = ?", src).Scan(&bal); err != nil {
						return err
					}
					if bal < amount || src == dst {
						return nil // nothing to move; commits as a read-only transaction
					}
					if _, err := tx.Exec("UPDATE account SET balance = balance - ? WHERE id = ?", amount, src); err != nil {
						return err
					}
					if _, err := tx.Exec("UPDATE account SET balance = balance + ? WHERE id = ?", amount, dst); err != nil {
						return err
					}
					_, err := tx.Exec("INSERT INTO transfer VALUES (?, ?, ?, ?)", tid, src, dst, amount)
					return err
				})
				cancel()
				if err != nil {
					t.Errorf("transfer %s: %v", tid, err)
					return
				}
				if src != dst {
					mu.Lock()
					succeeded[tid] = true
					mu.Unlock()
				}
			}
		}()
	}
	wg.Wait()
	if n := count(t, db, "SELECT sum(balance) FROM account"); n != accounts*start {
		t.Fatalf("total balance %d, want %d", n, accounts*start)
	}
	rows, err := db.Query("SELECT tid FROM transfer")
	if err != nil {
		t.Fatal(err)
	}
	defer rows.Close()
	logged := 0
	for rows.Next() {
		var tid string
		rows.Scan(&tid)
		if !succeeded[tid] {
			t.Fatalf("transfer %s is logged but its RetryTx did not succeed", tid)
		}
		logged++
	}
	// Transfers that found too little money succeeded without a row.
	if logged > len(succeeded) {
		t.Fatalf("%d transfers logged, %d succeeded", logged, len(succeeded))
	}
	// Replaying the log from the opening balances gives the final ones.
	var net strings.Builder
	net.WriteString("SELECT count(*) FROM account a WHERE balance != ? + coalesce((SELECT sum(amount) FROM transfer WHERE dst = a.id), 0) - coalesce((SELECT sum(amount) FROM transfer WHERE src = a.id), 0)")
	var off int
	if err := db.QueryRow(net.String(), start).Scan(&off); err != nil || off != 0 {
		t.Fatalf("%d accounts disagree with the transfer log (%v)", off, err)
	}
	stats := engineStats(t, db)
	t.Logf("%d transfers, %d logged; %s", len(succeeded), logged, stats)
	if !raceEnabled && strings.Contains(stats, `"log_restarts_retaining":0,`) {
		t.Errorf("the log never restarted with older snapshots open: %s", stats)
	}
}

// Random transactions run concurrently; replaying the committed ones
// serially, in commit order, on a fresh database gives the same state.
func TestConcurrentDifferentialAgainstSerialReplay(t *testing.T) {
	seed := uint64(time.Now().UnixNano())
	t.Logf("seed %d", seed)
	writers, txs := 6, 30
	if raceEnabled {
		txs = 6
	}
	// Tables of many pages, so that transactions touching different keys
	// touch different leaves: both direct commits and rebases happen.
	schema := []string{
		"CREATE TABLE t1(k INTEGER PRIMARY KEY, v INTEGER)",
		"CREATE TABLE t2(k INTEGER PRIMARY KEY, v TEXT)",
		"CREATE TABLE t3(k TEXT PRIMARY KEY, v BLOB) WITHOUT ROWID",
		"WITH RECURSIVE c(x) AS (SELECT 0 UNION ALL SELECT x+1 FROM c WHERE x < 2999) INSERT INTO t1 SELECT x, x FROM c",
		"WITH RECURSIVE c(x) AS (SELECT 0 UNION ALL SELECT x+5 FROM c WHERE x < 2995) INSERT INTO t2 SELECT x, printf('%0300d', x) FROM c",
		"WITH RECURSIVE c(x) AS (SELECT 0 UNION ALL SELECT x+7 FROM c WHERE x < 2990) INSERT INTO t3 SELECT 'key' || x, zeroblob(200) FROM c",
	}
	db := openTestDB(t, "busy_timeout=10s")
	for _, s := range schema {
		mustExec(t, db, s)
	}
	mustExec(t, db, "PRAGMA wal_autocheckpoint=8")
	type committed struct {
		v     wal.Version
		stmts []string
	}
	var mu sync.Mutex
	var log []committed
	var wg sync.WaitGroup
	for w := range writers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			rng := rand.New(rand.NewPCG(seed, uint64(w)))
			c, err := db.Conn(context.Background())
			if err != nil {
				t.Error(err)
				return
			}
			defer c.Close()
			for range txs {
				stmts := randomTx(rng)
				if _, err := c.ExecContext(context.Background(), "BEGIN CONCURRENT"); err != nil {
					t.Error(err)
					return
				}
				failed := false
				for _, s := range stmts {
					if _, err := c.ExecContext(context.Background(), s); err != nil {
						failed = true
						break
					}
				}
				if failed {
					c.ExecContext(context.Background(), "ROLLBACK")
					continue
				}
				var before, v wal.Version
				c.Raw(func(dc any) error { before = dc.(*conn).file.LastCommit(); return nil })
				if _, err := c.ExecContext(context.Background(), "COMMIT"); err != nil {
					if !errors.Is(err, ErrBusySnapshot) {
						t.Errorf("COMMIT: %v, want a conflict or nothing", err)
					}
					continue // a conflict: the transaction never happened
				}
				c.Raw(func(dc any) error { v = dc.(*conn).file.LastCommit(); return nil })
				if v == before {
					continue // it changed nothing: nothing was committed
				}
				mu.Lock()
				log = append(log, committed{v, stmts})
				mu.Unlock()
			}
		}()
	}
	wg.Wait()
	if len(log) < writers {
		t.Fatalf("only %d of %d transactions committed", len(log), writers*txs)
	}
	slices.SortFunc(log, func(a, b committed) int { return cmp.Compare(a.v, b.v) })
	for i := 1; i < len(log); i++ {
		if log[i].v == log[i-1].v {
			t.Fatalf("two commits got version %v", log[i].v)
		}
	}
	replay := openTestDB(t, "")
	for _, s := range schema {
		mustExec(t, replay, s)
	}
	for _, c := range log {
		tx, err := replay.Begin()
		if err != nil {
			t.Fatal(err)
		}
		for _, s := range c.stmts {
			if _, err := tx.Exec(s); err != nil {
				t.Fatalf("replaying commit %v: %s: %v", c.v, s, err)
			}
		}
		if err := tx.Commit(); err != nil {
			t.Fatal(err)
		}
	}
	for _, table := range []string{"t1", "t2", "t3"} {
		got, want := dump(t, db, table), dump(t, replay, table)
		if got != want {
			t.Fatalf("table %s differs from the serial replay of %d commits:\nconcurrent: %s\nserial:     %s", table, len(log), got, want)
		}
	}
	t.Logf("%d of %d transactions committed; %s", len(log), writers*txs, engineStats(t, db))
}

// randomTx returns the statements of a random transaction.
func randomTx(rng *rand.Rand) []string {
	var stmts []string
	for range 1 + rng.IntN(4) {
		k := rng.IntN(3000)
		switch rng.IntN(7) {
		case 0:
			stmts = append(stmts, fmt.Sprintf("INSERT OR REPLACE INTO t1 VALUES (%d, %d)", k, rng.IntN(1000)))
		case 1:
			stmts = append(stmts, fmt.Sprintf("UPDATE t1 SET v = v + 1 WHERE k BETWEEN %d AND %d", k, k+10))
		case 2:
			stmts = append(stmts, fmt.Sprintf("DELETE FROM t1 WHERE k = %d", k))
		case 3:
			stmts = append(stmts, fmt.Sprintf("INSERT OR REPLACE INTO t2 VALUES (%d, '%s')", k, strings.Repeat("x", rng.IntN(2000))))
		case 4:
			stmts = append(stmts, fmt.Sprintf("INSERT INTO t2(v) SELECT 'sum ' || coalesce(sum(v), 0) FROM t1 WHERE k < %d", k))
		case 5:
			stmts = append(stmts, fmt.Sprintf("INSERT OR REPLACE INTO t3 VALUES ('key%d', zeroblob(%d))", k, rng.IntN(3000)))
		case 6:
			stmts = append(stmts, fmt.Sprintf("DELETE FROM t3 WHERE k < 'key%d'", k))
		}
	}
	return stmts
}

// dump returns a table's rows in key order, as text.
func dump(t *testing.T, db *sql.DB, table string) string {
	t.Helper()
	var s string
	err := db.QueryRow("SELECT coalesce(group_concat(k || '=' || quote(v), ','), '') FROM (SELECT k, v FROM " + table + " ORDER BY k)").Scan(&s)
	if err != nil {
		t.Fatal(err)
	}
	return s
}

// Pairs of random concurrent transactions, committed one after the other so
// that the second is stale: direct commits, merges and rebases all happen,
// and the database stays intact after each (regression: a merge once lost a
// free-list page, because SQLite keeps page 1 out of a cache flush).
func TestBeginConcurrentRandomPairsStayIntact(t *testing.T) {
	rounds := 200
	if raceEnabled {
		rounds = 15
	}
	db := openTestDB(t, "busy_timeout=10s")
	for _, s := range []string{
		"CREATE TABLE t1(k INTEGER PRIMARY KEY, v INTEGER)",
		"CREATE TABLE t2(k INTEGER PRIMARY KEY, v TEXT)",
		"CREATE TABLE t3(k TEXT PRIMARY KEY, v BLOB) WITHOUT ROWID",
		"WITH RECURSIVE c(x) AS (SELECT 0 UNION ALL SELECT x+1 FROM c WHERE x < 2999) INSERT INTO t1 SELECT x, x FROM c",
		"WITH RECURSIVE c(x) AS (SELECT 0 UNION ALL SELECT x+5 FROM c WHERE x < 2995) INSERT INTO t2 SELECT x, printf('%0300d', x) FROM c",
		"WITH RECURSIVE c(x) AS (SELECT 0 UNION ALL SELECT x+7 FROM c WHERE x < 2990) INSERT INTO t3 SELECT 'key' || x, zeroblob(200) FROM c",
	} {
		mustExec(t, db, s)
	}
	rng := rand.New(rand.NewPCG(1, 2))
	c1, c2 := dbConn(t, db), dbConn(t, db)
	ctx := context.Background()
	for round := range rounds {
		s1, s2 := randomTx(rng), randomTx(rng)
		cexec(t, c1, "BEGIN CONCURRENT")
		cexec(t, c2, "BEGIN CONCURRENT")
		for _, s := range s1 {
			cexec(t, c1, s)
		}
		for _, s := range s2 {
			cexec(t, c2, s)
		}
		_, e1 := c1.ExecContext(ctx, "COMMIT")
		before := engineStats(t, db)
		_, e2 := c2.ExecContext(ctx, "COMMIT")
		after := engineStats(t, db)
		for _, err := range []error{e1, e2} {
			if err != nil && !errors.Is(err, ErrBusySnapshot) {
				t.Fatalf("round %d: COMMIT: %v, want a conflict or nothing", round, err)
			}
		}
		if e1 != nil {
			t.Fatalf("round %d: the first COMMIT conflicted: %v", round, e1)
		}
		var ic string
		db.QueryRow("PRAGMA integrity_check").Scan(&ic)
		if ic != "ok" {
			t.Fatalf("round %d: integrity %s\nc1 (%v): %s\nc2 (%v): %s\nstats before c2 commit %s\nafter %s", round, ic[:min(200, len(ic))], e1, strings.Join(s1, "; "), e2, strings.Join(s2, "; "), before, after)
		}
	}
}
