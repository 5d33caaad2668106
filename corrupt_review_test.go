package libsql

// Adversarial review of corrupt and hostile database files: damaged main
// files, leftover logs that do not match them, and things that are not
// regular files, compared with stock SQLite (modernc.org/sqlite's driver,
// "sqlite", on its own unix VFS). The invariant under test: bad input gets
// a clear error naming what was wrong (SQLITE_CORRUPT, SQLITE_NOTADB or
// SQLITE_CANTOPEN, as stock SQLite reports it), nothing panics, hangs or
// allocates without bound, nothing silently returns other data than stock
// SQLite, and a file that fails to open is left byte for byte as it was.

import (
	"bytes"
	"context"
	"crypto/sha256"
	"database/sql"
	"encoding/binary"
	"encoding/hex"
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

	"golang.org/x/sys/unix"
	"modernc.org/sqlite"
)

// crStep is one statement of a probe.
type crStep struct {
	name, query string
	exec        bool
}

// crSteps is what a probe runs on a database, in order.
var crSteps = []crStep{
	{"schema", "SELECT count(*) FROM sqlite_schema", false},
	{"select", "SELECT id, a, length(b) FROM t ORDER BY id", false},
	{"index", "SELECT count(*) FROM t WHERE a >= ''", false},
	{"integrity", "PRAGMA integrity_check", false},
	{"insert", "INSERT INTO t(a, b) VALUES ('new', zeroblob(10))", true},
	{"count", "SELECT count(*) FROM t", false},
}

// crOutcome is what one step did: "ok: <digest of the rows>" or the error
// class.
type crOutcome struct {
	class  string // "ok", an SQLite primary code name, "timeout", "other"
	detail string // rows (digest) or the error text
}

func (o crOutcome) String() string { return o.class + " " + o.detail }

// crClass names the primary SQLite code of err, from either driver.
func crClass(err error) string {
	if err == nil {
		return "ok"
	}
	if errors.Is(err, context.DeadlineExceeded) {
		return "timeout"
	}
	var le *Error
	var se *sqlite.Error
	switch {
	case errors.As(err, &le):
		return ErrorCode(le.Code()).String()
	case errors.As(err, &se):
		return ErrorCode(se.Code() & 0xff).String()
	}
	if strings.Contains(err.Error(), "deadline") {
		return "timeout"
	}
	return "other"
}

// crTimeout bounds every step of a probe: a hang is a failure.
const crTimeout = 5 * time.Second

// crProbe opens path with driver ("libsql" or "sqlite") and runs steps,
// each under its own deadline, returning their outcomes (the first entry is
// the open's ping). It stops after a timeout.
func crProbe(t testing.TB, driver, path string, steps []crStep) (out []crOutcome) {
	t.Helper()
	// A '#' (a fuzz seed's temporary directory) would start a fragment.
	file, query, _ := strings.Cut(path, "?")
	dsn := "file:" + strings.NewReplacer("%", "%25", "#", "%23").Replace(file)
	if query != "" {
		dsn += "?" + query
	}
	if driver == "libsql" {
		if strings.Contains(path, "?") {
			dsn += "&busy_timeout=1s"
		} else {
			dsn += "?busy_timeout=1s"
		}
	}
	db, err := sql.Open(driver, dsn)
	if err != nil {
		return []crOutcome{{crClass(err), err.Error()}}
	}
	db.SetMaxOpenConns(1)
	defer func() {
		done := make(chan error, 1)
		go func() { done <- db.Close() }()
		select {
		case err := <-done:
			if err != nil {
				out = append(out, crOutcome{"close:" + crClass(err), err.Error()})
			}
		case <-time.After(crTimeout):
			t.Errorf("%s: Close of %s hangs", driver, path)
			out = append(out, crOutcome{"close:timeout", ""})
		}
	}()
	run := func(f func(ctx context.Context) (string, error)) bool {
		ctx, cancel := context.WithTimeout(context.Background(), crTimeout)
		defer cancel()
		type res struct {
			s   string
			err error
		}
		ch := make(chan res, 1)
		go func() { s, err := f(ctx); ch <- res{s, err} }()
		select {
		case r := <-ch:
			if r.err != nil {
				out = append(out, crOutcome{crClass(r.err), r.err.Error()})
			} else {
				out = append(out, crOutcome{"ok", r.s})
			}
			return true
		case <-time.After(crTimeout + 2*time.Second):
			out = append(out, crOutcome{"timeout", "the call did not return"})
			return false
		}
	}
	if !run(func(ctx context.Context) (string, error) { return "", db.PingContext(ctx) }) {
		return out
	}
	for _, st := range steps {
		ok := run(func(ctx context.Context) (string, error) {
			if st.exec {
				r, err := db.ExecContext(ctx, st.query)
				if err != nil {
					return "", err
				}
				n, _ := r.RowsAffected()
				return fmt.Sprintf("%d row(s)", n), nil
			}
			return crRows(ctx, db, st.query)
		})
		if !ok {
			break
		}
	}
	return out
}

// crRows runs a query and renders its rows: in full when short, as a
// digest otherwise.
func crRows(ctx context.Context, db *sql.DB, query string) (string, error) {
	rows, err := db.QueryContext(ctx, query)
	if err != nil {
		return "", err
	}
	defer rows.Close()
	cols, _ := rows.Columns()
	var sb strings.Builder
	n := 0
	for rows.Next() {
		vals := make([]any, len(cols))
		ptrs := make([]any, len(cols))
		for i := range vals {
			ptrs[i] = &vals[i]
		}
		if err := rows.Scan(ptrs...); err != nil {
			return "", err
		}
		fmt.Fprintf(&sb, "%v;", vals)
		n++
	}
	if err := rows.Err(); err != nil {
		return "", err
	}
	s := sb.String()
	if len(s) > 80 {
		h := sha256.Sum256([]byte(s))
		s = fmt.Sprintf("%d rows sha %s", n, hex.EncodeToString(h[:6]))
	}
	return s, nil
}

// crBase builds a small valid database with stock SQLite in rollback mode
// (no log): page size ps, a table with an index, overflow pages and free
// pages. It returns the file's bytes.
func crBase(t testing.TB, ps int, rows int) []byte {
	t.Helper()
	dir := t.TempDir()
	path := filepath.Join(dir, "base.db")
	db, err := sql.Open("sqlite", "file:"+path)
	if err != nil {
		t.Fatal(err)
	}
	db.SetMaxOpenConns(1)
	for _, q := range []string{
		fmt.Sprintf("PRAGMA page_size=%d", ps),
		"PRAGMA journal_mode=DELETE",
		"CREATE TABLE t(id INTEGER PRIMARY KEY, a TEXT, b BLOB)",
		"CREATE INDEX t_a ON t(a)",
	} {
		if _, err := db.Exec(q); err != nil {
			t.Fatalf("%s: %v", q, err)
		}
	}
	for i := range rows {
		blob := 10
		if i%7 == 3 {
			blob = ps + ps/2 // an overflow chain
		}
		if _, err := db.Exec("INSERT INTO t(a, b) VALUES (?, zeroblob(?))", fmt.Sprintf("row %03d %s", i, strings.Repeat("x", i%13)), blob); err != nil {
			t.Fatal(err)
		}
	}
	if _, err := db.Exec("DELETE FROM t WHERE id % 5 = 0"); err != nil {
		t.Fatal(err)
	}
	if err := db.Close(); err != nil {
		t.Fatal(err)
	}
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// crWrite writes a file (and its log, if wal is not nil) into a new
// directory and returns the database's path.
func crWrite(t testing.TB, dir, name string, data, wal []byte) string {
	t.Helper()
	d := filepath.Join(dir, name)
	if err := os.MkdirAll(d, 0o755); err != nil {
		t.Fatal(err)
	}
	p := filepath.Join(d, "db")
	if err := os.WriteFile(p, data, 0o644); err != nil {
		t.Fatal(err)
	}
	if wal != nil {
		if err := os.WriteFile(p+"-wal", wal, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	return p
}

// crCompare writes data (and the log wal, unless nil) into two new
// directories, probes one with stock SQLite and the other with ours, and
// returns both outcomes and whether each left its main file unchanged.
func crCompare(t testing.TB, name string, data, wal []byte, steps []crStep) (ours, stock []crOutcome, unchanged, stockUnchanged bool) {
	t.Helper()
	dir := t.TempDir()
	po := crWrite(t, dir, name+"-ours", data, wal)
	ps := crWrite(t, dir, name+"-stock", data, wal)
	stock = crProbe(t, "sqlite", ps, steps)
	ours = crProbe(t, "libsql", po, steps)
	return ours, stock, crUnchanged(t, po, data), crUnchanged(t, ps, data)
}

// crMaxFile is the size past which a file is not read back (a checkpoint
// may have grown it, sparse, to terabytes).
const crMaxFile = 64 << 20

// crUnchanged reports whether the file at path holds data, without reading
// a file grown past crMaxFile.
func crUnchanged(t testing.TB, path string, data []byte) bool {
	t.Helper()
	fi, err := os.Stat(path)
	if err != nil {
		t.Fatal(err)
	}
	if fi.Size() != int64(len(data)) {
		if fi.Size() > crMaxFile {
			t.Logf("%s is now %d bytes long", path, fi.Size())
		}
		return false
	}
	after, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	return bytes.Equal(after, data)
}

func crFormat(steps []crStep, o []crOutcome) string {
	var sb strings.Builder
	for i, x := range o {
		label := "open"
		if i > 0 && i-1 < len(steps) {
			label = steps[i-1].name
		}
		fmt.Fprintf(&sb, "\n    %-9s %s", label, x)
	}
	return sb.String()
}

// crClasses is the outcomes' classes, with the rows of successful steps.
func crClasses(o []crOutcome) []string {
	var c []string
	for _, x := range o {
		if x.class == "ok" {
			c = append(c, "ok "+x.detail)
		} else {
			c = append(c, x.class)
		}
	}
	return c
}

// crSame reports whether two probes agree step by step: the same error
// class, or the same rows.
func crSame(a, b []crOutcome) bool { return slices.Equal(crClasses(a), crClasses(b)) }

// crFrame is one frame of a log built by crEncodeWAL.
type crFrame struct {
	page, commit uint32
	data         []byte
}

// crChecksum is SQLite's WAL checksum with native (little-endian) words.
func crChecksum(b []byte, s0, s1 uint32) (uint32, uint32) {
	for len(b) >= 8 {
		s0 += binary.LittleEndian.Uint32(b) + s1
		s1 += binary.LittleEndian.Uint32(b[4:]) + s0
		b = b[8:]
	}
	return s0, s1
}

// crEncodeWAL builds a log in SQLite's WAL format with page size ps.
func crEncodeWAL(ps uint32, frames []crFrame) []byte {
	hdr := make([]byte, 32)
	binary.BigEndian.PutUint32(hdr[0:], 0x377f0682)
	binary.BigEndian.PutUint32(hdr[4:], 3007000)
	binary.BigEndian.PutUint32(hdr[8:], ps)
	binary.BigEndian.PutUint32(hdr[12:], 7)
	binary.BigEndian.PutUint32(hdr[16:], 0x1234567)
	binary.BigEndian.PutUint32(hdr[20:], 0x89abcde)
	s0, s1 := crChecksum(hdr[:24], 0, 0)
	binary.BigEndian.PutUint32(hdr[24:], s0)
	binary.BigEndian.PutUint32(hdr[28:], s1)
	out := hdr
	for _, f := range frames {
		fh := make([]byte, 24)
		binary.BigEndian.PutUint32(fh[0:], f.page)
		binary.BigEndian.PutUint32(fh[4:], f.commit)
		copy(fh[8:16], hdr[16:24])
		s0, s1 = crChecksum(fh[:8], s0, s1)
		s0, s1 = crChecksum(f.data, s0, s1)
		binary.BigEndian.PutUint32(fh[16:], s0)
		binary.BigEndian.PutUint32(fh[20:], s1)
		out = append(out, fh...)
		out = append(out, f.data...)
	}
	return out
}

// crPage returns page n (from 1) of a database image of page size ps.
func crPage(b []byte, ps, n int) []byte { return bytes.Clone(b[(n-1)*ps : n*ps]) }

// crReport fails the test with both probes.
func crReport(t testing.TB, what string, steps []crStep, ours, stock []crOutcome) {
	t.Helper()
	t.Errorf("%s\n  ours:%s\n  stock SQLite:%s", what, crFormat(steps, ours), crFormat(steps, stock))
}

// crWALMode returns a copy of db with page 1 saying WAL mode (bytes 18-19);
// a file too short to have them is returned as it is.
func crWALMode(db []byte) []byte {
	b := bytes.Clone(db)
	if len(b) >= 20 {
		b[18], b[19] = 2, 2
	}
	return b
}

// TestCorruptReviewHeaderFieldsMatchStock: damaged header fields and pages
// of the main file that SQLite itself checks get stock SQLite's answer,
// step by step, with no panic or hang, and a file that fails to open is
// left as it was.
func TestCorruptReviewHeaderFieldsMatchStock(t *testing.T) {
	base := crBase(t, 1024, 40)
	set := func(off int, v ...byte) func([]byte) []byte {
		return func(b []byte) []byte { copy(b[off:], v); return b }
	}
	cases := []struct {
		name string
		f    func([]byte) []byte
	}{
		{"valid", func(b []byte) []byte { return b }},
		{"page size 0", set(16, 0, 0)},
		{"page size 3", set(16, 0, 3)},
		{"page size 256", set(16, 1, 0)},
		{"page size 1000", set(16, 0x03, 0xe8)},
		{"page size 512 (wrong)", set(16, 0x02, 0x00)},
		{"page size 4096 (wrong)", set(16, 0x10, 0x00)},
		{"page size 0x8001", set(16, 0x80, 0x01)},
		{"reserved bytes 255", set(20, 255)},
		{"byte 21", set(21, 0)},
		{"byte 22", set(22, 0)},
		{"byte 23", set(23, 0xff)},
		{"page count 1", set(28, 0, 0, 0, 1)},
		{"page count 2^24", set(28, 0, 0x01, 0, 0)},
		{"freelist trunk 2^31-1", set(32, 0x7f, 0xff, 0xff, 0xff)},
		{"freelist count 2^31-1", set(36, 0x7f, 0xff, 0xff, 0xff)},
		{"schema cookie", set(40, 0, 0, 0x10, 0)},
		{"schema format 9", set(44, 0, 0, 0, 9)},
		{"text encoding 0", set(56, 0, 0, 0, 0)},
		{"text encoding 4", set(56, 0, 0, 0, 4)},
		{"largest root page", set(52, 0, 0, 0, 9)},
		{"trailing garbage", func(b []byte) []byte { return append(b, bytes.Repeat([]byte{0xee}, 100)...) }},
		{"zero-filled 4 KiB", func([]byte) []byte { return make([]byte, 4096) }},
		{"page 2 zeroed", func(b []byte) []byte { clear(b[1024:2048]); return b }},
		{"page 1 b-tree zeroed", func(b []byte) []byte { clear(b[100:1024]); return b }},
		{"page 3 garbage", func(b []byte) []byte {
			for i := 2048; i < 3072; i++ {
				b[i] = byte(i * 7)
			}
			return b
		}},
	}
	for _, c := range cases {
		data := c.f(bytes.Clone(base))
		ours, stock, unchanged, stockUnchanged := crCompare(t, c.name, data, nil, crSteps)
		if !crSame(ours, stock) {
			crReport(t, c.name+": the outcomes differ", crSteps, ours, stock)
		}
		if ours[0].class != "ok" && !unchanged && stockUnchanged {
			t.Errorf("%s: the open failed (%s) and the file changed", c.name, ours[0])
		}
	}
}

// TestCorruptReviewFileShorterThanPageSizeLooksEmpty: a database file
// shorter than the page size its header declares (a truncated copy, a
// download cut short) holds no whole page. Stock SQLite reports it corrupt
// (SQLITE_CORRUPT, or SQLITE_NOTADB under 100 bytes). Ours shows an empty
// database, integrity_check "ok", and the first CREATE TABLE writes a new
// database over the file at the next checkpoint.
//
// Cause: wal/log.go readMainSize computes the main file's pages as
// size/pageSize, rounded down, so 0 pages: the engine then presents an
// empty file to SQLite (File.Size, File.ReadAt), which starts a new
// database. Stock SQLite rounds up (pager.c, pagerPagecount) and reads the
// partial page 1, zero-filled.
func TestCorruptReviewFileShorterThanPageSizeLooksEmpty(t *testing.T) {
	base := crBase(t, 4096, 10)
	p64 := crBase(t, 1024, 20)
	p64[16], p64[17] = 0, 1 // declares 65536 on a file of a few KiB
	cases := []struct {
		name string
		data []byte
	}{
		{"3000 of 4096-byte pages", base[:3000]},
		{"100 of 4096-byte pages", base[:100]},
		{"18 bytes", base[:18]},
		{"page size 65536 declared on a smaller file", p64},
	}
	steps := []crStep{
		{"schema", "SELECT count(*) FROM sqlite_schema", false},
		{"integrity", "PRAGMA integrity_check", false},
		{"create", "CREATE TABLE u(x)", true},
	}
	for _, c := range cases {
		ours, stock, unchanged, _ := crCompare(t, c.name, c.data, nil, steps)
		if !crSame(ours, stock) {
			crReport(t, c.name+": a file shorter than its page size", steps, ours, stock)
		}
		if !unchanged {
			t.Errorf("%s: the file (%d bytes) was overwritten after it opened as an empty database", c.name, len(c.data))
		}
	}
}

// TestCorruptReviewTinyFileIsNotADatabase: a file of 2 to 17 bytes (a
// short text file, a header cut short) is SQLITE_NOTADB in stock SQLite;
// ours fails the open with SQLITE_CANTOPEN, "wal: read page size of
// database file: EOF", which says the file could not be opened rather than
// that it is not a database.
//
// Cause: wal/log.go readMainSize reads 18 bytes with ReadAt and fails on
// the short read; a file shorter than 18 bytes should just have no page
// size (ps 0), and File.ReadAt then shows SQLite the bytes, which answers
// SQLITE_NOTADB.
func TestCorruptReviewTinyFileIsNotADatabase(t *testing.T) {
	base := crBase(t, 1024, 1)
	cases := map[string][]byte{
		"text":         []byte("hello, world\n"),
		"header 2":     base[:2],
		"header 16":    base[:16],
		"header 17":    base[:17],
		"zeros 10":     make([]byte, 10),
		"magic prefix": []byte("SQLite format 3"),
	}
	for name, data := range cases {
		ours, stock, unchanged, _ := crCompare(t, name, data, nil, crSteps[:1])
		if !crSame(ours, stock) {
			crReport(t, fmt.Sprintf("%s (%d bytes)", name, len(data)), crSteps[:1], ours, stock)
		}
		if !unchanged {
			t.Errorf("%s: the file changed", name)
		}
	}
}

// TestCorruptReviewFormatVersionBytes: header bytes 18 and 19 are the file
// format's write and read versions. Stock SQLite refuses to read a file
// whose read version is above 2 (SQLITE_NOTADB: a future format it does
// not understand) and opens one whose write version is above 2 read-only
// (SQLITE_READONLY on a write). Ours reads and writes both: File.readPage
// overwrites bytes 18-19 of page 1 with 1,1 for every read (to present
// rollback mode), so SQLite's checks in lockBtree never see the real
// values. The engine should check them where it parses page 1 (and fail
// the open with SQLITE_NOTADB, or open read-only), presenting 1,1 only for
// the values 1 and 2.
func TestCorruptReviewFormatVersionBytes(t *testing.T) {
	base := crBase(t, 1024, 20)
	cases := []struct {
		name   string
		b18    byte
		b19    byte
		insert bool
	}{
		{"read version 3", 1, 3, false},
		{"read version 255", 255, 255, false},
		{"write version 3", 3, 1, true},
		{"write version 3, WAL", 3, 2, true},
	}
	for _, c := range cases {
		data := bytes.Clone(base)
		data[18], data[19] = c.b18, c.b19
		ours, stock, unchanged, _ := crCompare(t, c.name, data, nil, crSteps)
		if !crSame(ours, stock) {
			crReport(t, fmt.Sprintf("%s (bytes 18-19 = %d,%d)", c.name, c.b18, c.b19), crSteps, ours, stock)
		}
		if !unchanged && !c.insert {
			t.Errorf("%s: a file stock SQLite refuses was changed", c.name)
		}
	}
}

// TestCorruptReviewStaleInHeaderPageCount: the page count at offset 28 is
// valid only while the version-valid-for number (92-95) equals the change
// counter (24-27); a file last written by SQLite before 3.7.0, or by a tool
// that does not maintain it, has them differ, and SQLite then takes the
// size from the file (btree.c lockBtree). Stock SQLite reads such a file
// in full; ours reports SQLITE_CORRUPT (count too small: a b-tree page
// past the end; too large: "database disk image is malformed").
//
// Cause: File.presentCounter writes the connection's own counter into both
// 24-27 and 92-95 of every page 1 it shows SQLite, making a stale count at
// 28 look valid. It should keep 92-95 different from 24-27 when they
// differ on disk (or write the file's size into 28-31 when it shows them
// equal).
func TestCorruptReviewStaleInHeaderPageCount(t *testing.T) {
	base := crBase(t, 1024, 40)
	for _, count := range []uint32{2, 1 << 16} {
		data := bytes.Clone(base)
		binary.BigEndian.PutUint32(data[28:], count)
		data[95] ^= 1 // version-valid-for != change counter
		name := fmt.Sprintf("page count %d, stale", count)
		ours, stock, _, _ := crCompare(t, name, data, nil, crSteps)
		if !crSame(ours, stock) {
			crReport(t, name, crSteps, ours, stock)
		}
	}
}

// TestCorruptReviewPartialLastPage: a file whose last page is cut short
// (its size not a multiple of the page size). Stock SQLite counts the
// partial page (the size rounded up), reads it zero-filled, and serves
// every row the file holds; ours fails every statement with SQLITE_CORRUPT
// at open, so not even the intact rows can be read or dumped.
//
// Cause: wal/log.go readMainSize rounds the main file's pages down
// (mainPages = size / pageSize), so the header's page count exceeds the
// file's and SQLite reports corruption. Rounding up, as pager.c does,
// with ReadPage zero-filling the missing tail, matches stock SQLite.
func TestCorruptReviewPartialLastPage(t *testing.T) {
	base := crBase(t, 1024, 40)
	for _, cut := range []int{1, 512} {
		name := fmt.Sprintf("last page short by %d bytes", cut)
		ours, stock, _, _ := crCompare(t, name, base[:len(base)-cut], nil, crReadSteps)
		if !crSame(ours, stock) {
			crReport(t, name, crReadSteps, ours, stock)
		}
	}
}

// crReadSteps only read.
var crReadSteps = crSteps[:4]

// TestCorruptReviewLeftoverLogOfAnotherPageSize: after a checkpoint that
// restarts it, the engine's log is a valid header and no frames (the
// header is written at the restart, with its reserved space after it); a
// process killed then leaves it so. A user who replaces the database file
// (a backup copied back, routine with stock SQLite) with one of another
// page size leaves that header beside it. Stock SQLite ignores a log
// without frames and reads and writes the file. Ours takes the page size
// from the log header and reads the file in units of it: a
// 1024-byte-page file behind a 4096 log is SQLITE_CORRUPT; a small
// 1024-byte-page file behind a 65536 log is an empty database (no tables;
// a CREATE TABLE would write a new database over it); a 65536 file behind
// a 4096 log, or a 1024 file behind a 512 log, reads, but every write
// fails with an I/O error ("changing the page size of a database is not
// supported").
//
// Cause: wal/log.go recover keeps l.hdr.pageSize from a valid header even
// when no commit follows it, and readMainSize then uses it. With no frame
// recovered, the page size should come from the main file (bytes 16-17),
// as for a missing log (the next commit writes a new header anyway).
func TestCorruptReviewLeftoverLogOfAnotherPageSize(t *testing.T) {
	for _, c := range []struct{ logPS, filePS int }{{4096, 1024}, {65536, 1024}, {4096, 65536}, {512, 1024}} {
		dir := t.TempDir()
		path := filepath.Join(dir, "app.db")
		db, err := sql.Open("libsql", fmt.Sprintf("file:%s?_pragma=page_size(%d)", path, c.logPS))
		if err != nil {
			t.Fatal(err)
		}
		db.SetMaxOpenConns(1)
		mustExec(t, db, "CREATE TABLE old(x)")
		mustExec(t, db, "INSERT INTO old VALUES (1)")
		mustExec(t, db, "PRAGMA wal_checkpoint(RESTART)")
		// The log as a kill -9 now would leave it.
		wal, err := os.ReadFile(path + "-wal")
		db.Close()
		if err != nil || len(wal) < 32 || binary.BigEndian.Uint32(wal[8:]) != uint32(c.logPS) {
			t.Fatalf("no restarted log of %d-byte pages beside the file (%d bytes, %v)", c.logPS, len(wal), err)
		}
		// The backup, made by stock SQLite with another page size.
		backup := crBase(t, c.filePS, 20)
		name := fmt.Sprintf("a %d-byte-page file behind the leftover log of a %d-byte-page database", c.filePS, c.logPS)
		ours, stock, _, _ := crCompare(t, fmt.Sprint(c.filePS, "-", c.logPS), backup, wal, crSteps)
		if !crSame(ours, stock) {
			crReport(t, name, crSteps, ours, stock)
		}
	}
}

// TestCorruptReviewHugeCommitSizeGrowsFile: a leftover log with a valid
// checksum chain whose commit frame claims a database of 2^24 pages (the
// files hold 4). Stock SQLite serves the data and refuses the checkpoint
// (walCheckpoint: a size beyond the file plus the log plus 64 KiB is
// SQLITE_CORRUPT), leaving the file as it was. Ours serves the data, then
// its checkpoint at close resizes the main file to 2^24 pages: 16 GiB
// (sparse here; 4 TiB for a claim of 2^32-1 pages, a real allocation or
// failure on file systems without holes, and a 16 GiB file for every
// backup tool).
//
// Cause: wal/checkpoint.go checkpointLocked calls resizeMain(dbSize*ps)
// without stock's sanity check; recovery (wal/log.go recover) also accepts
// any commit size. Fix: refuse a commit size beyond the main file's pages
// plus the log's frames plus 64 KiB, as stock does, with ErrCorrupt.
func TestCorruptReviewHugeCommitSizeGrowsFile(t *testing.T) {
	const ps = 1024
	base := crWALMode(crBase(t, ps, 5))
	n := len(base) / ps
	wal := crEncodeWAL(ps, []crFrame{{uint32(n), 1 << 24, crPage(base, ps, n)}})
	ours, stock, unchanged, stockUnchanged := crCompare(t, "huge commit size", base, wal, crReadSteps)
	if !crSame(ours, stock) {
		crReport(t, "a commit claiming 2^24 pages", crReadSteps, ours, stock)
	}
	if !unchanged && stockUnchanged {
		t.Errorf("a commit claiming 2^24 pages: ours changed the main file (see the log for its size); stock SQLite left it as it was")
	}
}

// TestCorruptReviewFrameBeyondDatabasePoisons: a leftover log with a valid
// commit that also carries a frame for page 2^32-1, far beyond the
// commit's database size. Stock SQLite ignores such a frame (walCheckpoint
// skips pages above the database size). Ours copies it at its checkpoint,
// at byte 2^48 of the main file: with 65536-byte pages the write fails
// (EFBIG), the log is poisoned, and every later statement fails with an
// I/O error until the database is reopened, which repeats it; the log
// can never be checkpointed. With 1024-byte pages it writes a block 4 TiB
// into the file before cutting the file back.
//
// Cause: wal/checkpoint.go checkpointLocked collects every indexed page of
// the versions it copies, whatever its number; it should skip pages above
// the database size of the last commit it copies (dbSize), as stock does.
func TestCorruptReviewFrameBeyondDatabasePoisons(t *testing.T) {
	const ps = 65536
	base := crWALMode(crBase(t, ps, 4))
	n := len(base) / ps
	wal := crEncodeWAL(ps, []crFrame{{0xffffffff, 0, make([]byte, ps)}, {uint32(n), uint32(n), crPage(base, ps, n)}})
	steps := []crStep{
		{"checkpoint", "PRAGMA wal_checkpoint", false},
		{"count", "SELECT count(*) FROM t", false},
		{"insert", "INSERT INTO t(a) VALUES ('x')", true},
	}
	ours, stock, _, _ := crCompare(t, "frame beyond", base, wal, steps)
	if !crSame(ours, stock) {
		crReport(t, "a committed frame for page 2^32-1", steps, ours, stock)
	}
}

// TestCorruptReviewCorruptLogCheckpointedAnyway: a leftover log of
// 1024-byte pages (valid checksums) whose page 1 declares 4096-byte pages.
// Both report SQLITE_CORRUPT (ours at open, stock at the first table it
// reads). Stock SQLite leaves the files alone (its
// checkpoint refuses a log whose page size is not the database's); ours
// copies the log into the main file when the engine closes and restarts
// the log, so the main file now declares 4096-byte pages too and the
// original, which deleting the bad log would have recovered, is gone: a
// failed open changed the file.
//
// Cause: Engine.close (and the background checkpointer) checkpoint
// whatever the log recovered, without checking that the page 1 it
// checkpoints declares the log's page size. Recovery should check it
// (wal.DeclaredPageSize of the newest page 1) and refuse the log with
// ErrCorrupt, or the checkpoint should.
func TestCorruptReviewCorruptLogCheckpointedAnyway(t *testing.T) {
	const ps = 1024
	base := crWALMode(crBase(t, ps, 20))
	n := len(base) / ps
	p1 := crPage(base, ps, 1)
	p1[16], p1[17] = 0x10, 0
	wal := crEncodeWAL(ps, []crFrame{{1, uint32(n), p1}})
	ours, stock, unchanged, stockUnchanged := crCompare(t, "page 1 of another size", base, wal, crReadSteps)
	t.Logf("ours:%s\nstock SQLite:%s", crFormat(crReadSteps, ours), crFormat(crReadSteps, stock))
	if ours[0].class != "ok" && !unchanged && stockUnchanged {
		t.Errorf("the open failed (%s), yet the log was checkpointed into the main file; stock SQLite left it unchanged", ours[0])
	}
}

// TestCorruptReviewReadOnlyIgnoresHotJournal: a stock SQLite writer that
// died mid-transaction, after its cache spilled into the file, leaves a
// hot journal. Opened read-only (mode=ro), stock SQLite refuses to read
// (SQLITE_READONLY_ROLLBACK): the file holds half a transaction. Ours
// reads it: rows with values no transaction committed, and an
// integrity_check that fails.
//
// Cause: iouring_vfs/vfs.go fileEngine rolls a hot journal back only for a
// read-write open (!readOnly), and VFS.Access hides every journal from
// SQLite, so a read-only open sees the torn file. Fix: for a read-only
// open with a hot journal (non-empty, a valid header), fail with
// SQLITE_READONLY_ROLLBACK as stock does.
func TestCorruptReviewReadOnlyIgnoresHotJournal(t *testing.T) {
	dir := t.TempDir()
	src := filepath.Join(dir, "stock.db")
	db, err := sql.Open("sqlite", "file:"+src+"?_pragma=journal_mode(DELETE)&_pragma=cache_size(10)")
	if err != nil {
		t.Fatal(err)
	}
	db.SetMaxOpenConns(1)
	defer db.Close()
	for _, q := range []string{
		"CREATE TABLE t(id INTEGER PRIMARY KEY, v BLOB)",
		"WITH RECURSIVE c(x) AS (SELECT 1 UNION ALL SELECT x+1 FROM c WHERE x < 500) INSERT INTO t(v) SELECT randomblob(500) FROM c",
	} {
		if _, err := db.Exec(q); err != nil {
			t.Fatal(err)
		}
	}
	committed, _ := os.ReadFile(src)
	conn, err := db.Conn(t.Context())
	if err != nil {
		t.Fatal(err)
	}
	if _, err := conn.ExecContext(t.Context(), "BEGIN"); err != nil {
		t.Fatal(err)
	}
	if _, err := conn.ExecContext(t.Context(), "UPDATE t SET v = randomblob(600)"); err != nil {
		t.Fatal(err)
	}
	torn, _ := os.ReadFile(src)
	journal, err := os.ReadFile(src + "-journal")
	if err != nil {
		t.Fatal(err)
	}
	conn.ExecContext(t.Context(), "ROLLBACK")
	conn.Close()
	if bytes.Equal(torn, committed) {
		t.Skip("the transaction did not spill into the file: nothing to check")
	}
	steps := []crStep{
		{"committed", "SELECT count(*) FROM t WHERE length(v) = 500", false},
		{"integrity", "PRAGMA integrity_check", false},
	}
	var outs [2][]crOutcome
	for i, drv := range []string{"sqlite", "libsql"} {
		p := filepath.Join(t.TempDir(), "crashed.db")
		if err := os.WriteFile(p, torn, 0o644); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(p+"-journal", journal, 0o644); err != nil {
			t.Fatal(err)
		}
		outs[i] = crProbe(t, drv, p+"?mode=ro", steps)
	}
	stock, ours := outs[0], outs[1]
	if ours[0].class == "ok" && (len(ours) < 2 || ours[1].detail != "[500];") {
		crReport(t, "mode=ro beside a hot journal: ours reads half a transaction", steps, ours, stock)
	}
}

// TestCorruptReviewHostileFiles: things that are not a regular database
// file, or a log or journal that is not a regular file. No panic, no hang,
// an SQLite error where stock SQLite fails, and the same success where it
// succeeds (a dangling or looping -wal link beside a rollback-mode file is
// the exception: ours needs a log where stock does not, and says so with
// SQLITE_CANTOPEN).
func TestCorruptReviewHostileFiles(t *testing.T) {
	base := crBase(t, 1024, 10)
	walBase := crWALMode(base)
	write := func(p string, b []byte) string {
		if err := os.WriteFile(p, b, 0o644); err != nil {
			t.Fatal(err)
		}
		return p
	}
	journal := bytes.Repeat([]byte{0xff}, 4096)
	copy(journal, []byte{0xd9, 0xd5, 0x05, 0xf9, 0x20, 0xa1, 0x63, 0xd7})
	cases := []struct {
		name    string
		setup   func(dir string) string
		mayDiff bool
	}{
		{"a directory", func(dir string) string {
			p := filepath.Join(dir, "d")
			os.Mkdir(p, 0o755)
			return p
		}, false},
		{"a FIFO", func(dir string) string {
			p := filepath.Join(dir, "fifo")
			crMkfifo(t, p)
			return p
		}, false},
		{"a character device (null)", func(dir string) string {
			p := filepath.Join(dir, "null")
			crMknodNull(t, p)
			return p
		}, false},
		{"-wal is a directory", func(dir string) string {
			p := write(filepath.Join(dir, "db"), walBase)
			os.Mkdir(p+"-wal", 0o755)
			return p
		}, false},
		{"-wal is a FIFO", func(dir string) string {
			p := write(filepath.Join(dir, "db"), walBase)
			crMkfifo(t, p+"-wal")
			return p
		}, false},
		{"-wal is a dangling link, WAL-mode file", func(dir string) string {
			p := write(filepath.Join(dir, "db"), walBase)
			os.Symlink(filepath.Join(dir, "nowhere", "x"), p+"-wal")
			return p
		}, false},
		{"-wal is a dangling link, rollback-mode file", func(dir string) string {
			p := write(filepath.Join(dir, "db"), base)
			os.Symlink(filepath.Join(dir, "nowhere", "x"), p+"-wal")
			return p
		}, true},
		{"-wal is a link loop", func(dir string) string {
			p := write(filepath.Join(dir, "db"), base)
			os.Symlink(p+"-wal", p+"-wal")
			return p
		}, true},
		{"-journal is a directory", func(dir string) string {
			p := write(filepath.Join(dir, "db"), base)
			os.Mkdir(p+"-journal", 0o755)
			return p
		}, false},
		{"-journal is garbage", func(dir string) string {
			p := write(filepath.Join(dir, "db"), base)
			write(p+"-journal", bytes.Repeat([]byte{0xa5}, 4096))
			return p
		}, false},
		{"-journal has a valid magic and garbage", func(dir string) string {
			p := write(filepath.Join(dir, "db"), base)
			write(p+"-journal", journal)
			return p
		}, false},
		{"-journal beside a WAL-mode file", func(dir string) string {
			p := write(filepath.Join(dir, "db"), walBase)
			write(p+"-journal", journal)
			return p
		}, false},
	}
	for _, c := range cases {
		stock := crProbe(t, "sqlite", c.setup(t.TempDir()), crSteps)
		ours := crProbe(t, "libsql", c.setup(t.TempDir()), crSteps)
		for i, o := range ours {
			if o.class == "timeout" || o.class == "other" || strings.HasPrefix(o.class, "close:") {
				t.Errorf("%s: step %d: %s", c.name, i, o)
			}
		}
		if len(ours) != len(stock) {
			crReport(t, c.name+": a probe stopped early", crSteps, ours, stock)
			continue
		}
		for i := range ours {
			if (ours[i].class == "ok") != (stock[i].class == "ok") && !c.mayDiff {
				crReport(t, c.name+": one succeeds where the other fails", crSteps, ours, stock)
				break
			}
		}
	}
}

// TestCorruptReviewTruncatedWhileOpen: another process truncates the file
// while the engine has it open (outside the locks: hostile). Statements
// then fail with an SQLite error or read what is left; nothing panics or
// hangs.
func TestCorruptReviewTruncatedWhileOpen(t *testing.T) {
	base := crBase(t, 1024, 40)
	p := crWrite(t, t.TempDir(), "trunc", base, nil)
	db, err := sql.Open("libsql", "file:"+p+"?busy_timeout=1s")
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	db.SetMaxOpenConns(2)
	ctx, cancel := context.WithTimeout(context.Background(), crTimeout)
	defer cancel()
	if _, err := crRows(ctx, db, "SELECT count(*) FROM t"); err != nil {
		t.Fatal(err)
	}
	for _, size := range []int64{int64(len(base) / 2), 1000, 0} {
		if err := os.Truncate(p, size); err != nil {
			t.Fatal(err)
		}
		for _, q := range []string{"SELECT a, length(b) FROM t", "PRAGMA integrity_check", "INSERT INTO t(a) VALUES ('z')"} {
			_, err := db.ExecContext(ctx, q)
			if err != nil && (crClass(err) == "other" || crClass(err) == "timeout") {
				t.Errorf("truncated to %d: %s: %v", size, q, err)
			}
		}
	}
}

func crMkfifo(t testing.TB, p string) {
	if err := unix.Mkfifo(p, 0o644); err != nil {
		t.Skip("mkfifo:", err)
	}
}

func crMknodNull(t testing.TB, p string) {
	if err := unix.Mknod(p, unix.S_IFCHR|0o666, int(unix.Mkdev(1, 3))); err != nil {
		t.Skip("mknod (needs root):", err)
	}
}

// crFuzzLog builds a log from a fuzzer's spec, with valid checksums, so
// that the fuzzer explores logs SQLite would replay rather than ones whose
// first checksum fails: spec[0] picks the page size (the database's, or
// 512, 1024, 4096, 65536), then records of 8 bytes each make a frame: page
// number (4 bytes), commit size (4 bytes; clamp keeps both near the
// database's size and the page size the database's); the frame's page is the
// database's page of the same number (modulo its pages), with the record's
// first byte (the page number's high byte) XORed into byte (commit size mod
// page size).
// An empty spec means no log.
func crFuzzLog(db, spec []byte, clamp bool) []byte {
	if len(spec) == 0 {
		return nil
	}
	sel := spec[0] % 5
	if clamp {
		sel = 0 // a log of another page size than page 1's is a known finding
	}
	ps := 0
	switch sel {
	case 0:
		if len(db) >= 18 {
			ps = int(binary.BigEndian.Uint16(db[16:]))
			if ps == 1 {
				ps = 65536
			}
		}
	case 1:
		ps = 512
	case 2:
		ps = 1024
	case 3:
		ps = 4096
	case 4:
		ps = 65536
	}
	if ps < 512 || ps > 65536 || ps&(ps-1) != 0 {
		ps = 1024
	}
	pages := max(len(db)/ps, 1)
	var frames []crFrame
	for rec := spec[1:]; len(rec) >= 8 && len(frames) < 16; rec = rec[8:] {
		pg := binary.BigEndian.Uint32(rec)
		commit := binary.BigEndian.Uint32(rec[4:])
		if clamp {
			// Frames beyond the commit's size and huge sizes are known
			// findings: pages within the file, sizes at most 2 past it.
			pg = pg%uint32(pages) + 1
			if commit != 0 {
				commit = uint32(pages) + commit%3
			}
		}
		if pg == 0 {
			pg = 1
		}
		data := make([]byte, ps)
		src := int(pg-1) % pages
		if src*ps < len(db) {
			copy(data, db[src*ps:])
		}
		data[int(commit)%ps] ^= rec[0] // the page number's high byte, as given
		frames = append(frames, crFrame{pg, commit, data})
	}
	return crEncodeWAL(uint32(ps), frames)
}

// crKnownDivergence reports whether a main file has a property for which
// ours is known to differ from stock SQLite (the failing tests above), so
// that the differential check of FuzzCorruptDatabase looks for others.
func crKnownDivergence(db []byte) bool {
	if len(db) < 100 {
		return true
	}
	ps := int(binary.BigEndian.Uint16(db[16:]))
	if ps == 1 {
		ps = 65536
	}
	return ps == 0 || len(db) < ps || len(db)%ps != 0 || db[18] > 2 || db[19] > 2 || !bytes.Equal(db[24:28], db[92:96])
}

// crCaptureStderr runs f with os.Stderr redirected to a file and returns
// what was written: the VFS reports a recovered panic there ("libsql:
// panic in VFS callback").
func crCaptureStderr(t testing.TB, f func()) string {
	t.Helper()
	tmp, err := os.CreateTemp(t.TempDir(), "stderr")
	if err != nil {
		t.Fatal(err)
	}
	defer tmp.Close()
	saved := os.Stderr
	os.Stderr = tmp
	defer func() { os.Stderr = saved }()
	f()
	os.Stderr = saved
	b, _ := os.ReadFile(tmp.Name())
	return string(b)
}

// FuzzCorruptDatabase mutates a small valid database file and, optionally,
// a leftover log built with valid checksums (crFuzzLog), and checks that
// the driver never panics (not even a panic the VFS recovers), never
// hangs, fails only with SQLite errors, leaves the main file unchanged
// when it only read it and there was no log, and that integrity_check
// answers (rows or an error). Writes (INSERT, DELETE, VACUUM) follow, under
// the same rules. With LIBSQL_CR_SKIP_KNOWN=1, log page numbers and commit
// sizes are clamped near the database's size (the known findings about
// huge ones are left out); with LIBSQL_CR_DIFF=1, a file without a log is
// also read by stock SQLite, and where stock reads every row and finds
// integrity ok, ours must return the same rows (files with the known
// divergences excepted).
func FuzzCorruptDatabase(f *testing.F) {
	base := crBase(f, 512, 12)
	walBase := crWALMode(base)
	f.Add(base, []byte(nil))
	flipped := bytes.Clone(base)
	flipped[600] ^= 0x40
	f.Add(flipped, []byte(nil))
	n := uint32(len(base) / 512)
	spec := []byte{0}
	spec = binary.BigEndian.AppendUint32(spec, 1)
	spec = binary.BigEndian.AppendUint32(spec, 0)
	spec = binary.BigEndian.AppendUint32(spec, n)
	spec = binary.BigEndian.AppendUint32(spec, n)
	f.Add(walBase, spec)
	clamp := os.Getenv("LIBSQL_CR_SKIP_KNOWN") == "1"
	diff := os.Getenv("LIBSQL_CR_DIFF") == "1"
	f.Fuzz(func(t *testing.T, db, logSpec []byte) { crFuzzOne(t, db, logSpec, clamp, diff) })
}

// crFuzzReadSteps and crFuzzWriteSteps are what FuzzCorruptDatabase runs.
var (
	crFuzzReadSteps = []crStep{
		{"schema", "SELECT type, name, tbl_name, rootpage FROM sqlite_schema", false},
		{"select", "SELECT * FROM t", false},
		{"index", "SELECT a FROM t INDEXED BY t_a WHERE a > ''", false},
		{"integrity", "PRAGMA integrity_check", false},
		{"quick", "PRAGMA quick_check", false},
	}
	crFuzzWriteSteps = []crStep{
		{"insert", "INSERT INTO t(a, b) VALUES ('fuzz', zeroblob(700))", true},
		{"delete", "DELETE FROM t WHERE id % 3 = 0", true},
		{"vacuum", "VACUUM", true},
		{"integrity", "PRAGMA integrity_check", false},
	}
)

// crFuzzOne is one input of FuzzCorruptDatabase.
func crFuzzOne(t *testing.T, db, logSpec []byte, clamp, diff bool) {
	readSteps, writeSteps := crFuzzReadSteps, crFuzzWriteSteps
	{
		if len(db) > 64<<10 || len(logSpec) > 1+8*16 {
			t.Skip()
		}
		wal := crFuzzLog(db, logSpec, clamp)
		dir := t.TempDir()
		path := crWrite(t, dir, "f", db, wal)
		check := func(what string, out []crOutcome) {
			for i, o := range out {
				if o.class == "timeout" || o.class == "other" || o.class == "close:timeout" {
					t.Errorf("%s: step %d: %s", what, i, o)
				}
			}
		}
		var reads, writes []crOutcome
		stderr := crCaptureStderr(t, func() {
			reads = crProbe(t, "libsql", path, readSteps)
			check("reads", reads)
		})
		if strings.Contains(stderr, "panic") {
			t.Fatalf("a panic while reading: %s\n%s", stderr, crFormat(readSteps, reads))
		}
		if wal == nil && !crUnchanged(t, path, db) {
			t.Errorf("reading the file changed it:%s", crFormat(readSteps, reads))
		}
		if fi, err := os.Stat(path); err == nil && fi.Size() > int64(len(db)+len(wal))+65536 {
			t.Errorf("reading grew the file from %d to %d bytes (log %d bytes)", len(db), fi.Size(), len(wal))
		}
		if diff && wal == nil && !crKnownDivergence(db) {
			stock := crProbe(t, "sqlite", crWrite(t, dir, "s", db, nil), readSteps)
			stockFine := len(stock) == len(reads)
			for _, o := range stock {
				stockFine = stockFine && o.class == "ok"
			}
			if stockFine && stock[4].detail == "[ok];" && !crSame(reads, stock) {
				crReport(t, "stock SQLite reads the file whole and finds it intact; ours differs", readSteps, reads, stock)
			}
		}
		stderr = crCaptureStderr(t, func() {
			writes = crProbe(t, "libsql", path, writeSteps)
			check("writes", writes)
		})
		if strings.Contains(stderr, "panic") {
			t.Fatalf("a panic while writing: %s\n%s", stderr, crFormat(writeSteps, writes))
		}
		if os.Getenv("CR_FUZZ_VERBOSE") != "" {
			t.Logf("log %d bytes\n  reads:%s\n  writes:%s", len(wal), crFormat(readSteps, reads), crFormat(writeSteps, writes))
		}
	}
}

// TestCorruptReviewFuzzReplay runs FuzzCorruptDatabase's body on the
// corpus files of the directory named by CR_FUZZ_DIR (the fuzz cache),
// timing each; skipped without it.
func TestCorruptReviewFuzzReplay(t *testing.T) {
	dir := os.Getenv("CR_FUZZ_DIR")
	if dir == "" {
		t.Skip("CR_FUZZ_DIR not set")
	}
	ents, err := os.ReadDir(dir)
	if err != nil {
		t.Fatal(err)
	}
	for _, e := range ents {
		b, err := os.ReadFile(filepath.Join(dir, e.Name()))
		if err != nil {
			t.Fatal(err)
		}
		var args [][]byte
		for _, line := range strings.Split(string(b), "\n") {
			if lit, ok := strings.CutPrefix(line, "[]byte("); ok {
				s, err := strconv.Unquote(strings.TrimSuffix(lit, ")"))
				if err != nil {
					t.Fatalf("%s: %v", e.Name(), err)
				}
				args = append(args, []byte(s))
			}
		}
		if len(args) != 2 {
			t.Fatalf("%s: %d arguments", e.Name(), len(args))
		}
		t.Run(e.Name(), func(t *testing.T) {
			start := time.Now()
			crFuzzOne(t, args[0], args[1], os.Getenv("LIBSQL_CR_SKIP_KNOWN") == "1", os.Getenv("LIBSQL_CR_DIFF") == "1")
			t.Logf("%d-byte file, %d-byte log spec: %v", len(args[0]), len(args[1]), time.Since(start))
		})
	}
}

// crMutate damages a copy of db the way FuzzCorruptDatabase's inputs might,
// but aimed: header fields, b-tree page headers and cell pointers, bytes
// anywhere, truncation and extension.
func crMutate(r *rand.Rand, db []byte, ps int) []byte {
	b := bytes.Clone(db)
	pages := len(b) / ps
	for range 1 + r.IntN(4) {
		switch r.IntN(8) {
		case 0: // a header field
			off := []int{16, 17, 18, 19, 20, 21, 28, 29, 30, 31, 32, 35, 36, 39, 40, 44, 47, 52, 55, 56, 59, 64, 67}[r.IntN(23)]
			b[off] = byte(r.Uint32())
		case 1, 2: // a b-tree page header
			pg := r.IntN(pages)
			hdr := pg * ps
			if pg == 0 {
				hdr = 100
			}
			b[hdr+r.IntN(12)] = byte(r.Uint32())
		case 3: // a cell pointer or the cell content start
			pg := r.IntN(pages)
			hdr := pg * ps
			if pg == 0 {
				hdr = 100
			}
			off := hdr + 5 + r.IntN(24)
			b[off] = byte(r.Uint32())
		case 4, 5: // a byte anywhere
			i := r.IntN(len(b))
			b[i] ^= byte(1 << r.IntN(8))
		case 6: // a 4-byte page number somewhere
			i := r.IntN(len(b) - 4)
			binary.BigEndian.PutUint32(b[i:], uint32(r.IntN(pages+3)))
		case 7:
			if r.IntN(4) == 0 {
				b = b[:r.IntN(len(b))+1]
				pages = max(len(b)/ps, 1)
				if len(b) < 120 {
					return b
				}
			} else {
				b[r.IntN(len(b))] = 0
			}
		}
	}
	return b
}

// TestCorruptReviewMutationSoak runs FuzzCorruptDatabase's checks on
// randomly damaged files and logs for LIBSQL_CR_SOAK_TIME (default 3m),
// uninstrumented (the coverage-guided fuzzer runs about 0.1 inputs a
// second on this engine: the transpiled SQLite is instrumented too). Only
// with LIBSQL_SOAK=1. LIBSQL_CR_SKIP_KNOWN and LIBSQL_CR_DIFF as for the
// fuzz target.
func TestCorruptReviewMutationSoak(t *testing.T) {
	if !soak() {
		t.Skip("LIBSQL_SOAK=1 runs it")
	}
	d := 3 * time.Minute
	if s := os.Getenv("LIBSQL_CR_SOAK_TIME"); s != "" {
		var err error
		if d, err = time.ParseDuration(s); err != nil {
			t.Fatal(err)
		}
	}
	clamp := os.Getenv("LIBSQL_CR_SKIP_KNOWN") == "1"
	diff := os.Getenv("LIBSQL_CR_DIFF") == "1"
	seed := uint64(time.Now().UnixNano())
	t.Logf("seed %d", seed)
	r := rand.New(rand.NewPCG(seed, 1))
	bases := [][]byte{crBase(t, 512, 12), crBase(t, 1024, 30), crBase(t, 4096, 20)}
	n := 0
	for deadline := time.Now().Add(d); time.Now().Before(deadline) && !t.Failed(); n++ {
		bi := r.IntN(len(bases))
		ps := []int{512, 1024, 4096}[bi]
		db := crMutate(r, bases[bi], ps)
		var spec []byte
		if r.IntN(3) == 0 {
			db = crWALMode(db)
			spec = []byte{byte(r.IntN(5))}
			for range r.IntN(6) {
				pg := uint32(r.IntN(len(db)/ps + 3))
				commit := uint32(0)
				if r.IntN(2) == 0 {
					commit = uint32(r.IntN(len(db)/ps+3) + 1)
				}
				spec = binary.BigEndian.AppendUint32(spec, pg)
				spec = binary.BigEndian.AppendUint32(spec, commit)
			}
		}
		t.Run(fmt.Sprint(n), func(t *testing.T) {
			crFuzzOne(t, db, spec, clamp, diff)
			if t.Failed() {
				t.Logf("file (%d bytes) %x\nlog spec %x", len(db), db, spec)
			}
		})
	}
	t.Logf("%d inputs", n)
}

// TestCorruptReviewCDCStateLSNOverflow: with cdc=on, the driver raises the
// engine's LSNs above the highest stored one, max(max(lsn) of libsql_cdc,
// pruned_through of libsql_cdc_state), read from the file. A file whose
// pruned_through is 2^63-1 (or any value whose high 32 bits are 2^31-1)
// makes every later LSN 2^63 or more: stored as a signed 64-bit INTEGER
// (int64(lsn) in storeChanges), it comes out negative, below everything
// retention deleted. A stream resuming from the oldest change then never
// sees those transactions, and nothing reports an error. The stored state
// should be checked at connect (setupDurableCDC) and a value that leaves no
// room for LSNs refused with an error naming it, or LSNs kept below 2^63.
func TestCorruptReviewCDCStateLSNOverflow(t *testing.T) {
	path := filepath.Join(t.TempDir(), "cdc.db")
	open := func() *sql.DB {
		db, err := sql.Open("libsql", "file:"+path+"?cdc=on")
		if err != nil {
			t.Fatal(err)
		}
		return db
	}
	db := open()
	mustExec(t, db, "CREATE TABLE k(id INTEGER PRIMARY KEY, v TEXT)")
	mustExec(t, db, "INSERT INTO k(v) VALUES ('first')")
	// What a hostile or damaged file holds.
	mustExec(t, db, "INSERT INTO libsql_cdc_state(key, value) VALUES ('pruned_through', 9223372036854775807) ON CONFLICT(key) DO UPDATE SET value = excluded.value")
	if err := db.Close(); err != nil {
		t.Fatal(err)
	}
	db = open()
	defer db.Close()
	if _, err := db.Exec("INSERT INTO k(v) VALUES ('after')"); err != nil {
		t.Logf("refused with an error: %v", err)
		return
	}
	var lsns string
	if err := db.QueryRow("SELECT group_concat(lsn, ' ') FROM libsql_cdc").Scan(&lsns); err != nil {
		t.Fatal(err)
	}
	var neg int
	if err := db.QueryRow("SELECT count(*) FROM libsql_cdc WHERE lsn < 0").Scan(&neg); err != nil {
		t.Fatal(err)
	}
	if neg > 0 {
		t.Errorf("after pruned_through = 2^63-1 a commit was stored with a negative LSN (stored LSNs: %s); no error was reported", lsns)
	}
}
