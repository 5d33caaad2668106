package libsql

// Crash review 8, driver level: durable CDC (cdc=on) over a log that
// restarts at the next writer after hand checkpoints (TRUNCATE, RESTART),
// is cut to journal_size_limit, and is reopened now and then, with a power
// loss (iofault.CrashFS) before every mutating operation in turn. After
// the reopen: every acknowledged row is there and nothing never attempted;
// libsql_cdc holds one transaction per committed row, whose LSNs increase
// in commit order (a stream from the oldest change reads them so); and the
// next commit's LSN is above every stored one (a log cut to nothing by
// TRUNCATE starts its versions over unless CDC raises them). Stock SQLite
// then reads the files with integrity_check ok.

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"math/rand/v2"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/golibsql/libsql/changefeed"
	"github.com/golibsql/libsql/iouring_vfs/ioback"
	"github.com/golibsql/libsql/iouring_vfs/iofault"
)

type cr8dStep struct {
	kind string // "insert", "concurrent", "ckpt", "reopen"
	id   int64
	n    int
	mode string
}

func cr8dScript(seed uint64, steps int) []cr8dStep {
	rng := rand.New(rand.NewPCG(seed, 0xd8))
	var s []cr8dStep
	id := int64(0)
	modes := []string{"TRUNCATE", "RESTART", "TRUNCATE", "PASSIVE"}
	for i := range steps {
		switch r := rng.IntN(10); {
		case r < 5:
			id++
			s = append(s, cr8dStep{kind: "insert", id: id, n: 20 + rng.IntN(1500)})
		case r < 7:
			id++
			s = append(s, cr8dStep{kind: "concurrent", id: id, n: 20 + rng.IntN(1500)})
		case r < 9:
			s = append(s, cr8dStep{kind: "ckpt", mode: modes[rng.IntN(len(modes))]})
		default:
			if i > 2 {
				s = append(s, cr8dStep{kind: "reopen"})
			}
		}
	}
	// The last: a TRUNCATE, then one more commit (a restart at the writer).
	s = append(s, cr8dStep{kind: "ckpt", mode: "TRUNCATE"})
	s = append(s, cr8dStep{kind: "insert", id: id + 1, n: 100})
	return s
}

type cr8dOutcome struct {
	acked   []int64
	pending int64 // the row of the commit whose outcome is unknown, or 0
	errs    []error
}

// cr8dWorkload runs the script through the driver on dsn, stopping at the
// first error.
func cr8dWorkload(dsn string, script []cr8dStep) *cr8dOutcome {
	o := &cr8dOutcome{}
	ctx := context.Background()
	open := func() *sql.DB {
		db, err := sql.Open("libsql", dsn)
		if err != nil {
			o.errs = append(o.errs, err)
			return nil
		}
		db.SetMaxOpenConns(1)
		db.SetMaxIdleConns(1)
		if _, err := db.Exec("CREATE TABLE IF NOT EXISTS t(id INTEGER PRIMARY KEY, v BLOB NOT NULL)"); err != nil {
			o.errs = append(o.errs, fmt.Errorf("create: %w", err))
			db.Close()
			return nil
		}
		return db
	}
	db := open()
	if db == nil {
		return o
	}
	defer func() {
		if db != nil {
			if err := db.Close(); err != nil {
				o.errs = append(o.errs, fmt.Errorf("close: %w", err))
			}
		}
	}()
	for _, st := range script {
		var err error
		switch st.kind {
		case "insert":
			_, err = db.Exec("INSERT INTO t(id, v) VALUES (?, zeroblob(?))", st.id, st.n)
		case "concurrent":
			var c *sql.Conn
			if c, err = db.Conn(ctx); err == nil {
				if _, err = c.ExecContext(ctx, "BEGIN CONCURRENT"); err == nil {
					if _, err = c.ExecContext(ctx, "INSERT INTO t(id, v) VALUES (?, zeroblob(?))", st.id, st.n); err == nil {
						_, err = c.ExecContext(ctx, "COMMIT")
					}
					if err != nil {
						c.ExecContext(ctx, "ROLLBACK")
					}
				}
				c.Close()
			}
		case "ckpt":
			_, err = db.Exec("PRAGMA wal_checkpoint(" + st.mode + ")")
		case "reopen":
			err = db.Close()
			db = nil
			if err == nil {
				if db = open(); db == nil {
					return o
				}
			}
		}
		if err != nil {
			if st.id != 0 {
				o.pending = st.id
			}
			o.errs = append(o.errs, fmt.Errorf("%s %d: %w", st.kind, st.id, err))
			return o
		}
		if st.id != 0 {
			o.acked = append(o.acked, st.id)
		}
	}
	return o
}

// cr8dCopyOut copies name and name-wal from fsys to dir for stock SQLite.
func cr8dCopyOut(t *testing.T, fsys ioback.FS, name, dir string) (string, bool) {
	cp := filepath.Join(dir, "stock.db")
	for _, suf := range []string{"", "-wal", "-shm"} {
		os.Remove(cp + suf)
	}
	ok := false
	for _, suf := range []string{"", "-wal"} {
		size, _, err := fsys.Stat(name + suf)
		if err != nil {
			continue
		}
		f, err := fsys.Open(name+suf, ioback.OpenReadOnly)
		if err != nil {
			t.Fatal(err)
		}
		b := make([]byte, size)
		if size > 0 {
			if n, err := f.ReadAt(b, 0); n != len(b) {
				t.Fatalf("read %s: %v", name+suf, err)
			}
		}
		f.Close()
		if err := os.WriteFile(cp+suf, b, 0o644); err != nil {
			t.Fatal(err)
		}
		ok = ok || suf == ""
	}
	return cp, ok
}

// cr8dCheck reopens the crash image and checks it; it returns what it
// found wrong.
func cr8dCheck(t *testing.T, crashed ioback.FS, dsn, path, stockDir string, o *cr8dOutcome) []string {
	var bad []string
	restore := frVFS(t, crashed)
	defer restore()
	db, err := sql.Open("libsql", dsn)
	if err != nil {
		return []string{fmt.Sprintf("reopen: %v", err)}
	}
	defer db.Close()
	db.SetMaxOpenConns(1)
	ids := map[int64]bool{}
	rows, err := db.Query("SELECT id FROM t ORDER BY id")
	if err != nil {
		if len(o.acked) > 0 || !strings.Contains(err.Error(), "no such table") {
			return []string{fmt.Sprintf("read t: %v", err)}
		}
	} else {
		for rows.Next() {
			var id int64
			rows.Scan(&id)
			ids[id] = true
		}
		rows.Close()
	}
	for _, id := range o.acked {
		if !ids[id] {
			bad = append(bad, fmt.Sprintf("acknowledged row %d is lost", id))
		}
	}
	for id := range ids {
		if !slices.Contains(o.acked, id) && id != o.pending {
			bad = append(bad, fmt.Sprintf("row %d is there, never acknowledged nor in flight", id))
		}
	}
	var ic string
	if err := db.QueryRow("PRAGMA integrity_check").Scan(&ic); err != nil || ic != "ok" {
		bad = append(bad, fmt.Sprintf("integrity_check %q %v", ic, err))
	}
	// The stored history: one transaction per row, in commit order.
	var stored, maxLSN int64
	if err := db.QueryRow("SELECT count(*), coalesce(max(lsn), 0) FROM libsql_cdc").Scan(&stored, &maxLSN); err != nil {
		if len(ids) > 0 {
			bad = append(bad, fmt.Sprintf("libsql_cdc: %v", err))
		}
	} else if int(stored) != len(ids) {
		bad = append(bad, fmt.Sprintf("libsql_cdc holds %d transactions for %d rows", stored, len(ids)))
	}
	if len(ids) > 0 {
		ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
		s, err := Changes(ctx, db, ChangeOptions{Since: changefeed.Oldest})
		if err != nil {
			bad = append(bad, fmt.Sprintf("Changes: %v", err))
		} else {
			var lastLSN changefeed.LSN
			var lastID int64
			seen := 0
			for seen < len(ids) {
				c, err := s.Next(ctx)
				if err != nil {
					bad = append(bad, fmt.Sprintf("stream from the oldest change: %v after %d of %d", err, seen, len(ids)))
					break
				}
				if c.Table != "t" {
					continue
				}
				seen++
				if c.LSN <= lastLSN || c.RowID <= lastID || !ids[c.RowID] {
					bad = append(bad, fmt.Sprintf("stream: row %d at LSN %v after row %d at LSN %v (rows present: %v)", c.RowID, c.LSN, lastID, lastLSN, len(ids)))
					break
				}
				lastLSN, lastID = c.LSN, c.RowID
			}
			s.Close()
		}
		cancel()
	}
	// The next commit's LSN is above every stored one.
	if _, err := db.Exec("CREATE TABLE IF NOT EXISTS t(id INTEGER PRIMARY KEY, v BLOB NOT NULL); INSERT INTO t VALUES (1000000, zeroblob(10))"); err != nil {
		bad = append(bad, fmt.Sprintf("commit after the reopen: %v", err))
	} else {
		var lsn int64
		if err := db.QueryRow("SELECT max(lsn) FROM libsql_cdc").Scan(&lsn); err != nil {
			bad = append(bad, fmt.Sprintf("libsql_cdc after the reopen: %v", err))
		} else if lsn <= maxLSN {
			bad = append(bad, fmt.Sprintf("the commit after the reopen got LSN %v, not above the stored %v", changefeed.LSN(lsn), changefeed.LSN(maxLSN)))
		}
	}
	if err := db.Close(); err != nil {
		bad = append(bad, fmt.Sprintf("close: %v", err))
	}
	if cp, ok := cr8dCopyOut(t, crashed, path, stockDir); ok {
		sdb, err := sql.Open("sqlite", "file:"+cp+"?_pragma=synchronous(off)")
		if err != nil {
			t.Fatal(err)
		}
		var ic string
		var n int64
		if err := sdb.QueryRow("PRAGMA integrity_check").Scan(&ic); err != nil || ic != "ok" {
			bad = append(bad, fmt.Sprintf("stock SQLite: integrity_check %q %v", ic, err))
		} else if err := sdb.QueryRow("SELECT count(*) FROM t").Scan(&n); err != nil || n != int64(len(ids))+1 {
			bad = append(bad, fmt.Sprintf("stock SQLite: %d rows (%v), want %d", n, err, len(ids)+1))
		}
		sdb.Close()
	}
	return bad
}

func TestCrashReview8DriverCDCPowerLoss(t *testing.T) {
	seeds := []uint64{8800}
	stride := 3
	if os.Getenv("LIBSQL_SOAK") != "" {
		seeds, stride = []uint64{8800, 8811, 8822, 8833}, 1
	}
	if s := os.Getenv("LIBSQL_CR8_SEED"); s != "" {
		v, err := strconv.ParseUint(s, 10, 64)
		if err != nil {
			t.Fatal(err)
		}
		seeds, stride = []uint64{v}, 1
	}
	for _, ac := range []int{0, 3} {
		t.Run(fmt.Sprintf("autocheckpoint%d", ac), func(t *testing.T) {
			for _, seed := range seeds {
				script := cr8dScript(seed, 24)
				stockDir := t.TempDir()
				total := -1
				failures := 0
				for k := -1; k <= total+1; k++ {
					if k >= 0 && k%stride != int(seed)%stride {
						continue
					}
					cfs := iofault.NewCrashFS(seed*1_000_003 + uint64(k+2))
					ffs := iofault.NewFaultFS(cfs)
					var crashed *iofault.CrashFS
					var crashOp string
					n := 0
					ffs.Arm(iofault.Rule{N: 1 << 40, Match: func(op iofault.Op) bool {
						switch op.Kind {
						case iofault.OpOpen, iofault.OpRemove, iofault.OpSyncDir, iofault.OpWriteAt, iofault.OpWritevAt, iofault.OpSync, iofault.OpTruncate:
							if n == k {
								crashed = cfs.Crash()
								crashOp = op.String()
							}
							n++
						}
						return false
					}})
					dir := fmt.Sprintf("/cr8d/%d-%d-%d", ac, seed, k)
					path := dir + "/t.db"
					dsn := fmt.Sprintf("file:%s?cdc=on&sync=full&busy_timeout=10s&page_cache=16&_pragma=wal_autocheckpoint(%d)&_pragma=journal_size_limit(0)", path, ac)
					restore := frVFS(t, ffs)
					o := cr8dWorkload(dsn, script)
					restore()
					if k < 0 {
						if len(o.errs) > 0 {
							t.Fatalf("seed %d: the run without a power loss failed: %v", seed, o.errs)
						}
						total = n
						t.Logf("seed %d: %d mutating operations, %d commits", seed, total, len(o.acked))
						continue
					}
					if crashed == nil {
						crashed, crashOp = cfs.Crash(), "(after the end)"
					}
					for _, err := range o.errs {
						if !errors.Is(err, iofault.ErrCrashed) && !strings.Contains(err.Error(), "I/O") && !strings.Contains(err.Error(), "crashed") && !strings.Contains(err.Error(), "poison") && !strings.Contains(err.Error(), "unable to open") {
							t.Logf("seed %d crash %d: an error that does not say I/O: %v", seed, k, err)
						}
					}
					if bad := cr8dCheck(t, crashed, dsn, path, stockDir, o); len(bad) > 0 {
						failures++
						if failures <= 5 {
							t.Errorf("autocheckpoint %d seed %d: power loss before mutating op %d of %d (%s); %d acknowledged, in flight %d; errors: %v\n\t%s",
								ac, seed, k, n, crashOp, len(o.acked), o.pending, o.errs[:min(len(o.errs), 2)], strings.Join(bad, "\n\t"))
						}
					}
				}
				if failures > 5 {
					t.Errorf("seed %d: %d crash points failed", seed, failures)
				}
			}
		})
	}
}
