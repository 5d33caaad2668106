package capi

import (
	"context"
	"errors"
	"path/filepath"
	"testing"
	"time"
)

func openMem(t *testing.T, name string) *Conn {
	t.Helper()
	c, err := Open("/"+name, OPEN_READWRITE|OPEN_CREATE|OPEN_NOMUTEX, "memdb")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Close() })
	return c
}

func openFile(t *testing.T, path string) *Conn {
	t.Helper()
	c, err := Open(path, OPEN_READWRITE|OPEN_CREATE|OPEN_NOMUTEX, "")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Close() })
	return c
}

func TestPrepareBindStepColumns(t *testing.T) {
	c := openMem(t, t.Name())
	if err := c.Exec("CREATE TABLE t(i, f, s, b, n); "); err != nil {
		t.Fatal(err)
	}
	s, tail, err := c.Prepare("INSERT INTO t VALUES (?, ?, ?, ?, ?) ; SELECT 1", PREPARE_PERSISTENT)
	if err != nil {
		t.Fatal(err)
	}
	if tail != " SELECT 1" {
		t.Errorf("tail %q", tail)
	}
	if s.ParamCount() != 5 {
		t.Errorf("params %d", s.ParamCount())
	}
	for round := range 2 {
		if err := s.ReserveBindBytes(8); err != nil {
			t.Fatal(err)
		}
		// The text and the blob take 3+4 bytes of an 8-byte reservation;
		// in round 1 the blob does not fit and goes SQLITE_TRANSIENT.
		text := "abc"
		if round == 1 {
			text = "abcde"
		}
		check(t, s.BindInt64(1, int64(round)), s.BindFloat(2, 2.5), s.BindText(3, text),
			s.BindBlob(4, []byte{1, 2, 3, 4}), s.BindNull(5))
		if row, err := s.Step(); row || err != nil {
			t.Fatal(row, err)
		}
		check(t, s.Reset())
	}
	check(t, s.Finalize(), s.Finalize())

	q, _, err := c.Prepare("SELECT i, f, s, b, n FROM t ORDER BY i", 0)
	if err != nil {
		t.Fatal(err)
	}
	defer q.Finalize()
	if names := q.ColumnNames(); len(names) != 5 || names[2] != "s" {
		t.Errorf("names %v", names)
	}
	for round, text := range []string{"abc", "abcde"} {
		if row, err := q.Step(); !row || err != nil {
			t.Fatal(row, err)
		}
		if q.ColumnType(0) != INTEGER || q.ColumnInt64(0) != int64(round) || q.ColumnType(1) != FLOAT ||
			q.ColumnFloat(1) != 2.5 || q.ColumnText(2) != text || string(q.ColumnBlob(3)) != "\x01\x02\x03\x04" ||
			q.ColumnType(4) != NULL {
			t.Errorf("row %d wrong", round)
		}
	}
}

func check(t *testing.T, errs ...error) {
	t.Helper()
	for _, err := range errs {
		if err != nil {
			t.Fatal(err)
		}
	}
}

func TestEmptyTextAndBlobAreNotNull(t *testing.T) {
	c := openMem(t, t.Name())
	s, _, err := c.Prepare("SELECT typeof(?), typeof(?), length(?)", 0)
	if err != nil {
		t.Fatal(err)
	}
	defer s.Finalize()
	check(t, s.ReserveBindBytes(0), s.BindText(1, ""), s.BindBlob(2, nil), s.BindTextBytes(3, []byte{}))
	if row, err := s.Step(); !row || err != nil {
		t.Fatal(row, err)
	}
	if s.ColumnText(0) != "text" || s.ColumnText(1) != "blob" || s.ColumnInt64(2) != 0 {
		t.Errorf("got %s %s %d", s.ColumnText(0), s.ColumnText(1), s.ColumnInt64(2))
	}
}

func TestErrorsCarryExtendedCodeAndMessage(t *testing.T) {
	c := openMem(t, t.Name())
	check(t, c.Exec("CREATE TABLE t(x UNIQUE); INSERT INTO t VALUES (1)"))
	err := c.Exec("INSERT INTO t VALUES (1)")
	var e *Error
	if !errors.As(err, &e) || e.Code != CONSTRAINT_UNIQUE || e.Msg != "UNIQUE constraint failed: t.x" {
		t.Fatalf("err %#v", err)
	}
	if e.Error() != "UNIQUE constraint failed: t.x (SQLITE_CONSTRAINT_UNIQUE)" {
		t.Errorf("Error() = %q", e.Error())
	}
	_, _, err = c.Prepare("SELEKT 1", 0)
	if !errors.As(err, &e) || e.Code != ERROR {
		t.Errorf("syntax error: %v", err)
	}
	if CodeName(BUSY_SNAPSHOT) != "SQLITE_BUSY_SNAPSHOT" || CodeName(5|99<<8) != "SQLITE_BUSY_99" || CodeName(200) != "SQLITE_200" {
		t.Error("CodeName")
	}
	if ErrStr(BUSY) != "database is locked" {
		t.Errorf("ErrStr %q", ErrStr(BUSY))
	}
}

func TestOpenFailureIsAnError(t *testing.T) {
	_, err := Open(filepath.Join(t.TempDir(), "no", "such", "dir.db"), OPEN_READWRITE|OPEN_CREATE, "")
	var e *Error
	if !errors.As(err, &e) || e.Code&0xff != CANTOPEN {
		t.Errorf("err %v", err)
	}
	if _, err := Open("x.db", OPEN_READWRITE, "no-such-vfs"); err == nil {
		t.Error("unknown VFS accepted")
	}
}

func TestScriptPreparesEachStatementAfterTheLastRan(t *testing.T) {
	c := openMem(t, t.Name())
	sc, err := c.NewScript("CREATE TABLE t(x); -- c\n INSERT INTO t VALUES (1); ;; SELECT x FROM t")
	if err != nil {
		t.Fatal(err)
	}
	defer sc.Close()
	n := 0
	for {
		s, err := sc.Next(0)
		if err != nil {
			t.Fatal(err)
		}
		if s == nil {
			break
		}
		n++
		for {
			row, err := s.Step()
			check(t, err)
			if !row {
				break
			}
		}
		s.Finalize()
	}
	if n != 3 {
		t.Errorf("%d statements", n)
	}
}

// lockFile makes holder hold the write lock of its database file.
func lockFile(t *testing.T, holder *Conn) {
	t.Helper()
	check(t, holder.Exec("BEGIN EXCLUSIVE"))
	t.Cleanup(func() { holder.Exec("ROLLBACK") })
}

func TestBusyHandlerWaitsUntilTimeout(t *testing.T) {
	path := filepath.Join(t.TempDir(), "busy.db")
	a, b := openFile(t, path), openFile(t, path)
	check(t, a.Exec("CREATE TABLE t(x)"))
	lockFile(t, a)
	b.SetBusyTimeout(150 * time.Millisecond)
	start := time.Now()
	err := b.Exec("INSERT INTO t VALUES (1)")
	var e *Error
	if !errors.As(err, &e) || e.Code&0xff != BUSY {
		t.Fatalf("err %v", err)
	}
	if d := time.Since(start); d < 140*time.Millisecond || d > 2*time.Second {
		t.Errorf("waited %v for a 150ms timeout", d)
	}
}

func TestBusyHandlerGivesUpWhenTheCallContextEnds(t *testing.T) {
	path := filepath.Join(t.TempDir(), "busy.db")
	a, b := openFile(t, path), openFile(t, path)
	check(t, a.Exec("CREATE TABLE t(x)"))
	lockFile(t, a)
	b.SetBusyTimeout(time.Minute)
	ctx, cancel := context.WithTimeout(context.Background(), 100*time.Millisecond)
	defer cancel()
	prev := b.Enter(ctx)
	if b.Context() != ctx {
		t.Error("Context is not the call's")
	}
	start := time.Now()
	err := b.Exec("INSERT INTO t VALUES (1)")
	b.Leave(prev)
	if err == nil || time.Since(start) > 2*time.Second {
		t.Errorf("err %v after %v", err, time.Since(start))
	}
	if b.Context() != context.Background() {
		t.Error("Leave did not restore the context")
	}
}

func TestWakeBusyRetriesAtOnce(t *testing.T) {
	var b busyState
	b.timeout = time.Minute
	b.wake = make(chan struct{}, 1)
	for count := range 20 { // run the backoff up to its longest delay
		if count < 19 {
			b.retryNow = true
		}
		if !b.wait(context.Background(), count) {
			t.Fatal("gave up")
		}
	}
	done := make(chan bool)
	start := time.Now()
	go func() { done <- b.wait(context.Background(), 25) }()
	time.Sleep(time.Millisecond)
	c := &Conn{busy: b}
	c.busy.wake = b.wake
	c.WakeBusy()
	c.WakeBusy() // a second wake while one is pending is dropped, not blocking
	if !<-done {
		t.Error("woken wait gave up")
	}
	if d := time.Since(start); d > busyMaxDelay+50*time.Millisecond {
		t.Errorf("woken wait took %v", d)
	}
}

func TestRetryBusyNowSkipsTheWait(t *testing.T) {
	c := &Conn{}
	c.busy.timeout = time.Hour
	c.RetryBusyNow()
	start := time.Now()
	if !c.busy.wait(context.Background(), 0) || time.Since(start) > 5*time.Millisecond {
		t.Error("RetryBusyNow did not retry at once")
	}
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	if c.busy.wait(ctx, 1) {
		t.Error("a wait under a done context retried")
	}
}

func TestWatchInterruptsAndStops(t *testing.T) {
	c := openMem(t, t.Name())
	if w := c.Watch(context.Background()); w != nil {
		t.Error("a context that cannot end got a watch")
	}
	ctx, cancel := context.WithCancel(context.Background())
	w := c.Watch(ctx)
	s, _, err := c.Prepare("WITH RECURSIVE c(x) AS (SELECT 1 UNION ALL SELECT x+1 FROM c) SELECT count(*) FROM c", 0)
	if err != nil {
		t.Fatal(err)
	}
	defer s.Finalize()
	// Cancel before the step starts: SQLite would drop a bare interrupt,
	// the progress handler still stops the statement.
	cancel()
	time.Sleep(10 * time.Millisecond)
	_, err = s.Step()
	var e *Error
	if !errors.As(err, &e) || e.Code != INTERRUPT {
		t.Fatalf("err %v", err)
	}
	if !w.Stop() {
		t.Error("Stop did not report the firing")
	}
	s.Reset()
	// Stopped and cleared: the next statement runs.
	check(t, c.Exec("SELECT 1"))

	ctx2, cancel2 := context.WithCancel(context.Background())
	w2 := c.Watch(ctx2)
	if w2.Stop() {
		t.Error("an unfired watch reported firing")
	}
	cancel2()
	time.Sleep(5 * time.Millisecond)
	check(t, c.Exec("SELECT 1"))
	var nilWatch *Watch
	if nilWatch.Stop() {
		t.Error("nil watch")
	}
}

func TestDBConfigAndFileControl(t *testing.T) {
	c := openFile(t, filepath.Join(t.TempDir(), "cfg.db"))
	on, err := c.DBConfigBool(DBCONFIG_ENABLE_TRIGGER, 0)
	if err != nil || on {
		t.Fatalf("ENABLE_TRIGGER off: %v %v", on, err)
	}
	if on, _ := c.DBConfigBool(DBCONFIG_ENABLE_TRIGGER, -1); on {
		t.Error("read back on")
	}
	if on, _ := c.DBConfigBool(DBCONFIG_ENABLE_TRIGGER, 1); !on {
		t.Error("could not turn triggers back on")
	}
	check(t, c.Exec("CREATE TABLE t(x); INSERT INTO t VALUES (1)"))
	p := c.Alloc(8)
	WriteInt32(p, -1)
	rc := c.FileControl("", FCNTL_DATA_VERSION, p)
	v := ReadInt32(p)
	c.Free(8)
	if rc != OK || v < 0 {
		t.Errorf("FCNTL_DATA_VERSION rc %d value %d", rc, v)
	}
	if rc := c.FileControl("main", 0x7fff0000, 0); rc != NOTFOUND {
		t.Errorf("unknown opcode rc %d", rc)
	}
	if rc := c.FileControl("nosuchschema", FCNTL_DATA_VERSION, 0); rc == OK {
		t.Error("unknown schema accepted")
	}
}

func TestConnStateQueries(t *testing.T) {
	path := filepath.Join(t.TempDir(), "state.db")
	c := openFile(t, path)
	check(t, c.Exec("CREATE TABLE t(x)"))
	if !c.GetAutocommit() || c.TxnState("") != TXN_NONE {
		t.Error("state before BEGIN")
	}
	check(t, c.Exec("BEGIN; INSERT INTO t VALUES (1)"))
	if c.GetAutocommit() || c.TxnState("main") != TXN_WRITE || c.Changes() != 1 || c.LastInsertRowID() != 1 {
		t.Error("state in a write transaction")
	}
	check(t, c.Exec("COMMIT"))
	if c.TotalChanges() != 1 || c.TxnState("nope") != -1 || c.DBReadOnly("") != 0 {
		t.Error("state after COMMIT")
	}
	if got := c.Filename(""); filepath.Base(got) != "state.db" {
		t.Errorf("Filename %q", got)
	}
	md, err := c.TableColumnMetadata("main", "t", "x")
	if err != nil || md.NotNull || md.PrimaryKey {
		t.Errorf("metadata %+v %v", md, err)
	}
	if _, err := c.TableColumnMetadata("", "t", "nope"); err == nil {
		t.Error("metadata of a missing column")
	}
	check(t, c.Close(), c.Close())
	if !c.Closed() {
		t.Error("not closed")
	}
	c.Interrupt() // harmless after Close
}

func TestHandlesMapToValues(t *testing.T) {
	v := &struct{ n int }{7}
	h := NewHandle(v)
	if h == 0 || h.Value() != v {
		t.Fatal("handle lookup")
	}
	h.Delete()
	if h.Value() != nil {
		t.Error("deleted handle still resolves")
	}
	if funcPtr(busyCallback) != busyFP || funcPtr(progressCallback) == 0 {
		t.Error("funcPtr not stable")
	}
}

func TestCloseFinalizesOpenStatements(t *testing.T) {
	c, err := Open("/"+t.Name(), OPEN_READWRITE|OPEN_CREATE, "memdb")
	if err != nil {
		t.Fatal(err)
	}
	s, _, err := c.Prepare("SELECT 1", 0)
	if err != nil {
		t.Fatal(err)
	}
	if row, err := s.Step(); !row || err != nil {
		t.Fatal(row, err)
	}
	check(t, s.ReserveBindBytes(1000))
	check(t, c.Close())
	if !s.Finalized() {
		t.Error("statement left open by Close")
	}
	var e *Error
	if _, err := s.Step(); !errors.As(err, &e) || e.Code != MISUSE {
		t.Errorf("Step after Close: %v", err)
	}
	check(t, s.Finalize())
}

// WritesMain tells the statements whose program writes the main database
// from those SQLite marks not read-only that write only elsewhere or
// nothing.
func TestWritesMain(t *testing.T) {
	c := openFile(t, filepath.Join(t.TempDir(), "w.db"))
	if err := c.Exec("CREATE TABLE t(x); CREATE TEMP TABLE tt(x)"); err != nil {
		t.Fatal(err)
	}
	for sql, want := range map[string][2]bool{ // WritesMain, WritesMainInTransaction
		"INSERT INTO t VALUES (1)":             {true, true},
		"UPDATE t SET x = 1 WHERE 0":           {true, true},
		"CREATE TABLE u(x)":                    {true, true},
		"CREATE INDEX IF NOT EXISTS i ON t(x)": {true, true},
		"PRAGMA user_version = 3":              {true, true},
		"VACUUM":                               {true, false},
		"SELECT * FROM t":                      {false, false},
		"INSERT INTO tt VALUES (1)":            {false, false},
		"DROP TABLE IF EXISTS nosuch":          {false, false},
		"CREATE TABLE IF NOT EXISTS t(x)":      {false, false},
		"BEGIN":                                {false, false},
		"BEGIN IMMEDIATE":                      {true, false},
		"BEGIN EXCLUSIVE":                      {true, false},
	} {
		s, _, err := c.Prepare(sql, 0)
		if err != nil {
			t.Fatalf("%s: %v", sql, err)
		}
		if got := [2]bool{s.WritesMain(), s.WritesMainInTransaction()}; got != want {
			t.Errorf("%s: WritesMain(), WritesMainInTransaction() = %v (read-only: %v), want %v", sql, got, s.ReadOnly(), want)
		}
		s.Finalize()
	}
}

// SchemaGeneration changes with a schema change of main or temp, made or
// rolled back by the connection, and with a reload after another
// connection's change, and never comes back to a value it had: a
// statement compiled under one is never taken for current after a change
// (the cookie alone would: a rolled-back change and another connection's
// can leave the same cookie).
func TestSchemaGeneration(t *testing.T) {
	path := filepath.Join(t.TempDir(), "g.db")
	c, other := openFile(t, path), openFile(t, path)
	exec := func(c *Conn, sql string) {
		t.Helper()
		if err := c.Exec(sql); err != nil {
			t.Fatalf("%s: %v", sql, err)
		}
	}
	exec(c, "CREATE TABLE t(x)")
	g0 := c.SchemaGeneration()
	exec(c, "SELECT * FROM t")
	if g := c.SchemaGeneration(); g != g0 {
		t.Fatalf("a query changed the generation: %v -> %v", g0, g)
	}
	seen := map[SchemaGen]string{g0: "start"}
	step := func(what string) {
		t.Helper()
		g := c.SchemaGeneration()
		if prev, ok := seen[g]; ok {
			t.Fatalf("after %s the generation %v is the one after %s", what, g, prev)
		}
		seen[g] = what
	}
	exec(c, "CREATE INDEX i ON t(x)")
	step("CREATE INDEX")
	exec(c, "CREATE TEMP TABLE tt(y)")
	step("CREATE TEMP TABLE")
	exec(c, "BEGIN; CREATE TABLE u(z)")
	step("CREATE TABLE in a transaction")
	exec(c, "ROLLBACK; SELECT * FROM t")
	step("its ROLLBACK")
	exec(other, "CREATE TABLE v(w)")
	exec(c, "SELECT * FROM t")
	step("a reload after another connection's CREATE TABLE")
}
