package iouringvfs

// Crash review 8: power losses and I/O faults at every operation of
// scripted workloads that make the log's newest paths run:
//
//   - a log checkpoints caught up with restarts lazily when a writer next
//     takes the writer lock (restartOnWrite, wal.RestartCheckpointed),
//     including for a write transaction that then rolls back;
//   - PRAGMA journal_size_limit: a restart cuts the -wal file (SetSizeLimit);
//   - wal_checkpoint(RESTART) and (TRUNCATE) by hand between commits,
//     automatic checkpoints with a tiny wal_autocheckpoint, restarts that
//     keep pages for a long reader (RestartRetaining), dropped when the
//     reader ends (DropRetained);
//   - the first commit of a new database going into the main file, and
//     the removal of a stale -wal beside an empty main file at open.
//
// Crash sweep: an iofault.CrashFS (synced data plus a random part of the
// rest) loses power before the k-th mutating operation (open, remove,
// syncdir, write, sync, truncate) for every k of the workload in turn. A
// power loss before a read leaves the same image as one before the next
// mutating operation, so these k are every distinct crash point. Then:
//   - stock SQLite opens a copy of the raw crash image (its own recovery);
//   - the engine reopens it;
//
// and each must see exactly the state after every acknowledged (sync=full)
// commit, or after the one commit in flight as well, with every row's
// contents intact and PRAGMA integrity_check ok. The engine then commits
// once more and closes, and stock SQLite must see that too.
//
// Fault sweep: an iofault.FaultFS fails the n-th operation of a class
// (EIO anywhere, ENOSPC or a short write on writes) for every n: the error
// must reach a caller (a statement, or the engine's unreported error at
// close) or leave everything intact; a commit that failed without
// poisoning the engine must have changed nothing; the files, as the fault
// left them, must open in stock SQLite and in the engine with the state
// the callers were told.
//
// Configurations with wal_autocheckpoint > 0 run background checkpoints,
// whose interleaving with the script is up to the scheduler: the crash
// index then names a slightly different operation from run to run. The
// configurations with wal_autocheckpoint=0 are deterministic given the seed.
//
// Findings, fixed since (their tests, and the sweeps' checks of what they
// broke, now run as regression tests):
//   - CR8-TRUNC-NOHDR (TestCrashReview8TruncateLogWithInvalidHeader): a
//     -wal with an invalid header (or a reservation cut short at offset
//     0) is never truncated by wal_checkpoint(TRUNCATE) nor trimmed at
//     close: l.reserved stays below the file's size.
//   - CR8-LIMIT-NOFRAMES (TestCrashReview8SizeLimitAfterFailedCommit): a
//     -wal holding reserved space but no frame is never cut to
//     journal_size_limit by a restart.
//   - CR8-STALE-OFF (TestCrashReview8StaleLogPowerLoss/off): with
//     sync=off, a deleted database's -wal can come back after a power loss
//     and be replayed into the new database at its name.
//
// Normal runs take about 20 s (one seed, strided sweeps); LIBSQL_SOAK=1
// sweeps every index over six seeds (give go test -timeout 120m);
// LIBSQL_CR8_SEED=N sweeps every index of that one seed. Failures print
// the configuration, the seed and the crash (or fault) index.

import (
	"bytes"
	"database/sql"
	"fmt"
	"math/rand/v2"
	"os"
	"path/filepath"
	"runtime"
	"slices"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/golibsql/libsql/internal/capi"
	"github.com/golibsql/libsql/iouring_vfs/ioback"
	"github.com/golibsql/libsql/iouring_vfs/iofault"
)

// cr8Row is one row of table t: its update count and its blob's length in
// bytes/2; the blob's contents follow from id and k (cr8Blob).
type cr8Row struct{ k, n int }

// cr8DB is the database's content: whether table t exists, and its rows.
type cr8DB struct {
	table bool
	rows  map[int64]cr8Row
}

func (d cr8DB) clone() cr8DB {
	c := cr8DB{table: d.table, rows: make(map[int64]cr8Row, len(d.rows))}
	for id, r := range d.rows {
		c.rows[id] = r
	}
	return c
}

func (d cr8DB) equal(o cr8DB) bool {
	if d.table != o.table || len(d.rows) != len(o.rows) {
		return false
	}
	for id, r := range d.rows {
		if o.rows[id] != r {
			return false
		}
	}
	return true
}

func (d cr8DB) String() string {
	if !d.table {
		return "{no table}"
	}
	ids := make([]int64, 0, len(d.rows))
	for id := range d.rows {
		ids = append(ids, id)
	}
	slices.Sort(ids)
	var b strings.Builder
	fmt.Fprintf(&b, "{%d rows:", len(ids))
	for i, id := range ids {
		if i == 12 {
			b.WriteString(" ...")
			break
		}
		fmt.Fprintf(&b, " %d/k%d/n%d", id, d.rows[id].k, d.rows[id].n)
	}
	b.WriteString("}")
	return b.String()
}

// cr8Byte is the byte every blob position of row id at update k holds
// (as two hex digits, see cr8ValSQL).
func cr8Byte(id int64, k int) byte { return byte((id*31 + int64(k)*7) % 256) }

// cr8Blob is the blob row (id, k) of n units holds.
func cr8Blob(id int64, k, n int) []byte {
	return bytes.Repeat([]byte(fmt.Sprintf("%02x", cr8Byte(id, k))), n)
}

// cr8ValSQL is the SQL expression of the blob of row idExpr at update kExpr
// with n units: n copies of the two hex digits of cr8Byte.
func cr8ValSQL(idExpr, kExpr string, n int) string {
	return fmt.Sprintf("CAST(replace(hex(zeroblob(%d)), '00', printf('%%02x', ((%s)*31 + (%s)*7) %% 256)) AS BLOB)", n, idExpr, kExpr)
}

// cr8Action is one step of the script: SQL run on a connection, and what a
// commit of it does to the database.
type cr8Action struct {
	kind  string // "tx", "ckpt", "rollback", "readerBegin", "readerEnd", "vacuum", "reopen"
	conn  int    // 0, 1: writers; 2: the long reader
	sql   string
	apply func(d *cr8DB)
}

// cr8Cfg is a workload configuration.
type cr8Cfg struct {
	name      string
	autoCkpt  int   // PRAGMA wal_autocheckpoint
	sizeLimit int64 // PRAGMA journal_size_limit
	pageCache int   // libsql_page_cache
	steps     int
	reader    bool   // a long reader over the middle third
	vacuum    bool   // a VACUUM half way
	reopens   bool   // close every connection and reopen, now and then
	sync      string // libsql_sync: "full" (the default) or "normal"
	pageSize  int    // 0: 1024
	soakOnly  bool   // run under LIBSQL_SOAK only
}

func (cfg cr8Cfg) syncMode() string {
	if cfg.sync == "" {
		return "full"
	}
	return cfg.sync
}

// cr8Script builds the workload of cfg from seed: the same actions every
// run, so that the operations (of the deterministic configurations) are
// the same too.
func cr8Script(cfg cr8Cfg, seed uint64) []cr8Action {
	rng := rand.New(rand.NewPCG(seed, 0x8c8))
	var acts []cr8Action
	// gen is the model as the script expects it, to choose ids; the
	// actions themselves are written in terms of whatever rows exist.
	gen := cr8DB{rows: map[int64]cr8Row{}}
	acts = append(acts, cr8Action{kind: "tx", conn: 0,
		sql:   "CREATE TABLE t(id INTEGER PRIMARY KEY, k INTEGER NOT NULL, v BLOB NOT NULL)",
		apply: func(d *cr8DB) { d.table = true; d.rows = map[int64]cr8Row{} }})
	gen.table = true
	nextID := int64(1)
	pick := func(max int) []int64 {
		ids := make([]int64, 0, len(gen.rows))
		for id := range gen.rows {
			ids = append(ids, id)
		}
		slices.Sort(ids)
		rng.Shuffle(len(ids), func(i, j int) { ids[i], ids[j] = ids[j], ids[i] })
		return ids[:min(len(ids), 1+rng.IntN(max))]
	}
	insert := func(rows, minN, maxN int) (string, func(d *cr8DB)) {
		var vals []string
		type ins struct {
			id int64
			n  int
		}
		var list []ins
		for range rows {
			id := nextID
			nextID++
			n := minN + rng.IntN(maxN-minN+1)
			vals = append(vals, fmt.Sprintf("(%d, 0, %s)", id, cr8ValSQL(strconv.FormatInt(id, 10), "0", n)))
			list = append(list, ins{id, n})
			gen.rows[id] = cr8Row{0, n}
		}
		return "INSERT INTO t(id, k, v) VALUES " + strings.Join(vals, ", "), func(d *cr8DB) {
			for _, r := range list {
				d.rows[r.id] = cr8Row{0, r.n}
			}
		}
	}
	update := func() (string, func(d *cr8DB)) {
		ids := pick(3)
		n := 50 + rng.IntN(1500)
		for _, id := range ids {
			gen.rows[id] = cr8Row{gen.rows[id].k + 1, n}
		}
		return fmt.Sprintf("UPDATE t SET k = k + 1, v = %s WHERE id IN (%s)", cr8ValSQL("id", "k + 1", n), cr8IDList(ids)), func(d *cr8DB) {
			for _, id := range ids {
				if r, ok := d.rows[id]; ok {
					d.rows[id] = cr8Row{r.k + 1, n}
				}
			}
		}
	}
	del := func() (string, func(d *cr8DB)) {
		ids := pick(3)
		for _, id := range ids {
			delete(gen.rows, id)
		}
		return fmt.Sprintf("DELETE FROM t WHERE id IN (%s)", cr8IDList(ids)), func(d *cr8DB) {
			for _, id := range ids {
				delete(d.rows, id)
			}
		}
	}
	readerBegin, readerEnd := -1, -1
	if cfg.reader {
		readerBegin, readerEnd = cfg.steps/3, 2*cfg.steps/3
	}
	modes := []string{"TRUNCATE", "RESTART", "PASSIVE", "FULL", "TRUNCATE", "RESTART"}
	for i := range cfg.steps {
		switch i {
		case readerBegin:
			acts = append(acts, cr8Action{kind: "readerBegin", conn: 2})
		case readerEnd:
			acts = append(acts, cr8Action{kind: "readerEnd", conn: 2})
		}
		if cfg.reopens && i%11 == 10 {
			acts = append(acts, cr8Action{kind: "reopen"})
		}
		if cfg.vacuum && i == cfg.steps/2 {
			acts = append(acts, cr8Action{kind: "vacuum", conn: 0, sql: "VACUUM"})
		}
		conn := rng.IntN(2)
		switch r := rng.IntN(20); {
		case r < 6 || len(gen.rows) < 3:
			sql, ap := insert(1+rng.IntN(3), 30, 1400)
			acts = append(acts, cr8Action{kind: "tx", conn: conn, sql: sql, apply: ap})
		case r < 9:
			sql, ap := update()
			acts = append(acts, cr8Action{kind: "tx", conn: conn, sql: sql, apply: ap})
		case r < 11:
			sql, ap := del()
			acts = append(acts, cr8Action{kind: "tx", conn: conn, sql: sql, apply: ap})
		case r < 12:
			// A big commit: many frames, past the reserved space of a
			// log cut to journal_size_limit.
			sql, ap := insert(6, 1500, 2500)
			acts = append(acts, cr8Action{kind: "tx", conn: conn, sql: sql, apply: ap})
		case r < 14:
			// Several statements in one explicit transaction.
			s1, a1 := insert(1, 30, 600)
			s2, a2 := update()
			s3, a3 := del()
			acts = append(acts, cr8Action{kind: "tx", conn: conn,
				sql:   "BEGIN IMMEDIATE; " + s1 + "; " + s2 + "; " + s3 + "; COMMIT",
				apply: func(d *cr8DB) { a1(d); a2(d); a3(d) }})
		case r < 18:
			mode := modes[rng.IntN(len(modes))]
			acts = append(acts, cr8Action{kind: "ckpt", conn: conn, sql: mode})
		default:
			// The writer lock taken and given back without a commit: a
			// log checkpoints caught up with restarts all the same.
			acts = append(acts, cr8Action{kind: "rollback", conn: conn,
				sql: "BEGIN IMMEDIATE; ROLLBACK"})
		}
	}
	// A last hand checkpoint with a restart, then a commit after it (the
	// lazy restart at the next writer).
	acts = append(acts, cr8Action{kind: "ckpt", conn: 0, sql: "TRUNCATE"})
	sql, ap := insert(1, 30, 200)
	acts = append(acts, cr8Action{kind: "tx", conn: 1, sql: sql, apply: ap})
	acts = append(acts, cr8Action{kind: "ckpt", conn: 1, sql: "RESTART"})
	sql, ap = insert(2, 30, 1200)
	acts = append(acts, cr8Action{kind: "tx", conn: 0, sql: sql, apply: ap})
	return acts
}

func cr8IDList(ids []int64) string {
	s := make([]string, len(ids))
	for i, id := range ids {
		s[i] = strconv.FormatInt(id, 10)
	}
	return strings.Join(s, ", ")
}

// cr8Open opens a connection through the VFS like openConn, returning its
// error instead of failing the test (a crash may hit the open itself).
func cr8Open(t *testing.T, path, params string) (*tconn, error) {
	tc, err := openConnErr(t, path, params)
	if err != nil {
		return nil, err
	}
	tc.SetBusyTimeout(10 * time.Second)
	return tc, nil
}

// cr8ReadState reads table t through q (our engine or stock SQLite),
// checking every blob against its (id, k).
type cr8Querier interface {
	rows(q string) ([][3]any, error)
}

type cr8Capi struct{ c *capi.Conn }

func (q cr8Capi) rows(sqlText string) ([][3]any, error) {
	s, _, err := q.c.Prepare(sqlText, 0)
	if err != nil {
		return nil, err
	}
	defer s.Finalize()
	var out [][3]any
	for {
		row, err := s.Step()
		if err != nil {
			return nil, err
		}
		if !row {
			return out, nil
		}
		out = append(out, [3]any{s.ColumnInt64(0), s.ColumnInt64(1), slices.Clone(s.ColumnBlob(2))})
	}
}

type cr8Stock struct{ db *sql.DB }

func (q cr8Stock) rows(sqlText string) ([][3]any, error) {
	rs, err := q.db.Query(sqlText)
	if err != nil {
		return nil, err
	}
	defer rs.Close()
	var out [][3]any
	for rs.Next() {
		var id, k int64
		var v []byte
		if err := rs.Scan(&id, &k, &v); err != nil {
			return nil, err
		}
		out = append(out, [3]any{id, k, v})
	}
	return out, rs.Err()
}

func cr8ReadState(q cr8Querier) (cr8DB, error) {
	rows, err := q.rows("SELECT id, k, v FROM t ORDER BY id")
	if err != nil {
		if strings.Contains(err.Error(), "no such table") {
			return cr8DB{}, nil
		}
		return cr8DB{}, err
	}
	d := cr8DB{table: true, rows: map[int64]cr8Row{}}
	for _, r := range rows {
		id, k, v := r[0].(int64), int(r[1].(int64)), r[2].([]byte)
		n := len(v) / 2
		if want := cr8Blob(id, k, n); !bytes.Equal(v, want) {
			return d, fmt.Errorf("row %d (k=%d) holds a blob of %d bytes that is not its own (first bytes %q, want %q)", id, k, len(v), v[:min(len(v), 8)], want[:min(len(want), 8)])
		}
		d.rows[id] = cr8Row{k, n}
	}
	return d, nil
}

// cr8Outcome is what a workload run told its callers.
type cr8Outcome struct {
	cur  cr8DB   // the state after every acknowledged commit
	hist []cr8DB // the states after each acknowledged commit, from the start
	// floor: hist[floor] and the states before it are durable for sure
	// (sync=normal: the last blocking checkpoint that was not busy); at
	// sync=full every acknowledged commit is.
	floor   int
	pending *cr8DB  // the state with the commit whose outcome is unknown
	acked   int     // acknowledged commits
	errs    []error // errors callers saw (statements, unreported at close)
	// poisoned: the engine's log was poisoned before the close.
	poisoned bool
	// failures found during the run (a reader's view, a commit that failed
	// without poisoning and yet took effect).
	failures []string
	stats    Stats
}

func (o *cr8Outcome) candidates() []cr8DB {
	c := []cr8DB{o.cur}
	if o.floor < len(o.hist)-1 {
		c = slices.Clone(o.hist[o.floor:])
	}
	if o.pending != nil {
		c = append(c, *o.pending)
	}
	return c
}

func cr8Match(got cr8DB, cands []cr8DB) bool {
	for _, c := range cands {
		if got.equal(c) {
			return true
		}
	}
	return false
}

func cr8CandString(cands []cr8DB) string {
	var s []string
	for _, c := range cands {
		s = append(s, c.String())
	}
	return strings.Join(s, " or ")
}

// cr8Workload runs the script of cfg on path through the FS the VFS uses
// now. stopOnError: stop at the first error (a crash makes everything
// after fail); otherwise go on after errors that did not poison the
// engine, checking that the failed commit changed nothing.
func cr8Workload(t *testing.T, cfg cr8Cfg, seed uint64, path string, stopOnError bool) *cr8Outcome {
	o := &cr8Outcome{cur: cr8DB{}, hist: []cr8DB{{}}}
	params := fmt.Sprintf("libsql_sync=%s&libsql_page_cache=%d", cfg.syncMode(), cfg.pageCache)
	var conns [3]*tconn
	closeAll := func() {
		// The driver's Close asks for an error nobody saw, before and
		// after closing; the last connection's close runs the engine's
		// final checkpoint.
		var e *Engine
		for _, c := range conns {
			if c != nil && c.file != nil {
				e = c.file.e
			}
		}
		if e != nil {
			if e.log.Err() != nil {
				o.poisoned = true
			}
			if err := e.UnreportedErr(); err != nil {
				o.errs = append(o.errs, fmt.Errorf("close: unreported: %w", err))
			}
		}
		for i := len(conns) - 1; i >= 0; i-- {
			if c := conns[i]; c != nil {
				if err := c.Close(); err != nil {
					o.errs = append(o.errs, fmt.Errorf("close conn %d: %w", i, err))
				}
				conns[i] = nil
			}
		}
		if e != nil {
			if err := e.UnreportedErr(); err != nil {
				o.errs = append(o.errs, fmt.Errorf("after close: unreported: %w", err))
			}
		}
	}
	defer closeAll()
	var err error
	open0 := func() bool {
		if conns[0], err = cr8Open(t, path, params); err != nil {
			o.errs = append(o.errs, fmt.Errorf("open: %w", err))
			return false
		}
		// The engine's settings, which a reopen resets.
		ps := cfg.pageSize
		if ps == 0 {
			ps = 1024
		}
		setup := []string{fmt.Sprintf("PRAGMA page_size=%d", ps),
			fmt.Sprintf("PRAGMA wal_autocheckpoint=%d", cfg.autoCkpt),
			fmt.Sprintf("PRAGMA journal_size_limit=%d", cfg.sizeLimit)}
		for _, s := range setup {
			if err := conns[0].Exec(s); err != nil {
				o.errs = append(o.errs, fmt.Errorf("%s: %w", s, err))
				return false
			}
		}
		return true
	}
	if !open0() {
		return o
	}
	acts := cr8Script(cfg, seed)
	var readerSnap *cr8DB
	var retainedBefore uint64
	for ai, a := range acts {
		if a.kind == "tx" && a.conn > 0 || a.kind == "readerBegin" {
			// Open the other connections lazily, after the first commit:
			// they then open an engine whose database is not empty.
			for i := 1; i <= a.conn; i++ {
				if conns[i] == nil {
					if conns[i], err = cr8Open(t, path, params); err != nil {
						o.errs = append(o.errs, fmt.Errorf("open conn %d: %w", i, err))
						return o
					}
				}
			}
		}
		c := conns[min(a.conn, 2)]
		if c == nil {
			c = conns[0]
		}
		if c == nil && a.kind != "reopen" {
			return o // a reopen failed
		}
		var stepErr error
		switch a.kind {
		case "tx":
			next := o.cur.clone()
			a.apply(&next)
			stepErr = c.Exec(a.sql)
			if stepErr == nil {
				o.cur, o.acked = next, o.acked+1
				o.hist = append(o.hist, next)
				if cfg.syncMode() == "full" || o.acked == 1 {
					// sync=full: every acknowledged commit is durable; the
					// first commit of a new database goes into the main
					// file, synced, before it is acknowledged.
					o.floor = len(o.hist) - 1
				}
				cr8Settle(c.file.e, cfg, readerSnap != nil, &retainedBefore)
				break
			}
			if !c.GetAutocommit() {
				c.Exec("ROLLBACK")
			}
			if c.file.e.log.Err() != nil || stopOnError {
				o.pending = &next
			} else {
				// Not poisoned: the commit must have changed nothing.
				got, rerr := cr8ReadState(cr8Capi{c.Conn})
				switch {
				case rerr != nil:
					o.errs = append(o.errs, fmt.Errorf("read after failed commit: %w", rerr))
					if c.file.e.log.Err() != nil {
						o.pending = &next
					}
				case got.equal(next) && !got.equal(o.cur):
					o.failures = append(o.failures, fmt.Sprintf("action %d: a commit failed (%v) without poisoning the engine, and yet it took effect", ai, stepErr))
					o.cur = next
				case !got.equal(o.cur):
					o.failures = append(o.failures, fmt.Sprintf("action %d: after a failed commit (%v) the database reads %v, want %v", ai, stepErr, got, o.cur))
				}
			}
		case "ckpt":
			// busy_timeout 0: a blocking checkpoint does not wait for the
			// long reader (nor for the writer lock the background
			// checkpointer may hold a moment).
			c.SetBusyTimeout(0)
			var busy int64
			busy, stepErr = c.intErr("PRAGMA wal_checkpoint(" + a.sql + ")")
			c.SetBusyTimeout(10 * time.Second)
			if stepErr == nil && busy == 0 && a.sql != "PASSIVE" {
				// Every commit is in the main file, synced.
				o.floor = len(o.hist) - 1
			}
			if stepErr == nil && busy == 0 {
				// TRUNCATE leaves an empty log file; RESTART one no larger
				// than journal_size_limit (or its header); also after an
				// error (the findings CR8-TRUNC-NOHDR and CR8-LIMIT-NOFRAMES,
				// fixed).
				size, err := c.file.e.walf.Size()
				switch {
				case err != nil:
				case a.sql == "TRUNCATE" && size != 0:
					o.failures = append(o.failures, fmt.Sprintf("action %d: wal_checkpoint(TRUNCATE) answered not busy and left a %d-byte log", ai, size))
				case a.sql == "RESTART" && cfg.sizeLimit >= 0 && size > max(cfg.sizeLimit, 32) && o.pending == nil:
					o.failures = append(o.failures, fmt.Sprintf("action %d: wal_checkpoint(RESTART) answered not busy and left a %d-byte log, journal_size_limit %d", ai, size, cfg.sizeLimit))
				}
			}
		case "reopen":
			readerSnap = nil
			closeAll()
			if o.poisoned || stopOnError && len(o.errs) > 0 {
				return o
			}
			if !open0() {
				return o
			}
			continue
		case "rollback":
			stepErr = c.Exec(a.sql)
			if stepErr != nil && !c.GetAutocommit() {
				c.Exec("ROLLBACK")
			}
		case "vacuum":
			stepErr = c.Exec(a.sql)
		case "readerBegin":
			if stepErr = c.Exec("BEGIN"); stepErr == nil {
				if _, stepErr = c.intErr("SELECT count(*) FROM t"); stepErr == nil {
					s := o.cur.clone()
					readerSnap = &s
				} else {
					c.Exec("ROLLBACK")
				}
			}
		case "readerEnd":
			if readerSnap == nil {
				break
			}
			if os.Getenv("LIBSQL_CR8_DEBUG") != "" {
				st := c.file.e.Stats()
				t.Logf("reader ends: frames %d backfilled %d restarts %d retaining %d retained %d pinned %d", st.LogFrames, st.Backfilled, st.Restarts, st.Retaining, st.RetainedPages, st.PinnedSnapshots)
			}
			got, rerr := cr8ReadState(cr8Capi{c.Conn})
			if rerr == nil && !got.equal(*readerSnap) && o.pending == nil {
				o.failures = append(o.failures, fmt.Sprintf("action %d: the long reader's snapshot reads %v, it began at %v", ai, got, *readerSnap))
			}
			stepErr = rerr
			if err := c.Exec("COMMIT"); err != nil && stepErr == nil {
				stepErr = err
			}
			if !c.GetAutocommit() {
				c.Exec("ROLLBACK")
			}
			readerSnap = nil
			// The pages a restart kept for the reader go with it: no
			// other connection holds a snapshot now.
			if n := c.file.e.log.RetainedPages(); stepErr == nil && n != 0 && c.file.e.log.Err() == nil {
				o.failures = append(o.failures, fmt.Sprintf("action %d: the long reader ended and %d retained pages are still kept", ai, n))
			}
		}
		if stepErr != nil {
			o.errs = append(o.errs, fmt.Errorf("action %d (%s %.60q): %w", ai, a.kind, a.sql, stepErr))
			if stopOnError || c.file.e.log.Err() != nil {
				return o
			}
		}
	}
	if e := conns[0].file.e; e != nil {
		o.stats = e.Stats()
	}
	return o
}

// cr8Settle gives the background checkpointer (wal_autocheckpoint > 0)
// the moment it needs after a commit, so that the script runs the paths
// it is meant to whatever the scheduler does: with the long reader
// active, a log past four times the threshold restarts keeping the
// reader's pages (RestartRetaining); without it, the log restarts. It
// waits at most 50 ms, and does no I/O.
func cr8Settle(e *Engine, cfg cr8Cfg, reading bool, retained *uint64) {
	n := cfg.autoCkpt
	if n <= 0 {
		return
	}
	deadline := time.Now().Add(50 * time.Millisecond)
	for time.Now().Before(deadline) && e.log.Err() == nil {
		st := e.log.Stats()
		if reading && (st.Frames < 4*n || st.Retaining > *retained) {
			*retained = st.Retaining
			return
		}
		if !reading && st.Frames < n {
			return
		}
		time.Sleep(200 * time.Microsecond)
	}
}

// cr8Mutating: the operations after which a power loss may leave another
// image than before them.
func cr8Mutating(op iofault.Op) bool {
	switch op.Kind {
	case iofault.OpOpen, iofault.OpRemove, iofault.OpSyncDir, iofault.OpWriteAt, iofault.OpWritevAt, iofault.OpSync, iofault.OpTruncate:
		return true
	}
	return false
}

// cr8FileBytes returns the contents of name in fsys, and whether it exists.
func cr8FileBytes(fsys ioback.FS, name string) ([]byte, bool, error) {
	size, _, err := fsys.Stat(name)
	if err != nil {
		return nil, false, nil
	}
	f, err := fsys.Open(name, ioback.OpenReadOnly)
	if err != nil {
		return nil, false, err
	}
	defer f.Close()
	b := make([]byte, size)
	if size > 0 {
		if n, err := f.ReadAt(b, 0); n != len(b) {
			return nil, false, fmt.Errorf("read %s: %d of %d bytes: %v", name, n, size, err)
		}
	}
	return b, true, nil
}

// cr8StockCheck copies path and its log out of fsys into dir and opens the
// copy with stock SQLite: integrity_check must say ok and the state must be
// one of cands. It returns the state stock SQLite saw.
func cr8StockCheck(dir, path string, fsys ioback.FS, cands []cr8DB) (cr8DB, error) {
	db, ok, err := cr8FileBytes(fsys, path)
	if err != nil {
		return cr8DB{}, err
	}
	if !ok {
		// No database file at all: stock SQLite would create an empty one.
		if !cr8Match(cr8DB{}, cands) {
			return cr8DB{}, fmt.Errorf("the database file is gone; want %s", cr8CandString(cands))
		}
		return cr8DB{}, nil
	}
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return cr8DB{}, err
	}
	cp := filepath.Join(dir, "stock.db")
	os.Remove(cp)
	os.Remove(cp + "-wal")
	os.Remove(cp + "-shm")
	if err := os.WriteFile(cp, db, 0o644); err != nil {
		return cr8DB{}, err
	}
	walb, ok, err := cr8FileBytes(fsys, path+"-wal")
	if err != nil {
		return cr8DB{}, err
	}
	if ok {
		if err := os.WriteFile(cp+"-wal", walb, 0o644); err != nil {
			return cr8DB{}, err
		}
	}
	sdb, err := sql.Open("sqlite", "file:"+cp+"?_pragma=synchronous(off)")
	if err != nil {
		return cr8DB{}, err
	}
	defer sdb.Close()
	sdb.SetMaxOpenConns(1)
	var ic string
	if err := sdb.QueryRow("PRAGMA integrity_check").Scan(&ic); err != nil {
		return cr8DB{}, fmt.Errorf("stock SQLite: integrity_check: %w (db %d bytes, log %d bytes)", err, len(db), len(walb))
	}
	if ic != "ok" {
		return cr8DB{}, fmt.Errorf("stock SQLite: integrity_check: %s (db %d bytes, log %d bytes)", ic, len(db), len(walb))
	}
	got, err := cr8ReadState(cr8Stock{sdb})
	if err != nil {
		return got, fmt.Errorf("stock SQLite: %w", err)
	}
	if !cr8Match(got, cands) {
		return got, fmt.Errorf("stock SQLite reads %v; want %s (db %d bytes, log %d bytes)", got, cr8CandString(cands), len(db), len(walb))
	}
	return got, nil
}

// cr8EngineCheck opens path in the engine over fsys: integrity_check ok and
// a state among cands; then it commits once more (a row of id 1e6,
// creating the table if the recovered database has none) and closes, and
// stock SQLite must read the result. It returns what it found wrong.
//
// crashAt >= 0 (fsys a CrashFS): a second power loss before that mutating
// operation of the recovery, the commit or the close; the files are then
// checked once more (recursively, without a crash): what the first
// recovery read must still be there, and the extra row if its commit was
// acknowledged.
func cr8EngineCheck(t *testing.T, fsys ioback.FS, path, stockDir string, cands []cr8DB, crashAt int) []string {
	var crashed2 *iofault.CrashFS
	var crashOp string
	useFS := fsys
	if cfs, ok := fsys.(*iofault.CrashFS); ok && crashAt >= 0 {
		ffs := iofault.NewFaultFS(cfs)
		n := 0
		ffs.Arm(iofault.Rule{N: 1 << 40, Match: func(op iofault.Op) bool {
			if cr8Mutating(op) {
				if n == crashAt {
					crashed2 = cfs.Crash()
					crashOp = op.String()
				}
				n++
			}
			return false
		}})
		useFS = ffs
	}
	restore := defaultVFS.SetFSForTesting(useFS)
	var bad []string
	var got cr8DB
	known, attempted, acked := false, false, false
	func() {
		defer restore()
		c, err := cr8Open(t, path, "libsql_sync=full")
		if err != nil {
			bad = append(bad, fmt.Sprintf("reopen: %v", err))
			return
		}
		defer func() {
			if c != nil {
				c.Close()
			}
		}()
		ic, err := cr8Text(c, "PRAGMA integrity_check")
		switch {
		case err != nil:
			bad = append(bad, fmt.Sprintf("engine: integrity_check failed: %v", err))
		case ic != "ok":
			bad = append(bad, fmt.Sprintf("engine: integrity_check %q", ic))
		}
		got, err = cr8ReadState(cr8Capi{c.Conn})
		if err != nil {
			bad = append(bad, fmt.Sprintf("engine: %v", err))
			return
		}
		known = true
		if !cr8Match(got, cands) {
			bad = append(bad, fmt.Sprintf("engine reads %v after the reopen; want %s", got, cr8CandString(cands)))
		}
		// A TRUNCATE checkpoint of the recovered log empties the file
		// (finding CR8-TRUNC-NOHDR, fixed).
		if busy, err := c.intErr("PRAGMA wal_checkpoint(TRUNCATE)"); err != nil {
			bad = append(bad, fmt.Sprintf("engine: wal_checkpoint(TRUNCATE) after the reopen: %v", err))
		} else if size, _ := c.file.e.walf.Size(); busy == 0 && size != 0 {
			bad = append(bad, fmt.Sprintf("engine: wal_checkpoint(TRUNCATE) after the reopen answered not busy and left a %d-byte log", size))
		}
		// One more commit on the recovered log, then a clean close.
		attempted = true
		if err := c.Exec("BEGIN; CREATE TABLE IF NOT EXISTS t(id INTEGER PRIMARY KEY, k INTEGER NOT NULL, v BLOB NOT NULL); INSERT OR REPLACE INTO t VALUES (1000000, 0, " + cr8ValSQL("1000000", "0", 300) + "); COMMIT"); err != nil {
			bad = append(bad, fmt.Sprintf("engine: commit after the reopen: %v", err))
			return
		}
		acked = true
		if err := c.Close(); err != nil {
			bad = append(bad, fmt.Sprintf("engine: close after the reopen: %v", err))
		}
		c = nil
	}()
	withRow := func(d cr8DB) cr8DB {
		d = d.clone()
		d.table = true
		d.rows[1000000] = cr8Row{0, 300}
		return d
	}
	base := cands
	if known {
		base = []cr8DB{got}
	}
	var next []cr8DB
	for _, d := range base {
		if !acked {
			next = append(next, d)
		}
		if attempted {
			next = append(next, withRow(d))
		}
	}
	if crashed2 != nil {
		// Errors after the second power loss are expected; wrong data
		// read before it are not.
		var real []string
		for _, b := range bad {
			if strings.Contains(b, "engine reads") || strings.Contains(b, "integrity_check \"") || strings.Contains(b, "not its own") {
				real = append(real, b)
			}
		}
		if more := cr8EngineCheck(t, crashed2, path, stockDir, next, -1); len(more) > 0 {
			real = append(real, fmt.Sprintf("after a second power loss before mutating op %d of the recovery (%s), with the first recovery's state %s known=%v and its commit acknowledged=%v:", crashAt, crashOp, got, known, acked))
			real = append(real, more...)
		}
		return real
	}
	if len(bad) > 0 {
		return bad
	}
	if _, err := cr8StockCheck(stockDir, path, fsys, next); err != nil {
		bad = append(bad, fmt.Sprintf("after the engine's recovery, a commit and a clean close: %v", err))
	}
	return bad
}

func cr8Text(c *tconn, q string) (string, error) {
	s, _, err := c.Prepare(q, 0)
	if err != nil {
		return "", err
	}
	defer s.Finalize()
	row, err := s.Step()
	if err != nil || !row {
		return "", fmt.Errorf("%s: row=%v err=%v", q, row, err)
	}
	return s.ColumnText(0), nil
}

// cr8Watchdog fails loudly (the test binary's stack dump names every
// goroutine) if one run hangs.
func cr8Watchdog(what string) (stop func()) {
	tm := time.AfterFunc(90*time.Second, func() {
		buf := make([]byte, 1<<20)
		n := runtime.Stack(buf, true)
		panic(fmt.Sprintf("crashreview8: %s hangs\n%s", what, buf[:n]))
	})
	return func() { tm.Stop() }
}

var cr8Seq struct {
	mu sync.Mutex
	n  int
}

func cr8Dir() string {
	cr8Seq.mu.Lock()
	defer cr8Seq.mu.Unlock()
	cr8Seq.n++
	return fmt.Sprintf("/cr8/%d", cr8Seq.n)
}

// cr8PowerLoss makes a file system that loses power before its k-th
// mutating operation (k < 0: never); lost returns, once the workload ran,
// the image the power loss left (without one, the image after everything,
// the close included), the operation it came before, and how many
// mutating operations there were.
func cr8PowerLoss(seed uint64, k int) (ffs *iofault.FaultFS, lost func() (crashed *iofault.CrashFS, op string, n int)) {
	cfs := iofault.NewCrashFS(seed*0x9e3779b97f4a7c15 + uint64(k+2))
	ffs = iofault.NewFaultFS(cfs)
	var crashed *iofault.CrashFS
	var crashOp string
	n := 0
	ffs.Arm(iofault.Rule{N: 1 << 40, Match: func(op iofault.Op) bool {
		if cr8Mutating(op) {
			if n == k {
				crashed = cfs.Crash()
				crashOp = op.String()
			}
			n++
		}
		return false
	}})
	return ffs, func() (*iofault.CrashFS, string, int) {
		if crashed == nil {
			return cfs.Crash(), "(after the end)", n // after everything, the close included
		}
		return crashed, crashOp, n
	}
}

// cr8CrashRun runs the workload with a power loss before the k-th mutating
// operation (k < 0: none, counting them) and checks the recovery. It
// returns the number of mutating operations the run did.
func cr8CrashRun(t *testing.T, cfg cr8Cfg, seed uint64, k int, stockDir string) (ops int, o *cr8Outcome, bad []string) {
	ffs, lost := cr8PowerLoss(seed, k)
	path := cr8Dir() + "/t.db"
	restore := defaultVFS.SetFSForTesting(ffs)
	stop := cr8Watchdog(fmt.Sprintf("%s seed %d crash %d", cfg.name, seed, k))
	o = cr8Workload(t, cfg, seed, path, true)
	stop()
	restore()
	crashed, crashOp, n := lost()
	ops = n
	bad = append(bad, o.failures...)
	cands := o.candidates()
	if _, err := cr8StockCheck(stockDir, path, crashed, cands); err != nil {
		bad = append(bad, fmt.Sprintf("raw crash image: %v", err))
	}
	// A second power loss during the recovery, at an index that moves
	// with k (none for a third of the crash points).
	second := -1
	if k%3 != 2 {
		second = (k * 7) % 23
	}
	bad = append(bad, cr8EngineCheck(t, crashed, path, stockDir, cands, second)...)
	if len(bad) > 0 {
		bad = append([]string{fmt.Sprintf("%s seed %d: power loss before mutating op %d of %d (%s); %d acknowledged commits; errors seen: %v", cfg.name, seed, k, n, crashOp, o.acked, cr8First(o.errs, 3))}, bad...)
	}
	return ops, o, bad
}

func cr8First(errs []error, n int) []error { return errs[:min(len(errs), n)] }

// cr8Seeds returns the workload seeds: one normally, several under
// LIBSQL_SOAK, or the one LIBSQL_CR8_SEED names.
func cr8Seeds(t *testing.T, normal int) []uint64 {
	if s := os.Getenv("LIBSQL_CR8_SEED"); s != "" {
		v, err := strconv.ParseUint(s, 10, 64)
		if err != nil {
			t.Fatalf("LIBSQL_CR8_SEED: %v", err)
		}
		return []uint64{v}
	}
	n := normal
	if os.Getenv("LIBSQL_SOAK") != "" {
		n = 6
	}
	seeds := make([]uint64, n)
	for i := range seeds {
		seeds[i] = uint64(8000 + 17*i)
	}
	return seeds
}

func cr8Soak() bool { return os.Getenv("LIBSQL_SOAK") != "" }

var cr8Configs = []cr8Cfg{
	// By hand only: RESTART/TRUNCATE checkpoints and restarts at the next
	// writer, the restarted log cut to its header (journal_size_limit=0).
	{name: "manual-limit0", autoCkpt: 0, sizeLimit: 0, pageCache: 64, steps: 36, vacuum: true, reopens: true},
	// Automatic checkpoints every 6 frames, the log cut to 8 KiB at each
	// restart, a long reader over the middle third (restarts that keep
	// its pages, dropped when it ends), no shared page cache.
	{name: "auto6-limit8k-reader", autoCkpt: 6, sizeLimit: 8192, pageCache: 0, steps: 36, reader: true, vacuum: true},
	// By hand, with a long reader (RESTART/TRUNCATE are busy while it
	// reads), and a limit between a frame and the reserve.
	{name: "manual-limit3000-reader", autoCkpt: 0, sizeLimit: 3000, pageCache: 16, steps: 30, reader: true},
	// sync=normal: acknowledged commits since the last blocking
	// checkpoint may be lost, but only from the end, and nothing corrupts.
	// Automatic checkpoints every 4 frames, the log cut to its header,
	// reopens (the close's checkpoint and trim, recovery's cut).
	{name: "normal-auto4-limit0-reopen", autoCkpt: 4, sizeLimit: 0, pageCache: 64, steps: 24, reopens: true, sync: "normal"},
	// 4 KiB pages (eight sectors each: torn pages), no size limit,
	// automatic checkpoints every 3 frames, a reader, reopens.
	{name: "ps4096-auto3-nolimit-reader", autoCkpt: 3, sizeLimit: -1, pageCache: 8, steps: 30, reader: true, reopens: true, pageSize: 4096, soakOnly: true},
	// sync=normal with a long reader (restarts keeping its pages), a
	// VACUUM under it, the log cut to 8 KiB.
	{name: "normal-auto6-limit8k-reader-vacuum", autoCkpt: 6, sizeLimit: 8192, pageCache: 16, steps: 33, reader: true, vacuum: true, sync: "normal", soakOnly: true},
}

// TestCrashReview8PowerLossSweep: a power loss before every mutating
// operation of each configuration's workload.
func TestCrashReview8PowerLossSweep(t *testing.T) {
	for ci, cfg := range cr8Configs {
		t.Run(cfg.name, func(t *testing.T) {
			if cfg.soakOnly && !cr8Soak() && os.Getenv("LIBSQL_CR8_SEED") == "" {
				t.Skip("LIBSQL_SOAK=1 runs it")
			}
			for si, seed := range cr8Seeds(t, 1) {
				stockDir := t.TempDir()
				total, o, bad := cr8CrashRun(t, cfg, seed, -1, stockDir)
				if len(o.errs) > 0 {
					t.Fatalf("seed %d: the run without a power loss saw errors: %v", seed, o.errs)
				}
				for _, b := range bad {
					t.Errorf("seed %d, no power loss: %s", seed, b)
				}
				t.Logf("seed %d: %d mutating operations, %d commits; restarts %d (retaining %d), checkpoints %d, retained pages now %d",
					seed, total, o.acked, o.stats.Restarts, o.stats.Retaining, o.stats.Checkpoints, o.stats.RetainedPages)
				// The normal run takes every fifth index, offset per
				// configuration; the soak run (and LIBSQL_CR8_SEED) every
				// index.
				stride, start := 1, 0
				if !cr8Soak() && os.Getenv("LIBSQL_CR8_SEED") == "" {
					stride, start = 5, (ci+si)%5
				}
				failures := 0
				for k := start; k <= total+1; k += stride {
					_, _, bad := cr8CrashRun(t, cfg, seed, k, stockDir)
					if len(bad) > 0 {
						failures++
						if failures <= 5 {
							t.Errorf("%s", strings.Join(bad, "\n\t"))
						}
					}
				}
				if failures > 5 {
					t.Errorf("seed %d: %d crash points failed in all", seed, failures)
				}
			}
		})
	}
}

// cr8FaultClass is a class of operations a fault sweep fails.
type cr8FaultClass struct {
	name   string
	fault  iofault.Fault
	match  func(iofault.Op) bool
	sticky bool // every matching operation from the n-th on fails
}

var cr8FaultClasses = []cr8FaultClass{
	{"EIO any", iofault.EIO, func(op iofault.Op) bool {
		switch op.Kind {
		case iofault.OpLock, iofault.OpUnlock, iofault.OpID, iofault.OpClose:
			return false
		}
		return true
	}, false},
	{"ENOSPC write", iofault.ENOSPC, func(op iofault.Op) bool { return op.Kind.IsWrite() || op.Kind == iofault.OpAllocate }, false},
	{"short write", iofault.ShortWrite, func(op iofault.Op) bool {
		return op.Kind == iofault.OpWriteAt || op.Kind == iofault.OpWritevAt
	}, false},
	{"EIO sync", iofault.EIO, func(op iofault.Op) bool { return op.Kind == iofault.OpSync || op.Kind == iofault.OpSyncDir }, false},
	{"torn write", iofault.TornWrite, func(op iofault.Op) bool {
		return op.Kind == iofault.OpWriteAt || op.Kind == iofault.OpWritevAt
	}, false},
	{"dead disk (sticky EIO)", iofault.EIO, func(op iofault.Op) bool {
		switch op.Kind {
		case iofault.OpLock, iofault.OpUnlock, iofault.OpID, iofault.OpClose:
			return false
		}
		return true
	}, true},
}

// cr8ArmFault returns mem behind a FaultFS that fails the n-th operation
// of class fc; opFired names it once it ran.
func cr8ArmFault(mem ioback.FS, seed uint64, fc cr8FaultClass, n int) (ffs *iofault.FaultFS, opFired func() string) {
	ffs = iofault.NewFaultFS(mem)
	var firedOp string
	m := 0
	ffs.Arm(iofault.Rule{N: n, Fault: fc.fault, Seed: seed + uint64(n), Sticky: fc.sticky, Match: func(op iofault.Op) bool {
		if !fc.match(op) {
			return false
		}
		if m == n {
			firedOp = op.String()
		}
		m++
		return true
	}})
	return ffs, func() string { return firedOp }
}

// cr8FaultRun fails the n-th operation of class fc in the workload and
// checks the outcome; fired is false when the workload has fewer than
// n+1 such operations.
func cr8FaultRun(t *testing.T, cfg cr8Cfg, seed uint64, fc cr8FaultClass, n int, stockDir string) (fired, silent bool, firedOp string, bad []string) {
	mem := ioback.NewMemFS()
	ffs, opFired := cr8ArmFault(mem, seed, fc, n)
	path := cr8Dir() + "/t.db"
	restore := defaultVFS.SetFSForTesting(ffs)
	stop := cr8Watchdog(fmt.Sprintf("%s seed %d fault %s %d", cfg.name, seed, fc.name, n))
	o := cr8Workload(t, cfg, seed, path, false)
	stop()
	restore()
	fired, firedOp = ffs.Fired(), opFired()
	ffs.Disarm()
	if !fired {
		return false, false, "", nil
	}
	silent = len(o.errs) == 0
	bad = append(bad, o.failures...)
	if o.poisoned && len(o.errs) == 0 {
		bad = append(bad, "the engine was poisoned and no caller was told")
	}
	for _, err := range o.errs {
		if strings.Contains(err.Error(), "malformed") || strings.Contains(err.Error(), "corrupt") {
			bad = append(bad, fmt.Sprintf("a caller saw corruption: %v", err))
		}
	}
	cands := o.candidates()
	if _, err := cr8StockCheck(stockDir, path, mem, cands); err != nil {
		bad = append(bad, fmt.Sprintf("files as the fault left them: %v", err))
	}
	bad = append(bad, cr8EngineCheck(t, mem, path, stockDir, cands, -1)...)
	if len(bad) > 0 {
		bad = append([]string{fmt.Sprintf("%s seed %d: %s into op %d of its class (%s); %d acknowledged, poisoned=%v, errors seen: %v",
			cfg.name, seed, fc.name, n, firedOp, o.acked, o.poisoned, cr8First(o.errs, 3))}, bad...)
	}
	return true, silent, firedOp, bad
}

// TestCrashReview8FaultSweep: each fault class at every index of its
// operations (every 11th normally, and the first three classes only).
func TestCrashReview8FaultSweep(t *testing.T) {
	classes := cr8FaultClasses
	if !cr8Soak() {
		classes = classes[:3]
	}
	for ci, cfg := range cr8Configs {
		for fi, fc := range classes {
			t.Run(cfg.name+"/"+fc.name, func(t *testing.T) {
				if cfg.soakOnly && !cr8Soak() && os.Getenv("LIBSQL_CR8_SEED") == "" {
					t.Skip("LIBSQL_SOAK=1 runs it")
				}
				for _, seed := range cr8Seeds(t, 1) {
					stockDir := t.TempDir()
					stride, start := 1, 0
					if !cr8Soak() && os.Getenv("LIBSQL_CR8_SEED") == "" {
						stride, start = 11, (ci*3+fi)%11
					}
					failures, runs := 0, 0
					silentOps := map[string]int{}
					for n := start; ; n += stride {
						fired, silent, op, bad := cr8FaultRun(t, cfg, seed, fc, n, stockDir)
						if !fired {
							break
						}
						runs++
						if silent {
							// Harmless (checked): no caller saw the error.
							f := strings.Fields(op)
							silentOps[f[0]+" "+filepath.Ext(f[1])]++
						}
						if len(bad) > 0 {
							failures++
							if failures <= 5 {
								t.Errorf("%s", strings.Join(bad, "\n\t"))
							}
						}
					}
					t.Logf("seed %d: %d fault points; absorbed without a caller seeing an error: %v", seed, runs, silentOps)
					if failures > 5 {
						t.Errorf("seed %d: %d fault points failed in all", seed, failures)
					}
				}
			})
		}
	}
}

// cr8WriterTx is one transaction of a concurrent writer: it inserts row
// ins (0: none) and deletes row del (0: none).
type cr8WriterTx struct{ ins, del int64 }

// cr8ConcOutcome is what the concurrent workload told its callers.
type cr8ConcOutcome struct {
	mu       sync.Mutex
	txs      [][]cr8WriterTx // per writer, the script
	acked    []int           // per writer, transactions acknowledged
	failed   []bool          // per writer, the next transaction failed (outcome unknown)
	errs     []error
	bad      []string
	stats    Stats
	poisoned bool // the engine's log was poisoned before the close
}

// cr8ConcState is writer w's rows after its first j transactions.
func cr8ConcState(txs []cr8WriterTx, j int) map[int64]bool {
	rows := map[int64]bool{}
	for _, tx := range txs[:j] {
		if tx.ins != 0 {
			rows[tx.ins] = true
		}
		if tx.del != 0 {
			delete(rows, tx.del)
		}
	}
	return rows
}

// cr8ConcWorkload runs 3 writers (sync=full, each its own rows), a
// goroutine running hand checkpoints of every mode and empty write
// transactions (the lazy restart), and a long reader checking that its
// snapshot stays put, on one engine with a tiny wal_autocheckpoint and
// journal_size_limit. Each goroutine stops at its first error.
func cr8ConcWorkload(t *testing.T, seed uint64, path string, sizeLimit int64) *cr8ConcOutcome {
	const writers, perWriter = 3, 14
	o := &cr8ConcOutcome{txs: make([][]cr8WriterTx, writers), acked: make([]int, writers), failed: make([]bool, writers)}
	rng := rand.New(rand.NewPCG(seed, 0xc0c))
	for w := range writers {
		var live []int64
		for i := range perWriter {
			tx := cr8WriterTx{ins: int64(w*1000 + i + 1)}
			if len(live) > 2 && rng.IntN(3) == 0 {
				j := rng.IntN(len(live))
				tx.del = live[j]
				live = slices.Delete(live, j, j+1)
			}
			live = append(live, tx.ins)
			o.txs[w] = append(o.txs[w], tx)
		}
	}
	fail := func(err error) {
		o.mu.Lock()
		o.errs = append(o.errs, err)
		o.mu.Unlock()
	}
	params := "libsql_sync=full&libsql_page_cache=32"
	c0, err := cr8Open(t, path, params)
	if err != nil {
		fail(fmt.Errorf("open: %w", err))
		return o
	}
	var conns []*tconn
	conns = append(conns, c0)
	defer func() {
		e := c0.file.e
		o.poisoned = e.log.Err() != nil
		if err := e.UnreportedErr(); err != nil {
			fail(fmt.Errorf("close: unreported: %w", err))
		}
		for i := len(conns) - 1; i >= 0; i-- {
			conns[i].Close()
		}
		if err := e.UnreportedErr(); err != nil {
			fail(fmt.Errorf("after close: unreported: %w", err))
		}
	}()
	for _, s := range []string{"PRAGMA page_size=1024", "PRAGMA wal_autocheckpoint=4",
		fmt.Sprintf("PRAGMA journal_size_limit=%d", sizeLimit),
		"CREATE TABLE t(id INTEGER PRIMARY KEY, k INTEGER NOT NULL, v BLOB NOT NULL)"} {
		if err := c0.Exec(s); err != nil {
			fail(fmt.Errorf("%s: %w", s, err))
			return o
		}
	}
	open := func() *tconn {
		c, err := cr8Open(t, path, params)
		if err != nil {
			fail(fmt.Errorf("open: %w", err))
			return nil
		}
		conns = append(conns, c)
		return c
	}
	wc := make([]*tconn, writers)
	for w := range wc {
		if wc[w] = open(); wc[w] == nil {
			return o
		}
	}
	ck, rd := open(), open()
	if ck == nil || rd == nil {
		return o
	}
	var wg sync.WaitGroup
	done := make(chan struct{})
	for w := range writers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			wrng := rand.New(rand.NewPCG(seed, uint64(w)))
			for i, tx := range o.txs[w] {
				n := 30 + wrng.IntN(1800)
				sqlText := fmt.Sprintf("INSERT INTO t VALUES (%d, 0, %s)", tx.ins, cr8ValSQL(strconv.FormatInt(tx.ins, 10), "0", n))
				if tx.del != 0 {
					sqlText = fmt.Sprintf("BEGIN IMMEDIATE; %s; DELETE FROM t WHERE id = %d; COMMIT", sqlText, tx.del)
				}
				if err := wc[w].Exec(sqlText); err != nil {
					if !wc[w].GetAutocommit() {
						wc[w].Exec("ROLLBACK")
					}
					o.mu.Lock()
					o.failed[w] = true
					o.mu.Unlock()
					fail(fmt.Errorf("writer %d tx %d: %w", w, i, err))
					return
				}
				o.mu.Lock()
				o.acked[w] = i + 1
				o.mu.Unlock()
			}
		}()
	}
	var side sync.WaitGroup
	side.Add(2)
	go func() { // hand checkpoints and empty write transactions
		defer side.Done()
		modes := []string{"TRUNCATE", "RESTART", "PASSIVE", "FULL"}
		for i := 0; ; i++ {
			select {
			case <-done:
				return
			default:
			}
			var err error
			if i%5 == 4 {
				err = ck.Exec("BEGIN IMMEDIATE; ROLLBACK")
				if err != nil && !ck.GetAutocommit() {
					ck.Exec("ROLLBACK")
				}
			} else {
				ck.SetBusyTimeout(0)
				_, err = ck.intErr("PRAGMA wal_checkpoint(" + modes[i%len(modes)] + ")")
				ck.SetBusyTimeout(10 * time.Second)
			}
			if err != nil {
				fail(fmt.Errorf("checkpointer: %w", err))
				return
			}
			time.Sleep(300 * time.Microsecond)
		}
	}()
	go func() { // long readers: a snapshot stays put while the log restarts
		defer side.Done()
		for {
			select {
			case <-done:
				return
			default:
			}
			if err := rd.Exec("BEGIN"); err != nil {
				fail(fmt.Errorf("reader: %w", err))
				return
			}
			before, err := cr8ReadState(cr8Capi{rd.Conn})
			if err == nil {
				time.Sleep(3 * time.Millisecond)
				var after cr8DB
				if after, err = cr8ReadState(cr8Capi{rd.Conn}); err == nil && !after.equal(before) {
					o.mu.Lock()
					o.bad = append(o.bad, fmt.Sprintf("a reader's snapshot moved from %v to %v", before, after))
					o.mu.Unlock()
				}
			}
			rd.Exec("COMMIT")
			if !rd.GetAutocommit() {
				rd.Exec("ROLLBACK")
			}
			if err != nil {
				fail(fmt.Errorf("reader: %w", err))
				return
			}
		}
	}()
	wg.Wait()
	close(done)
	side.Wait()
	o.stats = c0.file.e.Stats()
	return o
}

// cr8ConcCheck checks the state db read after a power loss against what
// the concurrent workload acknowledged: for each writer, its rows after
// its acknowledged transactions, or after the one that failed too.
func cr8ConcCheck(o *cr8ConcOutcome, got cr8DB) []string {
	if !got.table {
		return []string{"table t is gone (its CREATE was acknowledged)"}
	}
	var bad []string
	for w, txs := range o.txs {
		mine := map[int64]bool{}
		for id := range got.rows {
			if id/1000 == int64(w) && id < 1000000 {
				mine[id] = true
			}
		}
		ok := false
		for j := o.acked[w]; j <= min(o.acked[w]+1, len(txs)); j++ {
			if j > o.acked[w] && !o.failed[w] {
				break
			}
			want := cr8ConcState(txs, j)
			if len(want) == len(mine) && !slices.ContainsFunc(slices.Collect(func(yield func(int64) bool) {
				for id := range want {
					if !yield(id) {
						return
					}
				}
			}), func(id int64) bool { return !mine[id] }) {
				ok = true
			}
		}
		if !ok {
			ids := make([]int64, 0, len(mine))
			for id := range mine {
				ids = append(ids, id)
			}
			slices.Sort(ids)
			bad = append(bad, fmt.Sprintf("writer %d: rows %v; %d transactions acknowledged (failed next: %v), which leave %v", w, ids, o.acked[w], o.failed[w], cr8SortedKeys(cr8ConcState(txs, o.acked[w]))))
		}
	}
	return bad
}

func cr8SortedKeys(m map[int64]bool) []int64 {
	ids := make([]int64, 0, len(m))
	for id := range m {
		ids = append(ids, id)
	}
	slices.Sort(ids)
	return ids
}

// cr8ConcCrashRun runs the concurrent workload with a power loss before
// the k-th mutating operation (k < 0: none) and checks the recovery in
// stock SQLite and in the engine.
func cr8ConcCrashRun(t *testing.T, seed uint64, k int, sizeLimit int64, stockDir string) (ops int, o *cr8ConcOutcome, bad []string) {
	ffs, lost := cr8PowerLoss(seed, k)
	path := cr8Dir() + "/t.db"
	restore := defaultVFS.SetFSForTesting(ffs)
	stop := cr8Watchdog(fmt.Sprintf("concurrent seed %d crash %d", seed, k))
	o = cr8ConcWorkload(t, seed, path, sizeLimit)
	stop()
	restore()
	crashed, crashOp, n := lost()
	ops = n
	if k < 0 {
		return ops, o, o.bad
	}
	bad = append(bad, o.bad...)
	createAcked := true
	for _, err := range o.errs {
		if strings.HasPrefix(err.Error(), "open") || strings.HasPrefix(err.Error(), "PRAGMA") || strings.HasPrefix(err.Error(), "CREATE") {
			createAcked = false
		}
	}
	// Stock SQLite on the raw image.
	if db, ok, _ := cr8FileBytes(crashed, path); ok {
		if err := os.MkdirAll(stockDir, 0o755); err == nil {
			cp := filepath.Join(stockDir, "conc.db")
			os.Remove(cp)
			os.Remove(cp + "-wal")
			os.Remove(cp + "-shm")
			os.WriteFile(cp, db, 0o644)
			if walb, ok, _ := cr8FileBytes(crashed, path+"-wal"); ok {
				os.WriteFile(cp+"-wal", walb, 0o644)
			}
			if sdb, err := sql.Open("sqlite", "file:"+cp+"?_pragma=synchronous(off)"); err == nil {
				sdb.SetMaxOpenConns(1)
				var ic string
				if err := sdb.QueryRow("PRAGMA integrity_check").Scan(&ic); err != nil || ic != "ok" {
					bad = append(bad, fmt.Sprintf("raw crash image: stock SQLite integrity_check %q %v", ic, err))
				} else if got, err := cr8ReadState(cr8Stock{sdb}); err != nil {
					bad = append(bad, fmt.Sprintf("raw crash image: stock SQLite: %v", err))
				} else if createAcked {
					for _, b := range cr8ConcCheck(o, got) {
						bad = append(bad, "raw crash image, stock SQLite: "+b)
					}
				}
				sdb.Close()
			}
		}
	} else if createAcked {
		bad = append(bad, "the database file is gone")
	}
	// The engine.
	bad = append(bad, cr8ConcEngineCheck(t, crashed, path, o, createAcked)...)
	if len(bad) > 0 {
		bad = append([]string{fmt.Sprintf("concurrent seed %d limit %d: power loss before mutating op %d of %d (%s); acknowledged %v, failed %v; errors seen: %v", seed, sizeLimit, k, n, crashOp, o.acked, o.failed, cr8First(o.errs, 4))}, bad...)
	}
	return ops, o, bad
}

// TestCrashReview8ConcurrentPowerLoss: a power loss at operations of a
// concurrent workload (group commits, background and hand checkpoints,
// lazy restarts, a long reader, journal_size_limit). The interleaving is
// the scheduler's, so the crash index names a different operation from
// run to run; each run is checked on its own.
func TestCrashReview8ConcurrentPowerLoss(t *testing.T) {
	for _, limit := range []int64{0, 4096} {
		t.Run(fmt.Sprintf("limit%d", limit), func(t *testing.T) {
			for _, seed := range cr8Seeds(t, 1) {
				stockDir := t.TempDir()
				total, o, bad := cr8ConcCrashRun(t, seed, -1, limit, stockDir)
				if len(o.errs) > 0 || len(bad) > 0 {
					t.Fatalf("seed %d: the run without a power loss: errors %v, failures %v", seed, o.errs, bad)
				}
				t.Logf("seed %d: about %d mutating operations; restarts %d (retaining %d), checkpoints %d", seed, total, o.stats.Restarts, o.stats.Retaining, o.stats.Checkpoints)
				stride := 5
				if cr8Soak() {
					stride = 1
				}
				failures := 0
				for k := int(seed % uint64(stride)); k <= total+5; k += stride {
					_, _, bad := cr8ConcCrashRun(t, seed, k, limit, stockDir)
					if len(bad) > 0 {
						failures++
						if failures <= 5 {
							t.Errorf("%s", strings.Join(bad, "\n\t"))
						}
					}
				}
				if failures > 5 {
					t.Errorf("seed %d: %d crash points failed in all", seed, failures)
				}
			}
		})
	}
}

// TestCrashReview8StaleLogPowerLoss: a database whose main file was
// deleted leaves its -wal behind (commits after the first, with page 1
// among them); a new database is created at the name, with a power loss
// before every mutating operation of its first commits in turn. The old
// database's log must never come back into the new one: after every
// crash the new database has its own acknowledged rows, none of the old
// table, and integrity_check ok (ours and stock SQLite's).
//
// Finding CR8-STALE-OFF (the "off" subtest; fixed: the removal is now
// synced under sync=off too): with sync=off, Engine.openLog
// (iouring_vfs/engine.go, the SyncDir after creating the new log is made
// only "if ... e.opts.sync != wal.SyncOff") never makes the removal of
// the stale log durable, and nothing syncs the directory afterwards, so a
// power loss at any later moment (even after a clean close) can bring the
// deleted database's -wal back beside the new database's main file, and
// the next open replays the old database's frames into it: its tables
// reappear (stock SQLite sees them too), or the mix is corrupt. README
// says "so a new database never replays another's rows", without
// excepting sync=off. Stock SQLite has the same weakness (it deletes a
// stale WAL without syncing the directory); under sync=full and normal
// the engine is safe (both subtests pass).
func TestCrashReview8StaleLogPowerLoss(t *testing.T) {
	for _, sync := range []string{"full", "normal", "off"} {
		t.Run(sync, func(t *testing.T) {
			cr8StaleLog(t, sync)
		})
	}
}

func cr8StaleLog(t *testing.T, sync string) {
	for _, seed := range cr8Seeds(t, 2) {
		// The stale log: database A, its first commit in the main file,
		// the next ones (a second table: page 1) in the log, then a power
		// loss, then its main file deleted (durably).
		base := iofault.NewCrashFS(seed)
		restore := defaultVFS.SetFSForTesting(base)
		path := "/cr8stale/t.db"
		a, err := cr8Open(t, path, "libsql_sync=full")
		if err != nil {
			restore()
			t.Fatal(err)
		}
		for _, s := range []string{"PRAGMA wal_autocheckpoint=0", "CREATE TABLE old_a(x)", "INSERT INTO old_a VALUES (1)",
			"CREATE TABLE old_b(y)", "INSERT INTO old_b VALUES (2)", "INSERT INTO old_a VALUES (3)"} {
			if err := a.Exec(s); err != nil {
				restore()
				t.Fatalf("%s: %v", s, err)
			}
		}
		img := base.Crash()
		a.Close()
		restore()
		if walb, ok, _ := cr8FileBytes(img, path+"-wal"); !ok || len(walb) <= 32 {
			t.Fatalf("seed %d: the old database left no log with frames (%d bytes)", seed, len(walb))
		}
		if err := img.Remove(path); err != nil {
			t.Fatal(err)
		}
		if err := img.SyncDir("/cr8stale"); err != nil {
			t.Fatal(err)
		}
		stale := img.Crash() // a clean image: the stale log alone

		total := -1
		for k := -1; k <= total+1; k++ {
			// A fresh copy of the stale image for every run.
			cfs := iofault.NewCrashFS(seed + uint64(k+7))
			if walb, ok, _ := cr8FileBytes(stale, path+"-wal"); ok {
				f, _ := cfs.Open(path+"-wal", ioback.OpenCreate)
				f.WriteAt(walb, 0)
				f.Sync()
				f.Close()
				cfs.SyncDir("/cr8stale")
			}
			ffs := iofault.NewFaultFS(cfs)
			var crashed *iofault.CrashFS
			var crashOp string
			n := 0
			ffs.Arm(iofault.Rule{N: 1 << 40, Match: func(op iofault.Op) bool {
				if cr8Mutating(op) {
					if n == k {
						crashed, crashOp = cfs.Crash(), op.String()
					}
					n++
				}
				return false
			}})
			restore := defaultVFS.SetFSForTesting(ffs)
			acked := 0
			var errs []error
			if c, err := cr8Open(t, path, "libsql_sync="+sync); err != nil {
				errs = append(errs, err)
			} else {
				for i, s := range []string{"CREATE TABLE t(id INTEGER PRIMARY KEY, v)", "INSERT INTO t VALUES (1, randomblob(500))",
					"INSERT INTO t VALUES (2, randomblob(3000))", "PRAGMA wal_checkpoint(TRUNCATE)", "INSERT INTO t VALUES (3, 'x')"} {
					if err := c.Exec(s); err != nil {
						errs = append(errs, fmt.Errorf("%s: %w", s, err))
						break
					}
					if i != 3 {
						acked++
					}
				}
				c.Close()
			}
			restore()
			if k < 0 {
				if len(errs) > 0 {
					t.Fatalf("seed %d: the run without a power loss: %v", seed, errs)
				}
				total = n
				continue
			}
			if crashed == nil {
				crashed, crashOp = cfs.Crash(), "(after the end)"
			}
			var bad []string
			// Stock SQLite on the raw image.
			if db, ok, _ := cr8FileBytes(crashed, path); ok && len(db) > 0 {
				dir := t.TempDir()
				cp := filepath.Join(dir, "s.db")
				os.WriteFile(cp, db, 0o644)
				if walb, ok, _ := cr8FileBytes(crashed, path+"-wal"); ok {
					os.WriteFile(cp+"-wal", walb, 0o644)
				}
				sdb, _ := sql.Open("sqlite", "file:"+cp+"?_pragma=synchronous(off)")
				var ic string
				var old int64
				// sync=off promises nothing about a power loss but this: the
				// old database's rows never come back.
				if err := sdb.QueryRow("PRAGMA integrity_check").Scan(&ic); (err != nil || ic != "ok") && sync != "off" {
					bad = append(bad, fmt.Sprintf("stock SQLite on the raw image: integrity_check %q %v", ic, err))
				}
				if err := sdb.QueryRow("SELECT count(*) FROM sqlite_schema WHERE name LIKE 'old_%'").Scan(&old); err == nil && old != 0 || err != nil && sync != "off" {
					bad = append(bad, fmt.Sprintf("stock SQLite on the raw image: the old database's tables are back (%d, %v)", old, err))
				}
				sdb.Close()
			}
			func() {
				restore := defaultVFS.SetFSForTesting(crashed)
				defer restore()
				c, err := cr8Open(t, path, "libsql_sync=full")
				if err != nil {
					if sync != "off" {
						bad = append(bad, fmt.Sprintf("reopen: %v", err))
					}
					return
				}
				defer c.Close()
				if ic, err := cr8Text(c, "PRAGMA integrity_check"); (err != nil || ic != "ok") && sync != "off" {
					bad = append(bad, fmt.Sprintf("integrity_check %q %v", ic, err))
				}
				if old, err := c.intErr("SELECT count(*) FROM sqlite_schema WHERE name LIKE 'old_%'"); err == nil && old != 0 || err != nil && sync != "off" {
					bad = append(bad, fmt.Sprintf("the old database's tables are back (%d, %v)", old, err))
				}
				rows, err := c.intErr("SELECT count(*) FROM t")
				switch {
				case err != nil && acked > 0 && sync != "off":
					bad = append(bad, fmt.Sprintf("the acknowledged table is gone: %v", err))
				case err == nil && sync == "full" && (int(rows) < acked-1 || int(rows) > acked):
					bad = append(bad, fmt.Sprintf("%d rows, %d commits acknowledged (the first is the table)", rows, acked))
				}
			}()
			if len(bad) > 0 {
				t.Errorf("seed %d: power loss before mutating op %d of %d (%s); %d acknowledged; errors %v\n\t%s", seed, k, total, crashOp, acked, cr8First(errs, 2), strings.Join(bad, "\n\t"))
			}
		}
		t.Logf("seed %d: %d crash points", seed, total+2)
	}
}

// TestCrashReview8TruncateLogWithInvalidHeader (finding CR8-TRUNC-NOHDR,
// fixed: recovery now records the file's size):
// a -wal whose header is not valid (zeros: a power loss after a TRUNCATE,
// when the next commit's reserved zeros reached the disk and its header
// did not) is recovered as an empty log, but recover's !hok branch
// (wal/log.go:342) never sets l.reserved to the file's size, so
// restart's lastFrame == 0 branch (wal/checkpoint.go:391-395) does not
// truncate it ("l.reserved > 0" is false) and TrimToHeader
// (checkpoint.go:478) does not trim it at close: wal_checkpoint(TRUNCATE)
// answers "not busy, 0 frames" and leaves the whole file, and a clean
// close leaves it too (README: a closed database's -wal is empty but for
// its header). Expected: the file is 0 bytes after TRUNCATE.
func TestCrashReview8TruncateLogWithInvalidHeader(t *testing.T) {
	mem := ioback.NewMemFS()
	restore := defaultVFS.SetFSForTesting(mem)
	defer restore()
	path := "/cr8trunc/t.db"
	c := openConn(t, path, "libsql_sync=full")
	c.exec("CREATE TABLE t(x); INSERT INTO t VALUES (1)")
	c.Close()
	f, err := mem.Open(path+"-wal", ioback.OpenCreate)
	if err != nil {
		t.Fatal(err)
	}
	f.WriteAt(make([]byte, 1<<20), 0) // the reserved zeros of a commit whose header was lost
	f.Close()
	c = openConn(t, path, "libsql_sync=full")
	if n := c.int("SELECT count(*) FROM t"); n != 1 {
		t.Fatalf("%d rows", n)
	}
	busy := c.int("PRAGMA wal_checkpoint(TRUNCATE)")
	size, _ := c.file.e.walf.Size()
	c.Close()
	after, _, _ := mem.Stat(path + "-wal")
	if busy == 0 && size != 0 {
		t.Errorf("wal_checkpoint(TRUNCATE) answered not busy and left a %d-byte -wal (after the close: %d bytes)", size, after)
	}
}

// TestCrashReview8SizeLimitAfterFailedCommit (finding CR8-LIMIT-NOFRAMES,
// fixed: a restart of a log with no frame cuts it too):
// journal_size_limit is applied only by a restart of a log that has
// frames (wal/checkpoint.go:391-396 returns before the cut when
// lastFrame == 0). A commit that reserved log space and then failed (a
// full disk: wal.Log.Reserve writes zeros ahead of the commit, 1 MiB at
// a time) leaves the file at its reserved size with no frame, and
// wal_checkpoint(RESTART) answers not busy and leaves it there, above the
// limit, until a later commit and restart (or the close's trim). The same
// holds after a recovery that found no commit in a large log.
func TestCrashReview8SizeLimitAfterFailedCommit(t *testing.T) {
	ffs := iofault.NewFaultFS(ioback.NewMemFS())
	restore := defaultVFS.SetFSForTesting(ffs)
	defer restore()
	c := openConn(t, "/cr8limit/t.db", "libsql_sync=full")
	c.exec("PRAGMA wal_autocheckpoint=0")
	c.exec("PRAGMA journal_size_limit=4096")
	c.exec("CREATE TABLE t(x)")
	c.exec("INSERT INTO t VALUES (randomblob(3000))")
	c.int("PRAGMA wal_checkpoint(RESTART)")
	// The next commit reserves log space from the 4096-byte cut: its
	// second 256 KiB write of zeros finds the disk full.
	ffs.Arm(iofault.Rule{N: 1, Fault: iofault.ENOSPC, Match: func(op iofault.Op) bool {
		return op.Kind == iofault.OpWriteAt && strings.HasSuffix(op.Name, "-wal") && op.Len > 32
	}})
	err := c.tryExec("INSERT INTO t VALUES (randomblob(600000))")
	ffs.Disarm()
	if err == nil || !ffs.Fired() {
		t.Fatalf("the commit did not meet the full disk: %v (fired %v)", err, ffs.Fired())
	}
	busy := c.int("PRAGMA wal_checkpoint(RESTART)")
	size, _ := c.file.e.walf.Size()
	if busy == 0 && size > 4096 {
		t.Errorf("after a failed commit (%v), wal_checkpoint(RESTART) answered not busy and left a %d-byte -wal, journal_size_limit 4096", err, size)
	}
}

// TestCrashReview8ConcurrentFaults: the concurrent workload with the n-th
// operation of a class failing (every 13th n normally, every n under
// LIBSQL_SOAK): the error reaches a caller or changes nothing; the files,
// as the fault left them, open in stock SQLite and in the engine with
// each writer's acknowledged rows.
func TestCrashReview8ConcurrentFaults(t *testing.T) {
	classes := cr8FaultClasses[:2]
	stride := 13
	if cr8Soak() {
		classes, stride = cr8FaultClasses, 1
	}
	for _, fc := range classes {
		t.Run(fc.name, func(t *testing.T) {
			seed := uint64(8400)
			stockDir := t.TempDir()
			failures, runs := 0, 0
			for n := int(seed) % stride; ; n += stride {
				mem := ioback.NewMemFS()
				ffs, opFired := cr8ArmFault(mem, seed, fc, n)
				path := cr8Dir() + "/t.db"
				restore := defaultVFS.SetFSForTesting(ffs)
				stop := cr8Watchdog(fmt.Sprintf("concurrent fault %s %d", fc.name, n))
				o := cr8ConcWorkload(t, seed, path, 4096)
				stop()
				restore()
				fired, firedOp := ffs.Fired(), opFired()
				ffs.Disarm()
				if !fired {
					break
				}
				runs++
				bad := append([]string(nil), o.bad...)
				if o.poisoned && len(o.errs) == 0 {
					bad = append(bad, "the engine was poisoned and no caller was told")
				}
				createAcked := true
				for _, err := range o.errs {
					msg := err.Error()
					if strings.HasPrefix(msg, "open") || strings.HasPrefix(msg, "PRAGMA") || strings.HasPrefix(msg, "CREATE") {
						createAcked = false
					}
					if strings.Contains(msg, "malformed") || strings.Contains(msg, "corrupt") {
						bad = append(bad, fmt.Sprintf("a caller saw corruption: %v", err))
					}
				}
				if len(o.errs) == 0 {
					// Harmless: then every transaction was acknowledged.
					for w, a := range o.acked {
						if a != len(o.txs[w]) {
							bad = append(bad, fmt.Sprintf("writer %d: %d of %d transactions acknowledged and no error", w, a, len(o.txs[w])))
						}
					}
				}
				bad = append(bad, cr8ConcEngineCheck(t, mem, path, o, createAcked)...)
				if cp, ok, _ := cr8FileBytes(mem, path); ok && len(cp) > 0 {
					got := cr8DB{}
					if _, err := cr8StockCheckAny(stockDir, path, mem, &got); err != nil {
						bad = append(bad, "stock SQLite: "+err.Error())
					} else if createAcked {
						for _, b := range cr8ConcCheck(o, got) {
							bad = append(bad, "stock SQLite: "+b)
						}
					}
				}
				if len(bad) > 0 {
					failures++
					if failures <= 5 {
						t.Errorf("concurrent seed %d: %s into op %d of its class (%s); acknowledged %v, failed %v, poisoned %v; errors %v\n\t%s",
							seed, fc.name, n, firedOp, o.acked, o.failed, o.poisoned, cr8First(o.errs, 3), strings.Join(bad, "\n\t"))
					}
				}
			}
			t.Logf("%d fault points", runs)
			if failures > 5 {
				t.Errorf("%d fault points failed in all", failures)
			}
		})
	}
}

// cr8ConcEngineCheck reopens the concurrent workload's database on fsys
// (after a power loss or a fault) through the engine, and lists what is
// wrong with it: its integrity, and, if the table's creation was
// acknowledged, the state cr8ConcCheck expects.
func cr8ConcEngineCheck(t *testing.T, fsys ioback.FS, path string, o *cr8ConcOutcome, createAcked bool) (bad []string) {
	restore := defaultVFS.SetFSForTesting(fsys)
	defer restore()
	c, err := cr8Open(t, path, "libsql_sync=full")
	if err != nil {
		return []string{fmt.Sprintf("reopen: %v", err)}
	}
	defer c.Close()
	if ic, err := cr8Text(c, "PRAGMA integrity_check"); err != nil || ic != "ok" {
		bad = append(bad, fmt.Sprintf("engine: integrity_check %q %v", ic, err))
	}
	got, err := cr8ReadState(cr8Capi{c.Conn})
	if err != nil {
		return append(bad, fmt.Sprintf("engine: %v", err))
	}
	if createAcked {
		for _, b := range cr8ConcCheck(o, got) {
			bad = append(bad, "engine: "+b)
		}
	}
	return bad
}

// cr8StockCheckAny is cr8StockCheck without a wanted state: it stores
// what stock SQLite reads in *got.
func cr8StockCheckAny(dir, path string, fsys ioback.FS, got *cr8DB) (cr8DB, error) {
	d, err := cr8StockCheck(dir, path, fsys, nil)
	if err != nil && strings.Contains(err.Error(), "stock SQLite reads") {
		err = nil
	}
	*got = d
	return d, err
}

// TestCrashReview8IdleRestartAfterReader: with automatic checkpoints, a
// log past its threshold whose restart a long reader refused restarts
// once the reader ends, with no commit after it (README: "at once when a
// pin goes"), and its retained pages (if any) go with the reader; a power
// loss then keeps every commit, and stock SQLite reads the image.
func TestCrashReview8IdleRestartAfterReader(t *testing.T) {
	// small: 5 one-frame commits, past the threshold (4) and below the
	// forced restart (16): the restart waits for the reader. big: past
	// 16 frames, the log restarts keeping the reader's pages.
	for _, v := range []struct {
		name string
		blob int
	}{{"small", 300}, {"big", 1500}} {
		t.Run(v.name, func(t *testing.T) { cr8IdleRestart(t, v.blob) })
	}
}

func cr8IdleRestart(t *testing.T, blob int) {
	cfs := iofault.NewCrashFS(8500)
	restore := defaultVFS.SetFSForTesting(cfs)
	defer restore()
	path := "/cr8idle/t.db"
	c := openConn(t, path, "libsql_sync=full&libsql_page_cache=16")
	c.exec("PRAGMA page_size=1024")
	c.exec("PRAGMA wal_autocheckpoint=4")
	c.exec("PRAGMA journal_size_limit=2048")
	c.exec("CREATE TABLE t(id INTEGER PRIMARY KEY, k INTEGER NOT NULL, v BLOB NOT NULL)")
	want := cr8DB{table: true, rows: map[int64]cr8Row{}}
	insert := func(id int64, n int) {
		c.exec(fmt.Sprintf("INSERT INTO t VALUES (%d, 0, %s)", id, cr8ValSQL(strconv.FormatInt(id, 10), "0", n)))
		want.rows[id] = cr8Row{0, n}
	}
	insert(1, 50)
	r := openConn(t, path, "libsql_sync=full")
	r.exec("BEGIN")
	if n := r.int("SELECT count(*) FROM t"); n != 1 {
		t.Fatalf("reader sees %d rows", n)
	}
	for i := int64(2); i <= 6; i++ {
		insert(i, blob/2)
	}
	e := c.file.e
	time.Sleep(30 * time.Millisecond) // the checkpointer tries, and the reader refuses
	frames, _ := e.log.Frames()
	if frames < 4 && e.log.RetainedPages() == 0 {
		t.Skipf("the log has %d frames: the setup did not keep the log past its threshold (%+v)", frames, e.log.Stats())
	}
	if n := r.int("SELECT count(*) FROM t"); n != 1 {
		t.Fatalf("the reader's snapshot moved: %d rows", n)
	}
	// A restart that keeps the reader's pages (big) may already have
	// brought the log below its threshold: then nothing is due.
	frames, _ = e.log.Frames()
	due := frames >= 4
	r.exec("COMMIT")
	deadline := time.Now().Add(2 * time.Second)
	for due {
		frames, _ = e.log.Frames()
		if frames == 0 || time.Now().After(deadline) {
			break
		}
		time.Sleep(time.Millisecond)
	}
	if due && frames != 0 {
		t.Errorf("the reader ended 2 s ago and the idle log, past its threshold, still has %d frames (restarts %d)", frames, e.log.Stats().Restarts)
	}
	if n := e.log.RetainedPages(); n != 0 {
		t.Errorf("%d retained pages kept after the reader ended", n)
	}
	size, _ := e.walf.Size()
	if frames == 0 && size > 2048 {
		t.Errorf("the restarted log is %d bytes, journal_size_limit 2048", size)
	}
	// A power loss now keeps all six rows.
	img := cfs.Crash()
	if _, err := cr8StockCheck(t.TempDir(), path, img, []cr8DB{want}); err != nil {
		t.Errorf("stock SQLite on the crash image: %v", err)
	}
	r.Close()
	c.Close()
	restore()
	defaultVFS.SetFSForTesting(img) // cleared by the deferred restore
	c2 := openConn(t, path, "libsql_sync=full")
	if got, err := cr8ReadState(cr8Capi{c2.Conn}); err != nil || !got.equal(want) {
		t.Errorf("after the power loss: %v %v, want %v", got, err, want)
	}
	if s := c2.text("PRAGMA integrity_check"); s != "ok" {
		t.Errorf("integrity_check: %s", s)
	}
	c2.Close()
}
