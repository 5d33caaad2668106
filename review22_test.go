package libsql

import (
	"context"
	"crypto/rand"
	"crypto/sha256"
	"database/sql"
	"encoding/hex"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"
)

// r22Digest sums up every row of every table (and the schema) of a
// database, so two databases can be compared whole.
func r22Digest(t *testing.T, db *sql.DB) string {
	t.Helper()
	h := sha256.New()
	rows, err := db.Query("SELECT type, name, tbl_name, coalesce(sql, '') FROM sqlite_master ORDER BY type, name")
	if err != nil {
		t.Fatal(err)
	}
	var tables []string
	for rows.Next() {
		var typ, name, tbl, q string
		if err := rows.Scan(&typ, &name, &tbl, &q); err != nil {
			t.Fatal(err)
		}
		fmt.Fprintf(h, "%s|%s|%s|%s\n", typ, name, tbl, q)
		if typ == "table" && !strings.HasPrefix(name, "sqlite_") {
			tables = append(tables, name)
		}
	}
	rows.Close()
	for _, tb := range tables {
		rows, err := db.Query("SELECT * FROM " + quoteIdent(tb) + " ORDER BY 1")
		if err != nil {
			t.Fatal(err)
		}
		cols, _ := rows.Columns()
		for rows.Next() {
			vals := scanAnyRow(t, rows, len(cols))
			fmt.Fprintf(h, "%s:%v\n", tb, vals)
		}
		if err := rows.Err(); err != nil {
			t.Fatal(err)
		}
		rows.Close()
	}
	return hex.EncodeToString(h.Sum(nil))
}

func r22Int(t *testing.T, db interface {
	QueryRow(string, ...any) *sql.Row
}, q string) int64 {
	t.Helper()
	var n int64
	if err := db.QueryRow(q).Scan(&n); err != nil {
		t.Fatalf("%s: %v", q, err)
	}
	return n
}

// r22Stock opens path in stock SQLite (modernc.org/sqlite).
func r22Stock(t *testing.T, path string) *sql.DB {
	t.Helper()
	db, err := sql.Open("sqlite", path)
	if err != nil {
		t.Fatal(err)
	}
	return db
}

// r22Siblings lists the files next to path whose name starts with its base.
func r22Siblings(t *testing.T, path string) []string {
	t.Helper()
	ents, err := os.ReadDir(filepath.Dir(path))
	if err != nil {
		t.Fatal(err)
	}
	var out []string
	for _, e := range ents {
		if strings.HasPrefix(e.Name(), filepath.Base(path)) {
			fi, _ := e.Info()
			out = append(out, fmt.Sprintf("%s(%d)", e.Name(), fi.Size()))
		}
	}
	sort.Strings(out)
	return out
}

// TestReview22StockContract: a Backup into a new file gives a copy that
// stock SQLite opens, read by its main file alone (the engine of the copy
// is closed at return: no -wal holding frames), with the source's
// contents, page size, auto_vacuum, page count and free list, integrity
// ok; with log frames not yet checkpointed in the source, auto_vacuum
// incremental and full, free pages, page sizes 512 and 65536, overflow
// blobs.
func TestReview22StockContract(t *testing.T) {
	cases := []struct {
		name, query string
		blob        int
	}{
		{"default", "", 9000},
		{"incremental", "_pragma=auto_vacuum(2)", 9000},
		{"full", "_pragma=auto_vacuum(1)", 9000},
		{"page512", "_pragma=page_size(512)", 3000},
		{"page65536", "_pragma=page_size(65536)", 140000},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			dir := t.TempDir()
			dsn := fileDSN(filepath.Join(dir, "src.db"))
			if tc.query != "" {
				dsn += "?" + tc.query
			}
			src := openTestDSN(t, dsn)
			mustExec(t, src, `CREATE TABLE t(id INTEGER PRIMARY KEY, b BLOB, s TEXT);
				CREATE INDEX t_s ON t(s);
				CREATE TABLE gone(x)`)
			for i := 0; i < 12; i++ {
				mustExec(t, src, "INSERT INTO t(b, s) VALUES (randomblob(?), ?)", tc.blob+i, fmt.Sprint("row", i))
			}
			mustExec(t, src, "INSERT INTO gone SELECT randomblob(300) FROM t, t AS t2 LIMIT 60")
			// Free pages: a dropped table and deleted overflow chains.
			mustExec(t, src, "DROP TABLE gone; DELETE FROM t WHERE id % 3 = 0")
			if tc.name == "incremental" {
				mustExec(t, src, "PRAGMA incremental_vacuum(2)")
			}
			// Log frames not yet checkpointed: a last small commit.
			mustExec(t, src, "UPDATE t SET s = s || '!' WHERE id = 1")
			want := r22Digest(t, src)
			wantPages := r22Int(t, src, "PRAGMA page_count")
			wantFree := r22Int(t, src, "PRAGMA freelist_count")
			wantPS := r22Int(t, src, "PRAGMA page_size")
			wantAV := r22Int(t, src, "PRAGMA auto_vacuum")
			if tc.name != "full" && wantFree == 0 {
				t.Logf("no free pages in the source")
			}
			for _, mode := range []string{"new", "existing", "existingBigger"} {
				t.Run(mode, func(t *testing.T) {
					r22CheckCopy(t, src, dsn, tc.query, mode, want, wantPages, wantFree, wantPS, wantAV)
				})
			}
		})
	}
}

func r22CheckCopy(t *testing.T, src *sql.DB, srcDSN, query, mode, want string, wantPages, wantFree, wantPS, wantAV int64) {
	ctx := context.Background()
	dst := filepath.Join(t.TempDir(), "copy.db")
	if mode != "new" {
		ddsn := fileDSN(dst)
		if query != "" {
			ddsn += "?" + query
		}
		d := openUnchecked(t, ddsn)
		n := 1
		if mode == "existingBigger" {
			n = 3000
		}
		mustExec(t, d, `CREATE TABLE old(x); WITH RECURSIVE c(i) AS (SELECT 1 UNION ALL SELECT i+1 FROM c WHERE i < ?)
			INSERT INTO old SELECT randomblob(400) FROM c`, n)
		d.Close()
	}
	{
		{
			if err := Backup(ctx, src, "", dst, &BackupOptions{StepPages: 5}); err != nil {
				t.Fatal(err)
			}
			// The copy by its main file alone, as the engine left it.
			raw, err := os.ReadFile(dst)
			if err != nil {
				t.Fatal(err)
			}
			t.Logf("files after Backup: %v", r22Siblings(t, dst))
			alone := filepath.Join(t.TempDir(), "alone.db")
			if err := os.WriteFile(alone, raw, 0o600); err != nil {
				t.Fatal(err)
			}
			for _, p := range []string{alone, dst} {
				stock := r22Stock(t, p)
				if got := r22Digest(t, stock); got != want {
					t.Errorf("%s in stock SQLite: contents differ from the source's", filepath.Base(p))
				}
				checkIntegrity(t, stock)
				for q, w := range map[string]int64{"PRAGMA page_count": wantPages, "PRAGMA freelist_count": wantFree, "PRAGMA page_size": wantPS, "PRAGMA auto_vacuum": wantAV} {
					if got := r22Int(t, stock, q); got != w {
						t.Errorf("%s in stock SQLite: %s = %d, the source's is %d", filepath.Base(p), q, got, w)
					}
				}
				stock.Close()
			}
			if int64(len(raw)) != wantPages*wantPS {
				t.Errorf("main file of the copy: %d bytes, want %d pages of %d", len(raw), wantPages, wantPS)
			}
			for _, suffix := range []string{"-journal"} {
				if _, err := os.Stat(dst + suffix); err == nil {
					t.Errorf("%s left next to the copy", filepath.Base(dst+suffix))
				}
			}
			if fi, err := os.Stat(dst + "-wal"); err == nil && fi.Size() > 32 {
				t.Errorf("copy.db-wal of %d bytes left after Backup returned: frames not in the main file", fi.Size())
			}
			// And our driver opens it too, writable.
			cp := openTestDSN(t, fileDSN(dst))
			if got := r22Digest(t, cp); got != want {
				t.Errorf("copy in libsql: contents differ")
			}
			mustExec(t, cp, "INSERT INTO t(b, s) VALUES (zeroblob(10), 'after')")
		}
	}
}

// r22MakeDB creates a database file at path with the given statements and
// closes it.
func r22MakeDB(t *testing.T, path, stmts string) {
	t.Helper()
	db := openUnchecked(t, fileDSN(path))
	mustExec(t, db, stmts)
	if err := db.Close(); err != nil {
		t.Fatal(err)
	}
}

// TestReview22RestoreWarmConnsShrink: Restore into a pool whose connections
// have warm caches and prepared statements, from a smaller database of
// another schema: every connection reads the new contents, prepared
// statements see the new schema, writes work, page_count is the source's,
// and after close stock SQLite reads the restored (shrunk) file.
func TestReview22RestoreWarmConnsShrink(t *testing.T) {
	ctx := context.Background()
	dir := t.TempDir()
	small := filepath.Join(dir, "small.db")
	r22MakeDB(t, small, `CREATE TABLE n(id INTEGER PRIMARY KEY, v TEXT); CREATE INDEX n_v ON n(v);
		INSERT INTO n VALUES (1, 'new1'), (2, 'new2'); CREATE TABLE big(k)`)
	sdb := r22Stock(t, small)
	want := r22Digest(t, sdb)
	wantPages := r22Int(t, sdb, "PRAGMA page_count")
	sdb.Close()

	path := filepath.Join(dir, "live.db")
	db := openUnchecked(t, fileDSN(path))
	db.SetMaxOpenConns(5)
	db.SetMaxIdleConns(5)
	mustExec(t, db, `CREATE TABLE big(k INTEGER PRIMARY KEY, pad BLOB); CREATE INDEX big_pad ON big(length(pad));
		WITH RECURSIVE c(i) AS (SELECT 1 UNION ALL SELECT i+1 FROM c WHERE i < 300)
		INSERT INTO big SELECT i, randomblob(700) FROM c;
		CREATE TABLE n(id INTEGER PRIMARY KEY, v TEXT); INSERT INTO n VALUES (1, 'old')`)
	oldPages := r22Int(t, db, "PRAGMA page_count")
	stmtN, err := db.Prepare("SELECT group_concat(v) FROM n")
	if err != nil {
		t.Fatal(err)
	}
	defer stmtN.Close()
	stmtBig, err := db.Prepare("SELECT count(*) FROM big")
	if err != nil {
		t.Fatal(err)
	}
	defer stmtBig.Close()
	// Four connections held (warm, statements prepared on each), one for
	// the Restore.
	var conns []*sql.Conn
	for i := 0; i < 4; i++ {
		c, err := db.Conn(ctx)
		if err != nil {
			t.Fatal(err)
		}
		defer c.Close()
		var s string
		var n int
		if err := c.QueryRowContext(ctx, "SELECT group_concat(v) FROM n").Scan(&s); err != nil {
			t.Fatal(err)
		}
		if err := c.QueryRowContext(ctx, "SELECT count(*), sum(length(pad)) FROM big").Scan(&n, new(int)); err != nil || n != 300 {
			t.Fatal(n, err)
		}
		conns = append(conns, c)
	}
	for i := 0; i < 4; i++ { // warm the statements on the pool too
		if err := stmtN.QueryRow().Scan(new(string)); err != nil {
			t.Fatal(err)
		}
	}
	if err := Restore(ctx, db, "", small, nil); err != nil {
		t.Fatal(err)
	}
	for i, c := range conns {
		var s string
		if err := c.QueryRowContext(ctx, "SELECT group_concat(v) FROM n").Scan(&s); err != nil || !strings.HasPrefix(s, "new1,new2") || strings.Contains(s, "old") {
			t.Errorf("conn %d after Restore: n = %q, %v; want new1,new2 and this test's rows", i, s, err)
		}
		var k int
		if err := c.QueryRowContext(ctx, "SELECT count(*) FROM big").Scan(&k); err != nil || k != 0 {
			t.Errorf("conn %d after Restore: %d rows of big, %v; want 0", i, k, err)
		}
		var pc int64
		if err := c.QueryRowContext(ctx, "PRAGMA page_count").Scan(&pc); err != nil || pc != wantPages {
			t.Errorf("conn %d after Restore: page_count %d, %v; want the source's %d (was %d)", i, pc, err, wantPages, oldPages)
		}
		if _, err := c.ExecContext(ctx, "INSERT INTO n(v) VALUES (?)", fmt.Sprint("c", i)); err != nil {
			t.Errorf("conn %d: write after Restore: %v", i, err)
		}
	}
	var s string
	if err := stmtN.QueryRow().Scan(&s); err != nil || !strings.HasPrefix(s, "new1,new2") {
		t.Errorf("statement prepared before Restore: %q, %v", s, err)
	}
	if err := stmtBig.QueryRow().Scan(new(int)); err != nil {
		t.Errorf("statement on table big (same name, new schema): %v", err)
	}
	if _, err := db.Exec("SELECT pad FROM big"); err == nil {
		t.Errorf("column pad of the old schema still there after Restore")
	}
	checkIntegrity(t, db)
	for _, c := range conns {
		c.Close()
	}
	mustExec(t, db, "DELETE FROM n WHERE v LIKE 'c%'")
	stmtN.Close()
	stmtBig.Close()
	if err := db.Close(); err != nil {
		t.Fatal(err)
	}
	fi, err := os.Stat(path)
	if err != nil {
		t.Fatal(err)
	}
	stock := r22Stock(t, path)
	defer stock.Close()
	checkIntegrity(t, stock)
	if got := r22Digest(t, stock); got != want {
		t.Errorf("restored file in stock SQLite: contents differ from the source's")
	}
	pc := r22Int(t, stock, "PRAGMA page_count")
	if pc != wantPages {
		t.Errorf("restored file in stock SQLite: page_count %d, want %d", pc, wantPages)
	}
	if fi.Size() != pc*4096 {
		t.Errorf("restored file is %d bytes after close: want %d pages of 4096 (it held %d pages before): the file did not shrink", fi.Size(), pc, oldPages)
	}
}

// TestReview22RestoreUnderLoad: readers and writers keep using the
// destination while Restores alternate between two databases whose
// invariant differs (sum 1000 vs 5000): no reader sees a mix, no
// unexpected error, integrity ok.
func TestReview22RestoreUnderLoad(t *testing.T) {
	ctx := context.Background()
	dir := t.TempDir()
	mk := func(name string, bal int) string {
		p := filepath.Join(dir, name)
		r22MakeDB(t, p, fmt.Sprintf(`CREATE TABLE acct(id INTEGER PRIMARY KEY, bal INTEGER);
			WITH RECURSIVE c(i) AS (SELECT 1 UNION ALL SELECT i+1 FROM c WHERE i < 10)
			INSERT INTO acct SELECT i, %d FROM c;
			CREATE TABLE tag(v); INSERT INTO tag VALUES (%d)`, bal, bal*10))
		return p
	}
	a, b := mk("a.db", 100), mk("b.db", 500)
	db := openTestDSN(t, fileDSN(filepath.Join(dir, "live.db")))
	db.SetMaxOpenConns(6)
	if err := Restore(ctx, db, "", a, nil); err != nil {
		t.Fatal(err)
	}
	var stop atomic.Bool
	var wg sync.WaitGroup
	var reads, writes atomic.Int64
	var errMu sync.Mutex
	var errs []string
	report := func(s string) {
		errMu.Lock()
		if len(errs) < 10 {
			errs = append(errs, s)
		}
		errMu.Unlock()
	}
	for r := 0; r < 2; r++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for !stop.Load() {
				tx, err := db.BeginTx(ctx, &sql.TxOptions{ReadOnly: true})
				if err != nil {
					report("begin: " + err.Error())
					return
				}
				var sum, tag, sum2 int64
				err = tx.QueryRow("SELECT sum(bal) FROM acct").Scan(&sum)
				if err == nil {
					err = tx.QueryRow("SELECT v FROM tag").Scan(&tag)
				}
				if err == nil {
					err = tx.QueryRow("SELECT sum(bal) FROM acct").Scan(&sum2)
				}
				tx.Rollback()
				if err != nil {
					report("read: " + err.Error())
					continue
				}
				if sum != sum2 || sum*1 != tag {
					report(fmt.Sprintf("a read transaction saw sum %d, tag %d, then sum %d: a mix", sum, tag, sum2))
				}
				reads.Add(1)
			}
		}()
	}
	for w := 0; w < 2; w++ {
		wg.Add(1)
		go func(w int) {
			defer wg.Done()
			for i := 0; !stop.Load(); i++ {
				x, y := 1+(i+w)%10, 1+(i*3+w+1)%10
				_, err := db.Exec("BEGIN IMMEDIATE; UPDATE acct SET bal = bal - 1 WHERE id = ?; UPDATE acct SET bal = bal + 1 WHERE id = ?; COMMIT", x, y)
				if err != nil {
					db.Exec("ROLLBACK")
					report("write: " + err.Error())
					continue
				}
				writes.Add(1)
			}
		}(w)
	}
	var restoreErr error
	for i := 0; i < 8 && restoreErr == nil; i++ {
		src := b
		if i%2 == 1 {
			src = a
		}
		restoreErr = Restore(ctx, db, "", src, &BackupOptions{StepPages: 1})
		time.Sleep(5 * time.Millisecond)
	}
	stop.Store(true)
	wg.Wait()
	if restoreErr != nil {
		t.Fatal(restoreErr)
	}
	t.Logf("%d reads, %d writes", reads.Load(), writes.Load())
	for _, e := range errs {
		t.Error(e)
	}
	if sum := r22Int(t, db, "SELECT sum(bal) FROM acct"); sum != 1000 {
		t.Errorf("after the last Restore (of a.db) and writers' transfers: sum %d, want 1000", sum)
	}
}

// TestReview22RestoreVsBeginConcurrent: a BEGIN CONCURRENT transaction
// open on the destination (it read and wrote) while Restore commits: its
// commit fails with a conflict, or succeeds with a correct result; never
// corruption.
func TestReview22RestoreVsBeginConcurrent(t *testing.T) {
	for _, sameSchema := range []bool{true, false} {
		t.Run(fmt.Sprint("sameSchema=", sameSchema), func(t *testing.T) {
			ctx := context.Background()
			dir := t.TempDir()
			src := filepath.Join(dir, "src.db")
			if sameSchema {
				r22MakeDB(t, src, `CREATE TABLE kv(k INTEGER PRIMARY KEY, v TEXT);
					WITH RECURSIVE c(i) AS (SELECT 1 UNION ALL SELECT i+1 FROM c WHERE i < 200)
					INSERT INTO kv SELECT i, 'restored' FROM c`)
			} else {
				r22MakeDB(t, src, `CREATE TABLE other(x); INSERT INTO other VALUES (1);
					CREATE TABLE kv(k INTEGER PRIMARY KEY, v TEXT, extra); INSERT INTO kv VALUES (1, 'restored', 0)`)
			}
			db := openTestDSN(t, fileDSN(filepath.Join(dir, "live.db")))
			mustExec(t, db, `CREATE TABLE kv(k INTEGER PRIMARY KEY, v TEXT);
				WITH RECURSIVE c(i) AS (SELECT 1 UNION ALL SELECT i+1 FROM c WHERE i < 200)
				INSERT INTO kv SELECT i, 'old' FROM c`)
			tx, err := db.BeginTx(ctx, &sql.TxOptions{Isolation: LevelConcurrent})
			if err != nil {
				t.Fatal(err)
			}
			var v string
			if err := tx.QueryRow("SELECT v FROM kv WHERE k = 5").Scan(&v); err != nil {
				t.Fatal(err)
			}
			if _, err := tx.Exec("UPDATE kv SET v = 'tx' WHERE k = 150"); err != nil {
				t.Fatal(err)
			}
			if err := Restore(ctx, db, "", src, nil); err != nil {
				tx.Rollback()
				t.Fatal(err)
			}
			cerr := tx.Commit()
			t.Logf("commit of the concurrent transaction after Restore: %v", cerr)
			checkIntegrity(t, db)
			var n int64
			n = r22Int(t, db, "SELECT count(*) FROM kv WHERE v = 'old'")
			if n != 0 {
				t.Errorf("%d rows of the old database after Restore and the concurrent commit (%v)", n, cerr)
			}
			if cerr == nil {
				// A commit that succeeded applied its write to the new
				// database, as if it came after the Restore.
				got := r22Int(t, db, "SELECT count(*) FROM kv WHERE v = 'tx'")
				if sameSchema && got != 1 {
					t.Errorf("commit succeeded but its write is not there (%d rows)", got)
				}
				if !sameSchema {
					t.Errorf("a concurrent transaction over a dropped schema committed after Restore")
				}
			} else if !errors.Is(cerr, ErrBusySnapshot) && !errors.Is(cerr, ErrBusy) {
				t.Logf("commit error is not a busy/snapshot conflict: %v", cerr)
			}
		})
	}
}

// TestReview22ErrorPaths: Backup into a missing directory, a mode=ro DSN,
// /proc; Restore from random bytes and truncated files; a context
// already canceled; the database, the files, and the source unchanged.
func TestReview22ErrorPaths(t *testing.T) {
	ctx := context.Background()
	dir := t.TempDir()
	src := openTestDSN(t, fileDSN(filepath.Join(dir, "src.db")))
	want := fillForImage(t, src)

	missingDir := filepath.Join(dir, "nodir", "x.db")
	if err := Backup(ctx, src, "", missingDir, nil); err == nil {
		t.Errorf("Backup into a directory that does not exist: no error")
	} else {
		t.Logf("missing dir: %v", err)
	}
	if _, err := os.Stat(filepath.Dir(missingDir)); err == nil {
		t.Errorf("Backup created the missing directory")
	}
	if err := Backup(ctx, src, "", "/proc/review22.db", nil); err == nil {
		t.Errorf("Backup into /proc: no error")
	}

	// mode=ro: an existing file is not written, a missing one not created.
	ro := filepath.Join(dir, "ro.db")
	r22MakeDB(t, ro, "CREATE TABLE keep(x); INSERT INTO keep VALUES (7)")
	before, _ := os.ReadFile(ro)
	if err := Backup(ctx, src, "", fileDSN(ro)+"?mode=ro", nil); err == nil {
		t.Errorf("Backup into a mode=ro DSN: no error")
	} else {
		t.Logf("mode=ro: %v", err)
	}
	if after, _ := os.ReadFile(ro); string(after) != string(before) {
		t.Errorf("mode=ro destination changed")
	}
	if err := Backup(ctx, src, "", fileDSN(filepath.Join(dir, "ro-new.db"))+"?mode=ro", nil); err == nil {
		t.Errorf("Backup into a missing mode=ro DSN: no error")
	}
	if s := r22Siblings(t, filepath.Join(dir, "ro-new.db")); len(s) != 0 {
		t.Errorf("files left by a failed Backup into mode=ro: %v", s)
	}

	// Restore from things that are not databases.
	junk := filepath.Join(dir, "junk.db")
	buf := make([]byte, 8192)
	rand.Read(buf)
	os.WriteFile(junk, buf, 0o600)
	if err := Restore(ctx, src, "", junk, nil); err == nil {
		t.Errorf("Restore from random bytes: no error")
	} else {
		t.Logf("junk: %v", err)
	}
	if got, _ := os.ReadFile(junk); string(got) != string(buf) {
		t.Errorf("Restore changed its source of random bytes")
	}
	if s := r22Siblings(t, junk); len(s) != 1 {
		t.Errorf("files next to the junk source after Restore: %v", s)
	}
	if got := imageDigest(t, src); got != want {
		t.Errorf("database after a refused Restore from junk: %q", got)
	}

	// A truncated copy of a database, at a page boundary and inside one.
	whole := filepath.Join(dir, "whole.db")
	if err := Backup(ctx, src, "", whole, nil); err != nil {
		t.Fatal(err)
	}
	img, _ := os.ReadFile(whole)
	for _, cut := range []int{len(img) / 2 / 4096 * 4096, len(img)/2 + 100} {
		tr := filepath.Join(dir, fmt.Sprint("trunc", cut, ".db"))
		os.WriteFile(tr, img[:cut], 0o600)
		victim := openTestDSN(t, fileDSN(filepath.Join(dir, fmt.Sprint("victim", cut, ".db"))))
		mustExec(t, victim, "CREATE TABLE keep(x); INSERT INTO keep VALUES (1)")
		err := Restore(ctx, victim, "", tr, nil)
		t.Logf("Restore from a database truncated at %d of %d bytes: %v", cut, len(img), err)
		if err == nil {
			// SQLite's backup copies what it reads; our integrity check
			// at cleanup says whether the result is a database.
			rows, qerr := victim.Query("PRAGMA integrity_check")
			if qerr == nil {
				var out []string
				for rows.Next() {
					var s string
					rows.Scan(&s)
					out = append(out, s)
				}
				rows.Close()
				if len(out) != 1 || out[0] != "ok" {
					t.Errorf("Restore from a truncated file succeeded and left a corrupt database: %v", out[:min(3, len(out))])
				}
				// Put it back so cleanup's check passes only on a real bug.
				if err := Restore(ctx, victim, "", whole, nil); err != nil {
					t.Fatal(err)
				}
			}
		} else if r22Int(t, victim, "SELECT x FROM keep") != 1 {
			t.Errorf("failed Restore changed the database")
		}
	}

	// Canceled context: nothing created, nothing changed.
	cctx, cancel := context.WithCancel(ctx)
	cancel()
	nf := filepath.Join(dir, "canceled.db")
	if err := Backup(cctx, src, "", nf, nil); !errors.Is(err, context.Canceled) {
		t.Errorf("Backup with a canceled context: %v", err)
	}
	if s := r22Siblings(t, nf); len(s) != 0 {
		t.Errorf("files left by a canceled Backup: %v", s)
	}
	c, err := OpenConn(ctx, fileDSN(filepath.Join(dir, "src.db")))
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	if err := c.Backup(cctx, "", nf, nil); !errors.Is(err, context.Canceled) {
		t.Errorf("Conn.Backup with a canceled context: %v", err)
	}
	if s := r22Siblings(t, nf); len(s) != 0 {
		t.Errorf("files left by a canceled Conn.Backup: %v", s)
	}
	if err := c.Restore(cctx, "", whole, nil); !errors.Is(err, context.Canceled) {
		t.Errorf("Conn.Restore with a canceled context: %v", err)
	}
	if !c.c.cc.GetAutocommit() {
		t.Errorf("connection left in a transaction by a canceled Restore")
	}
}

// TestReview22DestinationHeldElsewhere: Backup into a file another *sql.DB
// of the process has open (the engine is shared): that DB's new
// transactions see the copy, a snapshot taken before keeps the old
// database, its prepared statements run on the new schema, and it can
// write afterwards.
func TestReview22DestinationHeldElsewhere(t *testing.T) {
	ctx := context.Background()
	dir := t.TempDir()
	src := openTestDSN(t, fileDSN(filepath.Join(dir, "src.db")))
	want := fillForImage(t, src)
	dpath := filepath.Join(dir, "held.db")
	held := openTestDSN(t, fileDSN(dpath))
	mustExec(t, held, "CREATE TABLE keep(x); INSERT INTO keep VALUES (1), (2)")
	stmt, err := held.Prepare("SELECT count(*) FROM sqlite_master")
	if err != nil {
		t.Fatal(err)
	}
	defer stmt.Close()
	r22Int(t, r22StmtT{stmt}, "")
	snap, err := held.BeginTx(ctx, &sql.TxOptions{ReadOnly: true})
	if err != nil {
		t.Fatal(err)
	}
	r22Int(t, snap, "SELECT count(*) FROM keep")
	if err := Backup(ctx, src, "", dpath, nil); err != nil {
		t.Fatal(err)
	}
	if n := r22Int(t, snap, "SELECT count(*) FROM keep"); n != 2 {
		t.Errorf("snapshot taken before the Backup: %d rows of keep", n)
	}
	snap.Rollback()
	if got := imageDigest(t, held); got != want {
		t.Errorf("the other *sql.DB after Backup into its file: %q, want %q", got, want)
	}
	if n := r22Int(t, r22StmtT{stmt}, ""); n != 6 {
		t.Errorf("statement prepared before: %d objects, want 6", n)
	}
	mustExec(t, held, "INSERT INTO t(name) VALUES ('after')")
}

// r22Stmt lets r22Int run a prepared statement.
func (s r22StmtT) QueryRow(string, ...any) *sql.Row { return s.s.QueryRow() }

type r22StmtT struct{ s *sql.Stmt }

// TestReview22DeadlineWaitingForWriter: a write transaction held on the
// destination; Backup (and Restore) wait for the writer lock up to the
// context's deadline, then fail with the context's error, destination
// unchanged.
func TestReview22DeadlineWaitingForWriter(t *testing.T) {
	dir := t.TempDir()
	src := openTestDSN(t, fileDSN(filepath.Join(dir, "src.db")))
	fillForImage(t, src)
	dpath := filepath.Join(dir, "dst.db")
	dst := openTestDSN(t, fileDSN(dpath))
	mustExec(t, dst, "CREATE TABLE keep(x); INSERT INTO keep VALUES (1)")
	hold, err := dst.Conn(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	if _, err := hold.ExecContext(context.Background(), "BEGIN IMMEDIATE; INSERT INTO keep VALUES (2)"); err != nil {
		t.Fatal(err)
	}
	check := func(name string, f func(ctx context.Context) error) {
		ctx, cancel := context.WithTimeout(context.Background(), 300*time.Millisecond)
		defer cancel()
		start := time.Now()
		err := f(ctx)
		el := time.Since(start)
		t.Logf("%s: %v after %v", name, err, el)
		if !errors.Is(err, context.DeadlineExceeded) {
			t.Errorf("%s while the destination's writer lock is held: %v, want context.DeadlineExceeded", name, err)
		}
		if el < 250*time.Millisecond || el > 2*time.Second {
			t.Errorf("%s returned after %v: want about the 300ms deadline", name, el)
		}
	}
	check("Backup", func(ctx context.Context) error { return Backup(ctx, src, "", dpath, nil) })
	check("Restore", func(ctx context.Context) error { return Restore(ctx, dst, "", filepath.Join(dir, "src.db"), nil) })
	if _, err := hold.ExecContext(context.Background(), "COMMIT"); err != nil {
		t.Fatal(err)
	}
	hold.Close()
	if n := r22Int(t, dst, "SELECT count(*) FROM keep"); n != 2 {
		t.Errorf("destination after timed-out copies and the holder's commit: %d rows, want 2", n)
	}
	// And the lock is free: a Backup now works.
	if err := Backup(context.Background(), src, "", dpath, nil); err != nil {
		t.Errorf("Backup after the holder committed: %v", err)
	}
}

// TestReview22ProgressPanic: a Progress callback that panics: the panic
// reaches the caller; afterwards no lock is leaked (the destination is
// writable, the source connection usable, outside any transaction), and a
// file Backup created is removed as for any failed Backup.
func TestReview22ProgressPanic(t *testing.T) {
	ctx := context.Background()
	dir := t.TempDir()
	spath := filepath.Join(dir, "src.db")
	src := openTestDSN(t, fileDSN(spath))
	fillForImage(t, src)
	c, err := OpenConn(ctx, fileDSN(spath))
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	boom := &BackupOptions{StepPages: 2, Progress: func(int, int) { panic("boom") }}
	call := func(f func() error) (p any, err error) {
		defer func() { p = recover() }()
		return f(), nil
	}

	existing := filepath.Join(dir, "existing.db")
	edb := openTestDSN(t, fileDSN(existing))
	mustExec(t, edb, "CREATE TABLE keep(x); INSERT INTO keep VALUES (1)")
	p, _ := call(func() error { return c.Backup(ctx, "", existing, boom) })
	if p == nil {
		t.Fatalf("panic in Progress did not reach the caller")
	}
	if n := r22Int(t, edb, "SELECT count(*) FROM keep"); n != 1 {
		t.Errorf("destination after a panicking Backup: %d rows", n)
	}
	if _, err := edb.Exec("INSERT INTO keep VALUES (2)"); err != nil {
		t.Errorf("destination not writable after a panicking Backup: %v", err)
	}
	if !c.c.cc.GetAutocommit() {
		t.Errorf("source connection left in a transaction by a panicking Backup")
	}
	if _, err := c.Exec(ctx, "INSERT INTO t(name) VALUES ('after panic')"); err != nil {
		t.Errorf("source connection after a panicking Backup: %v", err)
	}

	nf := filepath.Join(dir, "new.db")
	call(func() error { return c.Backup(ctx, "", nf, boom) })
	if s := r22Siblings(t, nf); len(s) != 0 {
		t.Errorf("files left by a Backup that panicked, of a file it created: %v (the contract: a failed Backup removes a file it created)", s)
	}

	// Restore through database/sql: the panic goes through sql.Conn.Raw.
	p, _ = call(func() error { return Restore(ctx, edb, "", spath, boom) })
	if p == nil {
		t.Errorf("panic in Restore's Progress did not reach the caller")
	}
	if n := r22Int(t, edb, "SELECT count(*) FROM keep"); n != 2 {
		t.Errorf("destination after a panicking Restore: %d rows, want 2", n)
	}
	if _, err := edb.Exec("INSERT INTO keep VALUES (3)"); err != nil {
		t.Errorf("destination not writable after a panicking Restore: %v", err)
	}
	// The native connection after a panicking Restore into it.
	c2, err := OpenConn(ctx, fileDSN(existing))
	if err != nil {
		t.Fatal(err)
	}
	defer c2.Close()
	call(func() error { return c2.Restore(ctx, "", spath, boom) })
	if !c2.c.cc.GetAutocommit() {
		t.Errorf("connection left in a transaction by a panicking Restore")
	}
	if _, err := c2.Exec(ctx, "INSERT INTO keep VALUES (4)"); err != nil {
		t.Errorf("connection after a panicking Restore: %v", err)
	}
	if n := r22Int(t, edb, "SELECT count(*) FROM keep"); n != 4 {
		t.Errorf("destination after a panicking Restore on a native conn: %d rows, want 4", n)
	}
}

// TestReview22Schemas: schema names "MAIN", "Temp", an attached database
// whose name has a quote in it, and temp with no temp objects yet.
func TestReview22Schemas(t *testing.T) {
	ctx := context.Background()
	dir := t.TempDir()
	att := filepath.Join(dir, "att.db")
	r22MakeDB(t, att, "CREATE TABLE a(x); INSERT INTO a VALUES ('attached')")
	other := filepath.Join(dir, "other.db")
	r22MakeDB(t, other, "CREATE TABLE o(y); INSERT INTO o VALUES ('other')")
	c, err := OpenConn(ctx, fileDSN(filepath.Join(dir, "main.db")))
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	if _, err := c.Exec(ctx, `CREATE TABLE m(z); INSERT INTO m VALUES ('main'); ATTACH ? AS "we""ird"`, att); err != nil {
		t.Fatal(err)
	}
	one := func(path, q string) string {
		t.Helper()
		db := r22Stock(t, path)
		defer db.Close()
		var s string
		if err := db.QueryRow(q).Scan(&s); err != nil {
			t.Errorf("%s on %s: %v", q, filepath.Base(path), err)
		}
		return s
	}
	if err := c.Backup(ctx, "MAIN", filepath.Join(dir, "upper.db"), nil); err != nil {
		t.Errorf("Backup of MAIN: %v", err)
	} else if got := one(filepath.Join(dir, "upper.db"), "SELECT z FROM m"); got != "main" {
		t.Errorf("copy of MAIN: %q", got)
	}
	if err := c.Backup(ctx, `we"ird`, filepath.Join(dir, "weird.db"), nil); err != nil {
		t.Errorf(`Backup of we"ird: %v`, err)
	} else if got := one(filepath.Join(dir, "weird.db"), "SELECT x FROM a"); got != "attached" {
		t.Errorf(`copy of we"ird: %q`, got)
	}
	if err := c.Backup(ctx, `WE"IRD`, filepath.Join(dir, "weird2.db"), nil); err != nil {
		t.Errorf(`Backup of WE"IRD: %v`, err)
	}
	if _, err := c.Exec(ctx, "CREATE TEMP TABLE tt(q)"); err != nil {
		t.Fatal(err)
	}
	if err := c.Restore(ctx, "TEMP", other, nil); err != nil {
		t.Errorf("Restore into TEMP: %v", err)
	} else {
		var s string
		if err := c.QueryRow(ctx, "SELECT y FROM temp.o").Scan(&s); err != nil || s != "other" {
			t.Errorf("temp after Restore: %q, %v", s, err)
		}
	}
	if err := c.Restore(ctx, `we"ird`, other, nil); err != nil {
		t.Errorf(`Restore into we"ird: %v`, err)
	} else {
		var s string
		if err := c.QueryRow(ctx, `SELECT y FROM "we""ird".o`).Scan(&s); err != nil || s != "other" {
			t.Errorf(`we"ird after Restore: %q, %v`, s, err)
		}
	}
	if err := c.Restore(ctx, "Main", other, nil); err != nil {
		t.Errorf("Restore into Main: %v", err)
	} else {
		var s string
		if err := c.QueryRow(ctx, "SELECT y FROM main.o").Scan(&s); err != nil || s != "other" {
			t.Errorf("main after Restore: %q, %v", s, err)
		}
	}
}

// TestReview22CaptureRefusals: Backup into a cdc=on database another
// *sql.DB has open, and into a database with a change stream, is refused,
// nothing changed.
func TestReview22CaptureRefusals(t *testing.T) {
	ctx := context.Background()
	dir := t.TempDir()
	src := openTestDSN(t, fileDSN(filepath.Join(dir, "src.db")))
	fillForImage(t, src)
	cdcPath := filepath.Join(dir, "cdc.db")
	cdb := openTestDSN(t, fileDSN(cdcPath)+"?cdc=on")
	mustExec(t, cdb, "CREATE TABLE z(x); INSERT INTO z VALUES (1)")
	before := r22Digest(t, cdb)
	err := Backup(ctx, src, "", cdcPath, nil)
	if err == nil || !strings.Contains(err.Error(), "captured") {
		t.Errorf("Backup into a cdc=on database open elsewhere: %v, want refused (captured)", err)
	}
	if got := r22Digest(t, cdb); got != before {
		t.Errorf("cdc=on database changed by a refused Backup")
	}

	spath := filepath.Join(dir, "streamed.db")
	sdb := openTestDSN(t, fileDSN(spath))
	mustExec(t, sdb, "CREATE TABLE z(x); INSERT INTO z VALUES (1)")
	s, err := Changes(ctx, sdb, ChangeOptions{})
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	err = Backup(ctx, src, "", spath, nil)
	if err == nil || !strings.Contains(err.Error(), "captured") {
		t.Errorf("Backup into a database with a change stream: %v, want refused", err)
	}
	err = Restore(ctx, sdb, "", filepath.Join(dir, "src.db"), nil)
	if err == nil || !strings.Contains(err.Error(), "captured") {
		t.Errorf("Restore into a database with a change stream: %v, want refused", err)
	}
	if n := r22Int(t, sdb, "SELECT count(*) FROM z"); n != 1 {
		t.Errorf("streamed database after refused copies: %d rows", n)
	}
	// Backup FROM a captured database is fine.
	if err := Backup(ctx, cdb, "", filepath.Join(dir, "fromcdc.db"), nil); err != nil {
		t.Errorf("Backup from a cdc=on database: %v", err)
	}
}

// TestReview22NewFileMode: a copy Backup creates has the permissions a
// database file this driver (or stock SQLite) creates gets, not
// os.CreateTemp's 0600.
func TestReview22NewFileMode(t *testing.T) {
	ctx := context.Background()
	dir := t.TempDir()
	src := openTestDSN(t, fileDSN(filepath.Join(dir, "src.db")))
	mustExec(t, src, "CREATE TABLE t(x); INSERT INTO t VALUES (1)")
	if err := Backup(ctx, src, "", filepath.Join(dir, "copy.db"), nil); err != nil {
		t.Fatal(err)
	}
	want, err := os.Stat(filepath.Join(dir, "src.db"))
	if err != nil {
		t.Fatal(err)
	}
	got, err := os.Stat(filepath.Join(dir, "copy.db"))
	if err != nil {
		t.Fatal(err)
	}
	if got.Mode().Perm() != want.Mode().Perm() {
		t.Errorf("copy made by Backup has mode %v; a database file Open creates has %v (the copy is written under os.CreateTemp, mode 0600, in backupToNewFile)", got.Mode().Perm(), want.Mode().Perm())
	}
}

// TestReview22NewFileRelativePath: Backup to a relative path writes its
// temporary file beside the destination, not in $TMPDIR.
func TestReview22NewFileRelativePath(t *testing.T) {
	ctx := context.Background()
	dir := t.TempDir()
	src := openTestDSN(t, fileDSN(filepath.Join(dir, "src.db")))
	mustExec(t, src, "CREATE TABLE t(x); INSERT INTO t VALUES (1)")
	t.Chdir(dir)
	t.Setenv("TMPDIR", filepath.Join(dir, "no-such-tmpdir"))
	if err := Backup(ctx, src, "", "rel.db", nil); err != nil {
		t.Errorf("Backup to the relative path rel.db with TMPDIR elsewhere: %v (backupToNewFile: filepath.Split gives dir \"\", and os.CreateTemp(\"\") means $TMPDIR)", err)
	}
	if _, err := os.Stat(filepath.Join(dir, "rel.db")); err != nil {
		t.Errorf("rel.db after Backup: %v", err)
	}
	if err := Backup(ctx, src, "", "file:rel2.db?sync=normal", nil); err != nil {
		t.Errorf("Backup to file:rel2.db: %v", err)
	}
}

// TestReview22NewFileStaleLog: a Backup to a name that no database file
// has, but a stale log of a deleted database at that name (name-wal,
// frames never checkpointed) does: opening the copy must give the copy,
// not the deleted database's pages replayed over it. The storage engine
// removes the log of an empty database when it opens one (engine.go
// openLog), and stock SQLite ignores a journal of an empty file; a copy
// that appears whole under its name skips both.
func TestReview22NewFileStaleLog(t *testing.T) {
	ctx := context.Background()
	dir := t.TempDir()
	src := openTestDSN(t, fileDSN(filepath.Join(dir, "src.db")))
	want := fillForImage(t, src)

	ghostPath := filepath.Join(dir, "ghost.db")
	ghost := openUnchecked(t, fileDSN(ghostPath))
	mustExec(t, ghost, `CREATE TABLE ghost(x); INSERT INTO ghost VALUES ('deleted database');
		CREATE TABLE t(id INTEGER PRIMARY KEY, name TEXT, data BLOB); INSERT INTO t VALUES (1, 'ghost', x'00')`)
	log, err := os.ReadFile(ghostPath + "-wal")
	if err != nil {
		t.Fatal(err)
	}
	ghost.Close()
	if len(log) <= 32 {
		t.Skipf("the ghost's log held no frames (%d bytes)", len(log))
	}
	dst := filepath.Join(dir, "copy.db")
	if err := os.WriteFile(dst+"-wal", log, 0o644); err != nil {
		t.Fatal(err)
	}
	if err := Backup(ctx, src, "", dst, nil); err != nil {
		t.Fatal(err)
	}
	t.Logf("files after Backup: %v", r22Siblings(t, dst))
	cp, err := Open(fileDSN(dst))
	if err != nil {
		t.Fatal(err)
	}
	defer cp.Close()
	var n int
	if err := cp.QueryRow("SELECT count(*) FROM sqlite_master WHERE name = 'ghost'").Scan(&n); err != nil {
		t.Errorf("copy opened by libsql: %v", err)
	} else if n != 0 {
		t.Errorf("copy opened by libsql has the deleted database's table ghost: a stale %s-wal was replayed over the copy", filepath.Base(dst))
	}
	var got string
	if err := cp.QueryRow(`SELECT
		(SELECT count(*) || ':' || total(length(data)) || ':' || group_concat(hex(substr(data, 1, 4)) || hex(substr(data, -4)), '')
			FROM (SELECT data FROM t ORDER BY id))
		|| '/' || (SELECT count(*) FROM log) || '/' || (SELECT count(*) FROM v)`).Scan(&got); err != nil || got != want {
		t.Errorf("copy opened by libsql: contents %.40q..., %v; want the source's", got, err)
	}
	rows, err := cp.Query("PRAGMA integrity_check")
	if err == nil {
		var out []string
		for rows.Next() {
			var s string
			rows.Scan(&s)
			out = append(out, s)
		}
		rows.Close()
		if len(out) != 1 || out[0] != "ok" {
			t.Errorf("copy opened by libsql: integrity_check %v", out[:min(3, len(out))])
		}
	}
}

// TestReview22RestoreRefusedChangesNothing: Restore into a mode=ro
// database, and from a database of another page size, fails and changes
// nothing.
func TestReview22RestoreRefusedChangesNothing(t *testing.T) {
	ctx := context.Background()
	dir := t.TempDir()
	other := filepath.Join(dir, "other.db")
	r22MakeDB(t, other, "CREATE TABLE o(y); INSERT INTO o VALUES (1)")
	big := filepath.Join(dir, "big.db")
	bdb := openUnchecked(t, fileDSN(big)+"?_pragma=page_size(16384)")
	mustExec(t, bdb, "CREATE TABLE o(y); INSERT INTO o VALUES (2)")
	bdb.Close()
	path := filepath.Join(dir, "live.db")
	r22MakeDB(t, path, "CREATE TABLE keep(x); INSERT INTO keep VALUES (7)")
	ro := openUnchecked(t, fileDSN(path)+"?mode=ro")
	err := Restore(ctx, ro, "", other, nil)
	t.Logf("Restore into mode=ro: %v", err)
	if err == nil {
		t.Errorf("Restore into a mode=ro database: no error")
	}
	ro.Close()
	db := openTestDSN(t, fileDSN(path))
	err = Restore(ctx, db, "", big, nil)
	t.Logf("Restore from another page size: %v", err)
	if err == nil {
		t.Errorf("Restore from a database of another page size: no error")
	}
	if n := r22Int(t, db, "SELECT x FROM keep"); n != 7 {
		t.Errorf("database after refused Restores: %d", n)
	}
	mustExec(t, db, "INSERT INTO keep VALUES (8)")
}

// TestReview22TempNotYetOpened: the doc lists "temp" as a schema; SQLite's
// sqlite3_backup_init opens a connection's temp database if it is not yet
// open, but copyDatabase's sqlite3_db_readonly check refuses it as "no
// such database" until a temp object has been created.
func TestReview22TempNotYetOpened(t *testing.T) {
	ctx := context.Background()
	dir := t.TempDir()
	c, err := OpenConn(ctx, fileDSN(filepath.Join(dir, "main.db")))
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	if err := c.Backup(ctx, "temp", filepath.Join(dir, "temp0.db"), nil); err != nil {
		t.Errorf("Backup of temp before any temp object: %v; want an (empty) copy, as stock sqlite3_backup_init gives", err)
	}
	other := filepath.Join(dir, "other.db")
	r22MakeDB(t, other, "CREATE TABLE o(y); INSERT INTO o VALUES ('other')")
	if err := c.Restore(ctx, "temp", other, nil); err != nil {
		t.Errorf("Restore into temp before any temp object: %v", err)
	}
}
