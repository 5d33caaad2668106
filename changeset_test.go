package libsql

import (
	"context"
	"database/sql"
	"encoding/binary"
	"fmt"
	"math/rand/v2"
	"slices"
	"strings"
	"testing"

	"github.com/golibsql/libsql/internal/capi"
)

// csChange is one decoded changeset change, its records rendered as text.
type csChange struct {
	op       byte
	indirect byte
	old, new string
}

// csDecoded is a changeset decoded per table: the header and the changes,
// sorted (the session emits a table's rows in hash order).
type csDecoded map[string]struct {
	header  string
	changes []string
}

// decodeChangeset parses the session extension's changeset format.
func decodeChangeset(t *testing.T, b []byte) csDecoded {
	t.Helper()
	out := csDecoded{}
	varint := func() int {
		v := 0
		for i := 0; ; i++ {
			c := b[0]
			b = b[1:]
			v = v<<7 | int(c&0x7f)
			if c&0x80 == 0 || i == 8 {
				return v
			}
		}
	}
	record := func(n int) string {
		var sb strings.Builder
		for range n {
			typ := b[0]
			b = b[1:]
			switch typ {
			case csUndefined:
				sb.WriteString("_ ")
			case csNull:
				sb.WriteString("null ")
			case csInteger:
				fmt.Fprintf(&sb, "i%d ", int64(binary.BigEndian.Uint64(b)))
				b = b[8:]
			case csFloat:
				fmt.Fprintf(&sb, "f%x ", binary.BigEndian.Uint64(b))
				b = b[8:]
			case csText, csBlob:
				l := varint()
				fmt.Fprintf(&sb, "%c%q ", "tb"[typ-csText], b[:l])
				b = b[l:]
			default:
				t.Fatalf("bad field type %#x", typ)
			}
		}
		return sb.String()
	}
	for len(b) > 0 {
		if b[0] != 'T' {
			t.Fatalf("expected a table header, got %#x", b[0])
		}
		b = b[1:]
		n := varint()
		pk := b[:n]
		b = b[n:]
		end := slices.Index(b, 0)
		name := string(b[:end])
		b = b[end+1:]
		e := out[name]
		e.header = fmt.Sprintf("%d %v", n, pk)
		for len(b) > 0 && b[0] != 'T' {
			ch := csChange{op: b[0], indirect: b[1]}
			b = b[2:]
			if ch.op != csInsert {
				ch.old = record(n)
			}
			if ch.op != csDelete {
				ch.new = record(n)
			}
			e.changes = append(e.changes, fmt.Sprintf("%d/%d old[%s] new[%s]", ch.op, ch.indirect, ch.old, ch.new))
		}
		slices.Sort(e.changes)
		out[name] = e
	}
	return out
}

// rebaseChangeset encodes the running concurrent transaction's captured
// row changes as the changeset the fallback replay applies.
func (c *conn) rebaseChangeset(ctx context.Context) ([]byte, error) {
	groups, err := c.netChanges(ctx)
	if err != nil {
		return nil, err
	}
	return encodeChangeset(groups), nil
}

// TestRebaseChangesetMatchesSession runs random concurrent transactions
// over every kind of table with a session object attached, and checks that
// the changeset built from the captured changes is the one the session
// extension writes: same tables, headers and net changes.
func TestRebaseChangesetMatchesSession(t *testing.T) {
	db := openTestDB(t, "")
	db.SetMaxOpenConns(1)
	setupRandomTables(t, db)
	stmts := randomStatements("ANALYZE", false)
	ctx := context.Background()
	seeds := 200
	if soak() {
		seeds = 5000
	}
	skipped := 0
	defer func() {
		if skipped > seeds/10 {
			t.Errorf("the session could not build %d of %d changesets: too few compared", skipped, seeds)
		}
	}()
	for seed := range seeds {
		r := rand.New(rand.NewPCG(uint64(seed), 7))
		c, err := db.Conn(ctx)
		if err != nil {
			t.Fatal(err)
		}
		fatalf := func(format string, args ...any) {
			t.Helper()
			c.ExecContext(ctx, "ROLLBACK")
			c.Close()
			t.Fatalf(format, args...)
		}
		if _, err := c.ExecContext(ctx, "BEGIN CONCURRENT"); err != nil {
			fatalf("seed %d: BEGIN CONCURRENT: %v", seed, err)
		}
		var s *capi.Session
		if err := c.Raw(func(dc any) error {
			var err error
			s, err = dc.(*conn).cc.CreateSession("main")
			return err
		}); err != nil {
			fatalf("seed %d: create session: %v", seed, err)
		}
		var script []string
		for range 1 + r.IntN(25) {
			q, args := stmts[r.IntN(len(stmts))](r)
			if _, err := c.ExecContext(ctx, q, args...); err != nil && !strings.Contains(err.Error(), "no such savepoint") && !strings.Contains(err.Error(), "constraint failed") {
				fatalf("seed %d: %s %v: %v", seed, q, args, err)
			}
			script = append(script, fmt.Sprint(q, args))
		}
		var ours, theirs []byte
		var oracleErr error
		if err := c.Raw(func(dc any) error {
			var err error
			if ours, err = dc.(*conn).rebaseChangeset(ctx); err != nil {
				return err
			}
			theirs, oracleErr = s.Changeset()
			s.Delete()
			return nil
		}); err != nil {
			fatalf("seed %d: our changeset: %v", seed, err)
		}
		if oracleErr != nil {
			// The session gives up (SQLITE_SCHEMA) when sqlite_stat1 was
			// created after it first recorded a change to it.
			if !strings.Contains(oracleErr.Error(), "schema has changed") {
				fatalf("seed %d: session changeset: %v", seed, oracleErr)
			}
			skipped++
			c.ExecContext(ctx, "ROLLBACK")
			c.Close()
			continue
		}
		got, want := decodeChangeset(t, ours), decodeChangeset(t, theirs)
		for name, w := range want {
			g := got[name]
			if g.header != w.header || !slices.Equal(g.changes, w.changes) {
				t.Errorf("seed %d, table %s:\n got header %s changes\n  %s\nwant header %s changes\n  %s\nscript:\n  %s", seed, name,
					g.header, strings.Join(g.changes, "\n  "), w.header, strings.Join(w.changes, "\n  "), strings.Join(script, "\n  "))
			}
		}
		for name := range got {
			if _, ok := want[name]; !ok {
				t.Errorf("seed %d: table %s in our changeset only: %v", seed, name, got[name].changes)
			}
		}
		if _, err := c.ExecContext(ctx, "ROLLBACK"); err != nil {
			t.Fatal(err)
		}
		c.Close()
		if t.Failed() {
			return
		}
	}
}

// TestRebaseChangesetSkipsUnchangedTables checks that a table whose rows
// all end as they began contributes nothing, header included, as with the
// session.
func TestRebaseChangesetSkipsUnchangedTables(t *testing.T) {
	db := openTestDB(t, "")
	db.SetMaxOpenConns(1)
	mustExec(t, db, "CREATE TABLE a(id INTEGER PRIMARY KEY, v); INSERT INTO a VALUES (1, 'x')")
	ctx := context.Background()
	c, err := db.Conn(ctx)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	for _, q := range []string{"BEGIN CONCURRENT", "INSERT INTO a VALUES (2, 'y')", "DELETE FROM a WHERE id = 2", "UPDATE a SET v = 'z'", "UPDATE a SET v = 'x'"} {
		if _, err := c.ExecContext(ctx, q); err != nil {
			t.Fatal(err)
		}
	}
	if err := c.Raw(func(dc any) error {
		cs, err := dc.(*conn).rebaseChangeset(ctx)
		if err == nil && len(cs) != 0 {
			err = fmt.Errorf("changeset of %d bytes: %q", len(cs), cs)
		}
		return err
	}); err != nil {
		t.Fatal(err)
	}
	if _, err := c.ExecContext(ctx, "ROLLBACK"); err != nil {
		t.Fatal(err)
	}
}

// setupRandomTables creates and fills the tables randomStatements changes:
// every kind of table (INTEGER PRIMARY KEY, no primary key, declared
// primary keys, WITHOUT ROWID, generated columns) and a trigger.
func setupRandomTables(t *testing.T, db *sql.DB) {
	t.Helper()
	mustExec(t, db, `
		CREATE TABLE ipk(id INTEGER PRIMARY KEY, a, r REAL);
		CREATE TABLE norow(a, b);
		CREATE TABLE textpk(k TEXT PRIMARY KEY, v);
		CREATE TABLE comp(a, b, c, PRIMARY KEY(b, a));
		CREATE TABLE wr(k INTEGER, j TEXT, v, PRIMARY KEY(j, k)) WITHOUT ROWID;
		CREATE TABLE gen(id INTEGER PRIMARY KEY, a, g AS (a * 2) VIRTUAL, s AS (a + 1) STORED, z);
		CREATE TABLE tlog(id INTEGER PRIMARY KEY, what);
		CREATE INDEX norow_a ON norow(a);
		CREATE TRIGGER ipk_ins AFTER INSERT ON ipk WHEN new.a = 3 BEGIN INSERT INTO tlog(what) VALUES ('three ' || new.id); END;
	`)
	var b strings.Builder
	b.WriteString("BEGIN;")
	for i := range 20 {
		fmt.Fprintf(&b, "INSERT INTO ipk(id, a, r) VALUES (%d, %d, %g);", i, i%5, float64(i)/2)
		fmt.Fprintf(&b, "INSERT INTO norow(a, b) VALUES (%d, 'b%d');", i%5, i)
		fmt.Fprintf(&b, "INSERT OR IGNORE INTO textpk(k, v) VALUES ('k%d', %d);", i%10, i)
		fmt.Fprintf(&b, "INSERT OR IGNORE INTO comp(a, b, c) VALUES (%d, %d, %d);", i%4, i%3, i)
		fmt.Fprintf(&b, "INSERT OR IGNORE INTO wr(k, j, v) VALUES (%d, 'j%d', x'%02x');", i%4, i%3, i)
		fmt.Fprintf(&b, "INSERT INTO gen(id, a, z) VALUES (%d, %d, NULL);", i, i)
	}
	b.WriteString("COMMIT")
	mustExec(t, db, b.String())
}

// randomStatements returns generators of random statements over the
// tables of setupRandomTables, analyze among them, with inserts of NULL
// declared keys if nullKeys (which a session ignores).
func randomStatements(analyze string, nullKeys bool) []func(r *rand.Rand) (string, []any) {
	stmts := []func(r *rand.Rand) (string, []any){
		func(r *rand.Rand) (string, []any) {
			return "INSERT OR REPLACE INTO ipk(id, a, r) VALUES (?, ?, ?)", []any{r.IntN(30), r.IntN(5), float64(r.IntN(8))}
		},
		func(r *rand.Rand) (string, []any) {
			return "UPDATE ipk SET a = ?, r = r + 0.5 WHERE id = ?", []any{r.IntN(5), r.IntN(30)}
		},
		func(r *rand.Rand) (string, []any) {
			return "UPDATE ipk SET id = id + 100 WHERE id = ?", []any{r.IntN(30)}
		},
		func(r *rand.Rand) (string, []any) { return "DELETE FROM ipk WHERE id = ?", []any{r.IntN(30)} },
		func(r *rand.Rand) (string, []any) { return "UPDATE ipk SET a = a WHERE id = ?", []any{r.IntN(30)} },
		func(r *rand.Rand) (string, []any) {
			return "INSERT INTO norow(a, b) VALUES (?, ?)", []any{r.IntN(5), fmt.Sprint("n", r.IntN(9))}
		},
		func(r *rand.Rand) (string, []any) {
			return "UPDATE norow SET b = ? WHERE a = ?", []any{fmt.Sprint("u", r.IntN(9)), r.IntN(5)}
		},
		func(r *rand.Rand) (string, []any) {
			return "UPDATE norow SET rowid = rowid + 1000 WHERE rowid = ?", []any{r.IntN(25)}
		},
		func(r *rand.Rand) (string, []any) { return "DELETE FROM norow WHERE rowid = ?", []any{r.IntN(25)} },
		func(r *rand.Rand) (string, []any) {
			return "INSERT OR REPLACE INTO textpk(k, v) VALUES (?, ?)", []any{fmt.Sprint("k", r.IntN(14)), r.IntN(100)}
		},
		func(r *rand.Rand) (string, []any) {
			return "UPDATE textpk SET k = k || 'x' WHERE k = ?", []any{fmt.Sprint("k", r.IntN(14))}
		},
		func(r *rand.Rand) (string, []any) {
			return "DELETE FROM textpk WHERE k = ?", []any{fmt.Sprint("k", r.IntN(14))}
		},
		func(r *rand.Rand) (string, []any) {
			return "INSERT OR REPLACE INTO comp(a, b, c) VALUES (?, ?, ?)", []any{r.IntN(5), r.IntN(4), r.IntN(100)}
		},
		func(r *rand.Rand) (string, []any) {
			return "UPDATE comp SET c = ?, a = a + ? WHERE b = ?", []any{r.IntN(100), r.IntN(2), r.IntN(4)}
		},
		func(r *rand.Rand) (string, []any) {
			return "INSERT OR REPLACE INTO wr(k, j, v) VALUES (?, ?, ?)", []any{r.IntN(5), fmt.Sprint("j", r.IntN(4)), r.Float64()}
		},
		func(r *rand.Rand) (string, []any) {
			return "UPDATE wr SET v = NULL, k = k + ? WHERE j = ?", []any{r.IntN(2), fmt.Sprint("j", r.IntN(4))}
		},
		func(r *rand.Rand) (string, []any) {
			return "DELETE FROM wr WHERE k = ?", []any{r.IntN(5)}
		},
		func(r *rand.Rand) (string, []any) {
			return "UPDATE gen SET a = ?, z = ? WHERE id = ?", []any{r.IntN(50), "z", r.IntN(25)}
		},
		func(r *rand.Rand) (string, []any) {
			return "INSERT OR REPLACE INTO gen(id, a) VALUES (?, ?)", []any{r.IntN(25), r.IntN(50)}
		},
		func(r *rand.Rand) (string, []any) { return analyze, nil },
		func(r *rand.Rand) (string, []any) { return "SAVEPOINT s", nil },
		func(r *rand.Rand) (string, []any) { return "ROLLBACK TO s", nil },
	}
	if nullKeys {
		stmts = append(stmts, func(r *rand.Rand) (string, []any) {
			return "INSERT INTO textpk(k, v) VALUES (NULL, ?)", []any{r.IntN(100)}
		}, func(r *rand.Rand) (string, []any) {
			return "UPDATE textpk SET v = v + 1 WHERE k IS NULL AND v % 2 = ?", []any{r.IntN(2)}
		})
	}
	return stmts
}
