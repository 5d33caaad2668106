package libsql

import (
	"bytes"
	"context"
	"database/sql"
	"encoding/binary"
	"fmt"
	"math/rand"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	iouringvfs "github.com/golibsql/libsql/iouring_vfs"
)

func review20RegistryLen() int { return iouringvfs.RegisteredImagesForTesting() }

// review20Fill fills a database with rows a digest can compare.
func review20Fill(t *testing.T, db *sql.DB, n int) {
	t.Helper()
	mustExec(t, db, `CREATE TABLE t(id INTEGER PRIMARY KEY, name TEXT UNIQUE, data BLOB);
		CREATE INDEX t_len ON t(length(data))`)
	mustExec(t, db, `WITH RECURSIVE c(i) AS (SELECT 1 UNION ALL SELECT i+1 FROM c WHERE i < ?)
		INSERT INTO t SELECT i, 'name ' || i, randomblob(i * 13 % 3000) FROM c`, n)
}

func review20Digest(t *testing.T, q interface {
	QueryRowContext(context.Context, string, ...any) *sql.Row
}) string {
	t.Helper()
	var s string
	if err := q.QueryRowContext(context.Background(), `SELECT count(*) || ':' || total(length(data)) || ':' ||
		coalesce(hex(sha3_agg(data)), '') FROM (SELECT data FROM t ORDER BY id)`).Scan(&s); err != nil {
		// sha3_agg may be missing: fall back.
		if err2 := q.QueryRowContext(context.Background(), `SELECT count(*) || ':' || total(length(data)) || ':' ||
			group_concat(hex(substr(data, 1, 8)) || hex(substr(data, -8)) || name, '') FROM (SELECT name, data FROM t ORDER BY id)`).Scan(&s); err2 != nil {
			t.Fatal(err2)
		}
	}
	return s
}

func review20Integrity(t *testing.T, q interface {
	QueryContext(context.Context, string, ...any) (*sql.Rows, error)
}) []string {
	t.Helper()
	rows, err := q.QueryContext(context.Background(), "PRAGMA integrity_check")
	if err != nil {
		return []string{"error: " + err.Error()}
	}
	defer rows.Close()
	var out []string
	for rows.Next() {
		var s string
		if err := rows.Scan(&s); err != nil {
			return append(out, "scan error: "+err.Error())
		}
		out = append(out, s)
	}
	if err := rows.Err(); err != nil {
		out = append(out, "rows error: "+err.Error())
	}
	return out
}

func review20Ok(out []string) bool { return len(out) == 1 && out[0] == "ok" }

// review20WithTimeout runs fn, failing the test if it takes more than d.
func review20WithTimeout(t *testing.T, d time.Duration, fn func()) {
	t.Helper()
	done := make(chan any, 1)
	go func() {
		defer func() { done <- recover() }()
		fn()
	}()
	select {
	case p := <-done:
		if p != nil {
			t.Fatalf("panic: %v", p)
		}
	case <-time.After(d):
		t.Fatalf("hung for more than %v", d)
	}
}

// TestReview20PageSizesAndAutoVacuum: images of databases with other page
// sizes and with pointer-map pages start in-memory databases with the same
// contents, which then take writes, an incremental vacuum and stay sound;
// stock SQLite opens each image written to a file.
func TestReview20PageSizesAndAutoVacuum(t *testing.T) {
	ctx := context.Background()
	for _, ps := range []int{512, 1024, 8192, 65536} {
		for _, av := range []string{"NONE", "FULL", "INCREMENTAL"} {
			t.Run(fmt.Sprintf("%d_%s", ps, av), func(t *testing.T) {
				path := filepath.Join(t.TempDir(), "src.db")
				src := openTestDSN(t, "file:"+filepath.ToSlash(path))
				mustExec(t, src, fmt.Sprintf("PRAGMA page_size=%d; PRAGMA auto_vacuum=%s", ps, av))
				review20Fill(t, src, 200)
				mustExec(t, src, "DELETE FROM t WHERE id % 3 = 0")
				want := review20Digest(t, src)
				image, err := Serialize(ctx, src, "")
				if err != nil {
					t.Fatal(err)
				}
				if len(image)%ps != 0 {
					t.Fatalf("image of %d bytes for page size %d", len(image), ps)
				}
				if got := int(binary.BigEndian.Uint16(image[16:18])); got != ps && !(ps == 65536 && got == 1) {
					t.Fatalf("image header page size %d, want %d", got, ps)
				}
				if n := binary.BigEndian.Uint32(image[28:32]); int(n)*ps != len(image) {
					t.Fatalf("header page count %d, image %d pages", n, len(image)/ps)
				}
				mem := openTestDSN(t, ":memory:", WithImage(image))
				if got := review20Digest(t, mem); got != want {
					t.Fatalf("in-memory: %s, want %s", got, want)
				}
				var gotPS int
				var gotAV int
				if err := mem.QueryRow("PRAGMA page_size").Scan(&gotPS); err != nil || gotPS != ps {
					t.Fatalf("page_size %d, %v", gotPS, err)
				}
				if err := mem.QueryRow("PRAGMA auto_vacuum").Scan(&gotAV); err != nil || gotAV != map[string]int{"NONE": 0, "FULL": 1, "INCREMENTAL": 2}[av] {
					t.Fatalf("auto_vacuum %d, %v", gotAV, err)
				}
				if out := review20Integrity(t, mem); !review20Ok(out) {
					t.Fatalf("integrity: %v", out)
				}
				mustExec(t, mem, "INSERT INTO t SELECT id + 10000, name || 'x', randomblob(2000) FROM t")
				mustExec(t, mem, "DELETE FROM t WHERE id < 150")
				mustExec(t, mem, "PRAGMA incremental_vacuum")
				if out := review20Integrity(t, mem); !review20Ok(out) {
					t.Fatalf("integrity after writes: %v", out)
				}
				// The in-memory database's image round-trips too.
				again, err := Serialize(ctx, mem, "main")
				if err != nil {
					t.Fatal(err)
				}
				out := filepath.Join(t.TempDir(), "img.db")
				if err := os.WriteFile(out, again, 0o600); err != nil {
					t.Fatal(err)
				}
				stock, err := sql.Open("sqlite", out)
				if err != nil {
					t.Fatal(err)
				}
				defer stock.Close()
				if res := review20Integrity(t, stock); !review20Ok(res) {
					t.Fatalf("stock integrity of the in-memory database's image: %v", res)
				}
				if a, b := review20Digest(t, stock), review20Digest(t, mem); a != b {
					t.Fatalf("stock reads %s, in-memory %s", a, b)
				}
			})
		}
	}
}

// TestReview20StockWALLeftover: a database stock SQLite left in WAL mode with
// its -wal holding commits: our driver opens it, and the image has the
// log's commits, in rollback mode (bytes 18-19 = 1).
func TestReview20StockWALLeftover(t *testing.T) {
	ctx := context.Background()
	dir := t.TempDir()
	path := filepath.Join(dir, "stock.db")
	stock, err := sql.Open("sqlite", path)
	if err != nil {
		t.Fatal(err)
	}
	stock.SetMaxOpenConns(1)
	for _, q := range []string{"PRAGMA journal_mode=WAL", "PRAGMA wal_autocheckpoint=0",
		"CREATE TABLE t(id INTEGER PRIMARY KEY, name TEXT UNIQUE, data BLOB)",
		"WITH RECURSIVE c(i) AS (SELECT 1 UNION ALL SELECT i+1 FROM c WHERE i < 100) INSERT INTO t SELECT i, 'n' || i, randomblob(100) FROM c",
	} {
		if _, err := stock.Exec(q); err != nil {
			t.Fatal(q, err)
		}
	}
	want := review20Digest(t, stock)
	// Copy the database and its -wal while stock SQLite holds them: a leftover
	// log with commits not in the main file.
	cp := filepath.Join(dir, "copy.db")
	for _, sfx := range []string{"", "-wal"} {
		b, err := os.ReadFile(path + sfx)
		if err != nil {
			t.Fatal(err)
		}
		if sfx == "-wal" && len(b) == 0 {
			t.Fatal("empty -wal")
		}
		if err := os.WriteFile(cp+sfx, b, 0o600); err != nil {
			t.Fatal(err)
		}
	}
	stock.Close()
	db := openTestDSN(t, "file:"+filepath.ToSlash(cp))
	if got := review20Digest(t, db); got != want {
		t.Fatalf("our driver reads %s, want %s", got, want)
	}
	image, err := Serialize(ctx, db, "")
	if err != nil {
		t.Fatal(err)
	}
	if image[18] != 1 || image[19] != 1 {
		t.Errorf("image bytes 18-19 = %d %d, want 1 1 (rollback mode, no log)", image[18], image[19])
	}
	mem := openTestDSN(t, ":memory:", WithImage(image))
	if got := review20Digest(t, mem); got != want {
		t.Fatalf("image: %s, want %s", got, want)
	}
	out := filepath.Join(dir, "img.db")
	if err := os.WriteFile(out, image, 0o600); err != nil {
		t.Fatal(err)
	}
	s2, err := sql.Open("sqlite", out)
	if err != nil {
		t.Fatal(err)
	}
	defer s2.Close()
	if got := review20Digest(t, s2); got != want {
		t.Fatalf("stock reads the image as %s, want %s", got, want)
	}
	if _, err := os.Stat(out + "-wal"); err == nil {
		t.Errorf("stock SQLite made a -wal for the image: it is in WAL mode")
	}
}

func review20Image(t *testing.T, n int) ([]byte, string) {
	t.Helper()
	src := openTestDB(t, "")
	review20Fill(t, src, n)
	image, err := Serialize(context.Background(), src, "")
	if err != nil {
		t.Fatal(err)
	}
	return image, review20Digest(t, src)
}

// TestReview20HeaderWALBytes: an image whose bytes 18-19 say WAL (2) or
// rollback (1) starts the same database; it takes writes and its own image
// is in rollback mode.
func TestReview20HeaderWALBytes(t *testing.T) {
	image, want := review20Image(t, 50)
	for _, v := range [][2]byte{{2, 2}, {1, 1}, {1, 2}, {2, 1}} {
		img := bytes.Clone(image)
		img[18], img[19] = v[0], v[1]
		mem := openTestDSN(t, ":memory:", WithImage(img))
		review20WithTimeout(t, 2*time.Second, func() {
			if got := review20Digest(t, mem); got != want {
				t.Errorf("%v: %s, want %s", v, got, want)
			}
			mustExec(t, mem, "INSERT INTO t VALUES (1000, 'x', x'00')")
			var jm string
			if err := mem.QueryRow("PRAGMA journal_mode").Scan(&jm); err != nil {
				t.Error(err)
			}
			again, err := Serialize(context.Background(), mem, "")
			if err != nil {
				t.Fatal(err)
			}
			if again[18] != 1 || again[19] != 1 {
				t.Errorf("%v: image of the started database has bytes 18-19 = %d %d (journal_mode %s)", v, again[18], again[19], jm)
			}
		})
	}
}

// TestReview20HeaderPageCountMismatch: an image whose header page count
// (bytes 28-31) is smaller than its length opens as SQLite says (the
// header's count when valid); one whose count is larger fails cleanly as
// corrupt, never panics or hangs.
func TestReview20HeaderPageCountMismatch(t *testing.T) {
	image, want := review20Image(t, 100)
	ps := int(binary.BigEndian.Uint16(image[16:18]))
	n := len(image) / ps
	// Extra zero pages past the header's count: SQLite trusts the header.
	bigger := append(bytes.Clone(image), make([]byte, 3*ps)...)
	mem := openTestDSN(t, ":memory:", WithImage(bigger))
	review20WithTimeout(t, 2*time.Second, func() {
		if got := review20Digest(t, mem); got != want {
			t.Errorf("with 3 trailing pages: %s, want %s", got, want)
		}
		mustExec(t, mem, "INSERT INTO t SELECT id + 1000, name || 'y', randomblob(3000) FROM t WHERE id < 20")
		if out := review20Integrity(t, mem); !review20Ok(out) {
			t.Errorf("integrity with trailing pages: %v", out)
		}
	})
	// A header count larger than the image.
	big := bytes.Clone(image)
	binary.BigEndian.PutUint32(big[28:32], uint32(n+5))
	db, err := Open(":memory:", WithImage(big))
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	review20WithTimeout(t, 2*time.Second, func() {
		var c int
		err := db.QueryRow("SELECT count(*) FROM t").Scan(&c)
		if err == nil {
			out := review20Integrity(t, db)
			t.Logf("header count past the image: query gave %d rows; integrity %v", c, out)
		}
	})
}

// TestReview20CorruptImages: truncated images and images with random bytes
// past the header: opening and querying fail cleanly or integrity_check
// reports problems; nothing panics or hangs.
func TestReview20CorruptImages(t *testing.T) {
	image, _ := review20Image(t, 300)
	ps := int(binary.BigEndian.Uint16(image[16:18]))
	rng := rand.New(rand.NewSource(20))
	var cases [][]byte
	cases = append(cases, image[:ps], image[:2*ps], image[:len(image)/2/ps*ps])
	for i := 0; i < 12; i++ {
		img := bytes.Clone(image)
		switch i % 3 {
		case 0: // random bytes past the header
			rng.Read(img[100:])
		case 1: // some random pages
			for j := 0; j < 3; j++ {
				p := rng.Intn(len(img)/ps-1) + 1
				rng.Read(img[p*ps : (p+1)*ps])
			}
		case 2: // random bytes in page 1's b-tree
			rng.Read(img[100+rng.Intn(50) : ps])
		}
		cases = append(cases, img)
	}
	for i, img := range cases {
		db, err := Open(":memory:", WithImage(img))
		if err != nil {
			continue // refused up front: fine
		}
		review20WithTimeout(t, 3*time.Second, func() {
			defer db.Close()
			rows, err := db.Query("SELECT * FROM t")
			if err == nil {
				for rows.Next() {
				}
				err = rows.Err()
				rows.Close()
			}
			out := review20Integrity(t, db)
			if err != nil && review20Ok(out) {
				t.Errorf("case %d: the query failed (%v) yet integrity_check says ok", i, err)
			}
			_, _ = db.Exec("INSERT INTO t(name, data) VALUES ('z', x'01')")
			_, _ = Serialize(context.Background(), db, "")
		})
	}
}

// TestReview20FreelistHeavy: the image of a database that deleted most of
// its rows (a long freelist) restores the rows and the freelist, and the
// started database reuses the free pages.
func TestReview20FreelistHeavy(t *testing.T) {
	ctx := context.Background()
	src := openTestDB(t, "")
	review20Fill(t, src, 2000)
	mustExec(t, src, "DELETE FROM t WHERE id % 20 != 0")
	var free, pages int
	if err := src.QueryRow("PRAGMA freelist_count").Scan(&free); err != nil || free < 100 {
		t.Fatalf("freelist_count %d, %v", free, err)
	}
	src.QueryRow("PRAGMA page_count").Scan(&pages)
	want := review20Digest(t, src)
	image, err := Serialize(ctx, src, "")
	if err != nil {
		t.Fatal(err)
	}
	mem := openTestDSN(t, ":memory:", WithImage(image))
	var mfree, mpages int
	mem.QueryRow("PRAGMA freelist_count").Scan(&mfree)
	mem.QueryRow("PRAGMA page_count").Scan(&mpages)
	if mfree != free || mpages != pages {
		t.Fatalf("freelist %d/%d pages %d/%d", mfree, free, mpages, pages)
	}
	if got := review20Digest(t, mem); got != want {
		t.Fatalf("%s, want %s", got, want)
	}
	mustExec(t, mem, "INSERT INTO t SELECT id + 100000, name || 'r', randomblob(1000) FROM t")
	var after int
	mem.QueryRow("PRAGMA page_count").Scan(&after)
	if after != pages {
		t.Errorf("page_count grew %d -> %d though %d pages were free", pages, after, free)
	}
	mustExec(t, mem, "VACUUM")
	if out := review20Integrity(t, mem); !review20Ok(out) {
		t.Fatal(out)
	}
}

// TestReview20ReservedBytes: an image with reserved bytes per page (byte 20
// non-zero), made by stock SQLite from a crafted empty database, starts a
// database that reads, writes (BEGIN CONCURRENT too) and keeps the
// reserve.
func TestReview20ReservedBytes(t *testing.T) {
	ctx := context.Background()
	const ps, reserve = 4096, 32
	page := make([]byte, ps)
	copy(page, "SQLite format 3\x00")
	binary.BigEndian.PutUint16(page[16:], ps)
	page[18], page[19], page[20], page[21], page[22], page[23] = 1, 1, reserve, 64, 32, 32
	binary.BigEndian.PutUint32(page[24:], 1) // change counter
	binary.BigEndian.PutUint32(page[28:], 1) // page count
	binary.BigEndian.PutUint32(page[44:], 4) // schema format
	binary.BigEndian.PutUint32(page[56:], 1) // UTF-8
	binary.BigEndian.PutUint32(page[92:], 1) // version-valid-for
	binary.BigEndian.PutUint32(page[96:], 3045001)
	page[100] = 13                                     // leaf table b-tree
	binary.BigEndian.PutUint16(page[105:], ps-reserve) // cell content start
	path := filepath.Join(t.TempDir(), "reserve.db")
	if err := os.WriteFile(path, page, 0o600); err != nil {
		t.Fatal(err)
	}
	stock, err := sql.Open("sqlite", path)
	if err != nil {
		t.Fatal(err)
	}
	stock.SetMaxOpenConns(1)
	if _, err := stock.Exec(`CREATE TABLE t(id INTEGER PRIMARY KEY, name TEXT UNIQUE, data BLOB);
		WITH RECURSIVE c(i) AS (SELECT 1 UNION ALL SELECT i+1 FROM c WHERE i < 300)
		INSERT INTO t SELECT i, 'name ' || i, randomblob(i * 13 % 3000) FROM c`); err != nil {
		t.Skipf("stock SQLite cannot use the crafted database: %v", err)
	}
	if out := review20Integrity(t, stock); !review20Ok(out) {
		t.Skipf("crafted database: %v", out)
	}
	want := review20Digest(t, stock)
	stock.Close()
	image, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	if image[20] != reserve {
		t.Skipf("stock SQLite dropped the reserve: byte 20 = %d", image[20])
	}
	mem := openTestDSN(t, ":memory:", WithImage(image))
	if got := review20Digest(t, mem); got != want {
		t.Fatalf("%s, want %s", got, want)
	}
	mustExec(t, mem, "INSERT INTO t SELECT id + 1000, name || 'x', randomblob(2500) FROM t")
	c1, c2 := dbConn(t, mem), dbConn(t, mem)
	cexec(t, c1, "BEGIN CONCURRENT")
	cexec(t, c2, "BEGIN CONCURRENT")
	cexec(t, c1, "INSERT INTO t VALUES (5000, 'c1', randomblob(100))")
	cexec(t, c2, "INSERT INTO t VALUES (5001, 'c2', randomblob(100))")
	cexec(t, c1, "COMMIT")
	if _, err := c2.ExecContext(ctx, "COMMIT"); err != nil {
		t.Logf("second concurrent commit: %v", err)
		c2.ExecContext(ctx, "ROLLBACK")
	}
	if out := review20Integrity(t, mem); !review20Ok(out) {
		t.Fatalf("integrity: %v", out)
	}
	again, err := Serialize(ctx, mem, "")
	if err != nil {
		t.Fatal(err)
	}
	if again[20] != reserve {
		t.Fatalf("reserve byte %d after writes", again[20])
	}
}

// TestReview20RegistryReleased: the registry forgets an image once the
// engine took it, and when the connector closes before any connection.
func TestReview20RegistryReleased(t *testing.T) {
	image, _ := review20Image(t, 10)
	before := review20RegistryLen()
	db, err := Open(":memory:", WithImage(image))
	if err != nil {
		t.Fatal(err)
	}
	if n := review20RegistryLen(); n != before+1 {
		t.Fatalf("registry %d after Open, want %d", n, before+1)
	}
	db.Close()
	if n := review20RegistryLen(); n != before {
		t.Fatalf("registry %d after Close with no connection, want %d", n, before)
	}
	db, err = Open("file:review20reg?mode=memory", WithImage(image))
	if err != nil {
		t.Fatal(err)
	}
	if err := db.Ping(); err != nil {
		t.Fatal(err)
	}
	if n := review20RegistryLen(); n != before {
		t.Fatalf("registry %d after the engine took the image, want %d", n, before)
	}
	db.Close()
	// A connector whose first open fails (another image for an open name).
	a := openTestDSN(t, "file:review20reg2?mode=memory")
	mustExec(t, a, "CREATE TABLE x(a)")
	b, err := Open("file:review20reg2?mode=memory", WithImage(image))
	if err != nil {
		t.Fatal(err)
	}
	if err := b.Ping(); err == nil {
		t.Fatal("another image for an open name was accepted")
	}
	b.Close()
	if n := review20RegistryLen(); n != before {
		t.Fatalf("registry %d after a refused connector closed, want %d", n, before)
	}
	// A native connector (what pool.Open builds on).
	ctr, err := NewConnector(":memory:", WithImage(image))
	if err != nil {
		t.Fatal(err)
	}
	dc, err := ctr.Connect(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	dc.Close()
	ctr.Close()
	if n := review20RegistryLen(); n != before {
		t.Fatalf("registry %d after the native connector closed, want %d", n, before)
	}
	_ = iouringvfs.ParamImage
	_ = atomic.Int64{}
	_ = strings.Contains
}

// TestReview20CDCOnImage: a database started from an image takes durable
// CDC (cdc=on) whether or not the image has the CDC tables: with them, a
// stream from the oldest reads the image's history then the new commits,
// LSNs increasing; without them they are created. Without cdc=on an image
// with CDC tables still streams in memory.
func TestReview20CDCOnImage(t *testing.T) {
	ctx := context.Background()
	src := openTestDB(t, "cdc=on")
	mustExec(t, src, "CREATE TABLE k(id INTEGER PRIMARY KEY, v TEXT)")
	for i := 1; i <= 3; i++ {
		mustExec(t, src, "INSERT INTO k VALUES (?, ?)", i, fmt.Sprint("src", i))
	}
	withCDC, err := Serialize(ctx, src, "")
	if err != nil {
		t.Fatal(err)
	}
	plain := openTestDB(t, "")
	mustExec(t, plain, "CREATE TABLE k(id INTEGER PRIMARY KEY, v TEXT); INSERT INTO k VALUES (1, 'plain')")
	noCDC, err := Serialize(ctx, plain, "")
	if err != nil {
		t.Fatal(err)
	}
	readAll := func(db *sql.DB, want int) []Change {
		t.Helper()
		s, err := Changes(ctx, db, ChangeOptions{Since: 1})
		if err != nil {
			t.Fatal(err)
		}
		defer s.Close()
		var out []Change
		cctx, cancel := context.WithTimeout(ctx, time.Second)
		defer cancel()
		for len(out) < want {
			c, err := s.Next(cctx)
			if err != nil {
				t.Fatalf("after %d changes: %v", len(out), err)
			}
			out = append(out, c)
		}
		return out
	}
	for name, dsn := range map[string]string{"memory": ":memory:?cdc=on", "named": "file:review20cdc?mode=memory&cdc=on"} {
		t.Run(name+"/with-tables", func(t *testing.T) {
			mem := openTestDSN(t, dsn, WithImage(withCDC))
			mustExec(t, mem, "INSERT INTO k VALUES (10, 'mem')")
			ch := readAll(mem, 4)
			for i := 1; i < len(ch); i++ {
				if ch[i].LSN <= ch[i-1].LSN {
					t.Fatalf("LSNs not increasing: %v then %v", ch[i-1].LSN, ch[i].LSN)
				}
			}
			if ch[3].RowID != 10 || ch[0].RowID != 1 {
				t.Fatalf("changes %+v", ch)
			}
			// A live stream sees the next commit.
			s, err := Changes(ctx, mem, ChangeOptions{})
			if err != nil {
				t.Fatal(err)
			}
			defer s.Close()
			mustExec(t, mem, "INSERT INTO k VALUES (11, 'live')")
			cctx, cancel := context.WithTimeout(ctx, time.Second)
			defer cancel()
			c, err := s.Next(cctx)
			if err != nil || c.RowID != 11 || c.LSN <= ch[3].LSN {
				t.Fatalf("live change %+v, %v", c, err)
			}
		})
	}
	t.Run("without-tables", func(t *testing.T) {
		mem := openTestDSN(t, ":memory:?cdc=on", WithImage(noCDC))
		mustExec(t, mem, "INSERT INTO k VALUES (2, 'mem')")
		if n := count(t, mem, "SELECT count(*) FROM libsql_cdc"); n != 1 {
			t.Fatalf("libsql_cdc holds %d rows", n)
		}
		ch := readAll(mem, 1)
		if ch[0].RowID != 2 {
			t.Fatalf("%+v", ch)
		}
	})
	t.Run("tables-cdc-off", func(t *testing.T) {
		// Without cdc=on, a database storing its changes refuses writes
		// (as a file database does), saying to open it with cdc=on; reads work.
		mem := openTestDSN(t, ":memory:", WithImage(withCDC))
		if n := count(t, mem, "SELECT count(*) FROM k"); n != 3 {
			t.Fatalf("%d rows", n)
		}
		_, err := mem.Exec("INSERT INTO k VALUES (20, 'x')")
		if err == nil || !strings.Contains(err.Error(), "cdc=on") {
			t.Fatalf("write without cdc=on to an image with libsql_cdc: %v", err)
		}
	})
}

// TestReview20SerializeUnderWrites: images taken while writers commit
// transfers and grow the database are each one consistent snapshot: the
// started database passes integrity_check and keeps the sum invariant.
func TestReview20SerializeUnderWrites(t *testing.T) {
	ctx := context.Background()
	db := openTestDB(t, "")
	mustExec(t, db, `CREATE TABLE acct(id INTEGER PRIMARY KEY, bal INTEGER NOT NULL);
		CREATE TABLE junk(id INTEGER PRIMARY KEY, b BLOB, n INTEGER);
		CREATE INDEX junk_n ON junk(n);
		WITH RECURSIVE c(i) AS (SELECT 1 UNION ALL SELECT i+1 FROM c WHERE i < 200) INSERT INTO acct SELECT i, 1000 FROM c`)
	stop := make(chan struct{})
	var wg sync.WaitGroup
	var commits atomic.Int64
	for w := 0; w < 4; w++ {
		wg.Add(1)
		go func(w int) {
			defer wg.Done()
			rng := rand.New(rand.NewSource(int64(w)))
			for {
				select {
				case <-stop:
					return
				default:
				}
				a, b, amt := rng.Intn(200)+1, rng.Intn(200)+1, rng.Intn(100)
				tx, err := db.Begin()
				if err != nil {
					continue
				}
				_, e1 := tx.Exec("UPDATE acct SET bal = bal - ? WHERE id = ?", amt, a)
				_, e2 := tx.Exec("UPDATE acct SET bal = bal + ? WHERE id = ?", amt, b)
				_, e3 := tx.Exec("INSERT INTO junk(b, n) VALUES (randomblob(?), ?)", rng.Intn(3000), rng.Int())
				var e4 error
				if rng.Intn(4) == 0 {
					_, e4 = tx.Exec("DELETE FROM junk WHERE id IN (SELECT id FROM junk ORDER BY random() LIMIT 3)")
				}
				if e1 != nil || e2 != nil || e3 != nil || e4 != nil {
					tx.Rollback()
					continue
				}
				if tx.Commit() == nil {
					commits.Add(1)
				}
			}
		}(w)
	}
	var images [][]byte
	deadline := time.Now().Add(600 * time.Millisecond)
	var serr error
	for time.Now().Before(deadline) {
		img, err := Serialize(ctx, db, "")
		if err != nil {
			serr = err
			break
		}
		images = append(images, img)
		time.Sleep(20 * time.Millisecond)
	}
	close(stop)
	wg.Wait()
	if serr != nil {
		t.Fatal(serr)
	}
	t.Logf("%d commits, %d images", commits.Load(), len(images))
	for i, img := range images {
		mem, err := Open(":memory:", WithImage(img))
		if err != nil {
			t.Fatal(err)
		}
		if out := review20Integrity(t, mem); !review20Ok(out) {
			t.Errorf("image %d: integrity %v", i, out)
		}
		var sum, n int
		if err := mem.QueryRow("SELECT sum(bal), count(*) FROM acct").Scan(&sum, &n); err != nil || sum != 200000 || n != 200 {
			t.Errorf("image %d: sum %d over %d rows, %v", i, sum, n, err)
		}
		mem.Close()
	}
}

// TestReview20SerializeInTransactions: inside BEGIN CONCURRENT and a write
// transaction the image includes the transaction's own writes and not
// others' later commits; a read-only transaction's is its snapshot.
func TestReview20SerializeInTransactions(t *testing.T) {
	ctx := context.Background()
	db := openTestDB(t, "")
	mustExec(t, db, "CREATE TABLE t(id INTEGER PRIMARY KEY, v TEXT); INSERT INTO t VALUES (1, 'base')")
	rows := func(img []byte) string {
		t.Helper()
		mem := openTestDSN(t, ":memory:", WithImage(img))
		var s string
		if err := mem.QueryRow("SELECT group_concat(v, ',') FROM (SELECT v FROM t ORDER BY id)").Scan(&s); err != nil {
			t.Fatal(err)
		}
		return s
	}
	c, o := dbConn(t, db), dbConn(t, db)
	cexec(t, c, "BEGIN CONCURRENT")
	cexec(t, c, "INSERT INTO t VALUES (2, 'mine')")
	cexec(t, o, "INSERT INTO t VALUES (3, 'other')")
	img, err := Serialize(ctx, c, "")
	if err != nil {
		t.Fatal(err)
	}
	if got := rows(img); got != "base,mine" {
		t.Errorf("inside BEGIN CONCURRENT: %q, want base,mine", got)
	}
	if _, err := c.ExecContext(ctx, "COMMIT"); err != nil {
		t.Logf("commit after Serialize: %v", err)
		c.ExecContext(ctx, "ROLLBACK")
	}
	tx, err := db.BeginTx(ctx, nil)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := tx.Exec("INSERT INTO t VALUES (4, 'tx')"); err != nil {
		t.Fatal(err)
	}
	img, err = Serialize(ctx, tx, "MAIN")
	if err != nil {
		t.Fatal(err)
	}
	tx.Rollback()
	if got := rows(img); !strings.HasSuffix(got, ",tx") {
		t.Errorf("inside a write transaction: %q", got)
	}
	ro, err := db.BeginTx(ctx, &sql.TxOptions{ReadOnly: true})
	if err != nil {
		t.Fatal(err)
	}
	defer ro.Rollback()
	var before string
	ro.QueryRow("SELECT group_concat(v, ',') FROM (SELECT v FROM t ORDER BY id)").Scan(&before)
	mustExec(t, db, "INSERT INTO t VALUES (5, 'later')")
	img, err = Serialize(ctx, ro, "main")
	if err != nil {
		t.Fatal(err)
	}
	if got := rows(img); got != before {
		t.Errorf("read-only transaction: %q, want %q", got, before)
	}
	cctx, cancel := context.WithCancel(ctx)
	cancel()
	if img, err := Serialize(cctx, db, ""); err == nil {
		t.Errorf("a cancelled context: %d bytes, no error", len(img))
	}
}

// TestReview20SchemaNames: schemas named in other letter cases, with quotes
// and spaces, and temp, serialize; two images of distinct schemas differ.
func TestReview20SchemaNames(t *testing.T) {
	ctx := context.Background()
	dir := t.TempDir()
	db := openTestDB(t, "")
	mustExec(t, db, "CREATE TABLE m(a); INSERT INTO m VALUES ('main')")
	c := dbConn(t, db)
	names := []string{`we"ird`, `a'b`, `Sp ace`, `UPPER`}
	for i, n := range names {
		p := filepath.Join(dir, fmt.Sprintf("a%d.db", i))
		cexec(t, c, "ATTACH ? AS "+`"`+strings.ReplaceAll(n, `"`, `""`)+`"`, p)
		cexec(t, c, `CREATE TABLE "`+strings.ReplaceAll(n, `"`, `""`)+`".x(a)`)
		cexec(t, c, `INSERT INTO "`+strings.ReplaceAll(n, `"`, `""`)+`".x VALUES (?)`, n)
	}
	cexec(t, c, "CREATE TEMP TABLE tt(a); INSERT INTO tt VALUES ('temp')")
	check := func(schema, table, want string) {
		t.Helper()
		img, err := Serialize(ctx, c, schema)
		if err != nil {
			t.Errorf("%q: %v", schema, err)
			return
		}
		mem := openTestDSN(t, ":memory:", WithImage(img))
		var s string
		if err := mem.QueryRow("SELECT a FROM " + table).Scan(&s); err != nil || s != want {
			t.Errorf("%q: %q, %v; want %q", schema, s, err, want)
		}
	}
	for _, s := range []string{"", "main", "MAIN", "Main"} {
		check(s, "m", "main")
	}
	check("TEMP", "tt", "temp")
	for _, n := range names {
		check(n, "x", n)
		check(strings.ToLower(n), "x", n)
	}
	if _, err := Serialize(ctx, c, "we'ird"); err == nil {
		t.Error("a schema that does not exist serialized")
	}
	if _, err := Serialize(ctx, c, "%"); err == nil {
		t.Error("schema % serialized")
	}
}

// TestReview20OtherVFS: Serialize works on WithVFS("memdb") and
// WithVFS("unix") databases, and the unix one in WAL mode gives an image
// stock SQLite opens in rollback mode (bytes 18-19 = 1).
func TestReview20OtherVFS(t *testing.T) {
	ctx := context.Background()
	m := openTestDSN(t, ":memory:", WithVFS("memdb"))
	review20Fill(t, m, 50)
	want := review20Digest(t, m)
	img, err := Serialize(ctx, m, "")
	if err != nil {
		t.Fatal(err)
	}
	if got := review20Digest(t, openTestDSN(t, ":memory:", WithImage(img))); got != want {
		t.Errorf("memdb: %s, want %s", got, want)
	}
	u := openTestDSN(t, "file:"+filepath.ToSlash(filepath.Join(t.TempDir(), "u.db")), WithVFS("unix"))
	u.SetMaxOpenConns(1)
	var jm string
	if err := u.QueryRow("PRAGMA journal_mode=WAL").Scan(&jm); err != nil {
		t.Fatal(err)
	}
	review20Fill(t, u, 50)
	want = review20Digest(t, u)
	img, err = Serialize(ctx, u, "")
	if err != nil {
		t.Fatal(err)
	}
	if got := review20Digest(t, openTestDSN(t, ":memory:", WithImage(img))); got != want {
		t.Errorf("unix: %s, want %s", got, want)
	}
	if jm == "wal" && (img[18] != 1 || img[19] != 1) {
		t.Errorf("unix VFS in WAL mode: image bytes 18-19 = %d %d; the docs promise a file stock SQLite opens in rollback mode, with no log", img[18], img[19])
	}
}

// TestReview20NamedReopenAndTwoConnectors: a named in-memory database
// started from an image is gone once its connectors and connections close:
// the same name with the image again starts afresh from it, without it
// empty. Two connectors with the same bytes for one name: the second is
// refused while the first is open.
func TestReview20NamedReopenAndTwoConnectors(t *testing.T) {
	image, want := review20Image(t, 20)
	dsn := "file:review20reopen?mode=memory"
	a, err := Open(dsn, WithImage(image))
	if err != nil {
		t.Fatal(err)
	}
	mustExec(t, a, "DELETE FROM t")
	a.Close()
	b, err := Open(dsn, WithImage(image))
	if err != nil {
		t.Fatal(err)
	}
	if got := review20Digest(t, b); got != want {
		t.Fatalf("reopened with the image: %s, want %s", got, want)
	}
	c, err := Open(dsn, WithImage(image))
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	err = c.Ping()
	t.Logf("second connector, same bytes, same name, while the first is open: %v", err)
	if err == nil {
		t.Fatal("accepted: the docs say a named database open already, not from this image, refuses it")
	}
	// The refused connector does not disturb the open one.
	if got := review20Digest(t, b); got != want {
		t.Fatalf("after the refusal: %s", got)
	}
	b.Close()
	d := openTestDSN(t, dsn)
	var n int
	if err := d.QueryRow("SELECT count(*) FROM sqlite_schema").Scan(&n); err != nil || n != 0 {
		t.Fatalf("reopened without the image: %d schema rows, %v", n, err)
	}
	// The connector that was refused earlier, now that the name is open
	// without an image: still refused, and the registry keeps its image
	// until Close.
	if err := c.Ping(); err == nil {
		t.Fatal("refused connector accepted later")
	}
}

// TestReview20NamedKeptAndLegacyCount: a named in-memory database started
// from an image lives on while its pool closes every connection (the
// connector keeps it); an image whose header page count is 0 (as legacy
// writers leave it) opens by its length.
func TestReview20NamedKeptAndLegacyCount(t *testing.T) {
	image, want := review20Image(t, 40)
	db := openTestDSN(t, "file:review20kept?mode=memory", WithImage(image))
	db.SetMaxIdleConns(0)
	for i := 0; i < 3; i++ {
		if got := review20Digest(t, db); got != want {
			t.Fatalf("round %d: %s, want %s", i, got, want)
		}
	}
	legacy := bytes.Clone(image)
	binary.BigEndian.PutUint32(legacy[28:32], 0)
	mem := openTestDSN(t, ":memory:", WithImage(legacy))
	if got := review20Digest(t, mem); got != want {
		t.Fatalf("header page count 0: %s, want %s", got, want)
	}
	mustExec(t, mem, "INSERT INTO t SELECT id + 1000, name || 'l', randomblob(500) FROM t")
}
