package libsql

import (
	"context"
	"database/sql"
	"errors"
	"path/filepath"
	"testing"
)

// retryAttempts runs RetryTx with opts on db, whose fn, in each of its
// first three attempts, lets another connection (busy_timeout=0) commit a
// change to the row fn reads before fn writes it. A BEGIN CONCURRENT
// attempt conflicts at commit; a BEGIN IMMEDIATE attempt holds the writer
// lock, so the other connection's write fails at once and the attempt
// commits. It returns the number of attempts and the other connection's
// errors.
func retryAttempts(t *testing.T, db, other *sql.DB, opts *sql.TxOptions) (int, []error) {
	t.Helper()
	ctx := context.Background()
	attempts := 0
	var otherErrs []error
	err := RetryTx(ctx, db, opts, func(tx *sql.Tx) error {
		attempts++
		var v int64
		if err := tx.QueryRow("SELECT v FROM k WHERE id = 1").Scan(&v); err != nil {
			return err
		}
		if attempts <= 3 {
			_, err := other.Exec("UPDATE k SET v = v + 100 WHERE id = 1")
			otherErrs = append(otherErrs, err)
		}
		_, err := tx.Exec("UPDATE k SET v = ? WHERE id = 1", v+1)
		return err
	})
	if err != nil {
		t.Fatalf("RetryTx: %v", err)
	}
	return attempts, otherErrs
}

// README "BEGIN CONCURRENT": "A BEGIN CONCURRENT transaction that
// conflicted is run again with BEGIN IMMEDIATE". That holds when opts say
// LevelConcurrent, but not for a BEGIN CONCURRENT begun because the DSN
// says _txlock=concurrent (opts nil): escalated only looks at opts, so the
// retry is BEGIN CONCURRENT again and conflicts again.
func TestDocsReviewRetryTxEscalationWithTxLock(t *testing.T) {
	path := filepath.Join(t.TempDir(), "k.db")
	setup := openTestDSN(t, "file:"+filepath.ToSlash(path))
	mustExec(t, setup, "CREATE TABLE k(id INTEGER PRIMARY KEY, v INT); INSERT INTO k VALUES (1, 0)")
	other := openTestDSN(t, "file:"+filepath.ToSlash(path)+"?busy_timeout=0")

	// Control: opts with LevelConcurrent escalate after one conflict.
	dbLevel := openTestDSN(t, "file:"+filepath.ToSlash(path))
	n, errs := retryAttempts(t, dbLevel, other, &sql.TxOptions{Isolation: LevelConcurrent})
	if n != 2 || len(errs) != 2 || errs[0] != nil || !errors.Is(errs[1], ErrBusy) {
		t.Fatalf("LevelConcurrent: %d attempts, other's errors %v; want 2, [nil ErrBusy]", n, errs)
	}

	// _txlock=concurrent, opts nil: the README's claim says the same.
	dbLock := openTestDSN(t, "file:"+filepath.ToSlash(path)+"?_txlock=concurrent")
	n, errs = retryAttempts(t, dbLock, other, nil)
	if n != 2 {
		t.Errorf("_txlock=concurrent, opts nil: %d attempts (other connection's errors %v); "+
			"the README says a conflicted BEGIN CONCURRENT transaction is run again with BEGIN IMMEDIATE (2 attempts)", n, errs)
	}
	n, errs = retryAttempts(t, dbLock, other, &sql.TxOptions{})
	if n != 2 {
		t.Errorf("_txlock=concurrent, the default level: %d attempts (other connection's errors %v), want 2", n, errs)
	}

	// A deferred transaction that read and then failed to write on a
	// stale snapshot (ErrBusySnapshot) is run again with BEGIN IMMEDIATE,
	// as the README advises doing by hand.
	n, errs = retryAttempts(t, dbLevel, other, nil)
	if n != 2 || len(errs) != 2 || errs[0] != nil || !errors.Is(errs[1], ErrBusy) {
		t.Errorf("deferred: %d attempts, other's errors %v; want 2, [nil ErrBusy]", n, errs)
	}
}
