package main

import (
	"bufio"
	"context"
	"database/sql"
	"errors"
	"fmt"
	"io"
	"os"
	"os/signal"
	"sort"
	"strings"
	"sync"
	"time"

	"github.com/golibsql/libsql"
	"github.com/golibsql/libsql/internal/capi"
)

var shellCommand = &command{
	name:    "shell",
	args:    "DB [flags]",
	summary: "a line-oriented SQL shell",
	doc: `
Opens DB (creating the file if it does not exist) and runs the SQL it reads
from standard input. A statement ends with ';' and may span lines; several
may share a line. Lines starting with '.' (outside a statement) are
dot-commands:

  .tables [PATTERN]        list tables and views (LIKE PATTERN), those of
                           temp and attached databases as SCHEMA.NAME
  .schema [TABLE]          show CREATE statements (of TABLE, or
                           SCHEMA.TABLE, and its indexes and triggers)
  .mode [table|csv|json]   set (or show) the output mode:
                             table  aligned columns in a box, with a header
                             csv    RFC 4180, with a header line
                             json   one JSON array of objects per query
  .timer on|off            print the time each statement takes
  .help                    list the dot-commands
  .quit, .exit             leave (so does end of input)

An argument of a dot-command may be quoted, as in .schema "my table":
'...' is taken as it is, "..." with backslash escapes (\" \\ \n \t \r).

Values are shown by SQLite storage class: integers, reals, text, blobs as
x'hex' (in json mode {"base64":"..."}), NULL. The text of a DATE, DATETIME
or TIMESTAMP column is shown as stored by a read-only query; a statement
that writes (INSERT ... RETURNING) or names sqlite_sequence shows it as the
driver reads it, a time in RFC 3339.

When standard input is a terminal the shell prompts, and Ctrl-C interrupts
the running statement. Otherwise it reads a script without prompting and
exits with status 1 if a statement or dot-command failed (it goes on after
a failure either way). A failure to write standard output (a full disk) is
reported once and makes the exit status 1 in either case. Statements run
on one connection, so BEGIN ... COMMIT spans statements. No history file
is written.

The durable CDC log's tables (libsql_cdc, libsql_cdc_state) are left out
of .tables and of .schema without an argument.
`,
	run: runShell,
}

func runShell(c *command, e *env, args []string) int {
	fs := c.flags()
	modeName := fs.String("mode", "table", "initial output `MODE`: table, csv or json")
	pos, code, ok := c.parse(e, fs, args, 1, 1)
	if !ok {
		return code
	}
	mode, ok := parseMode(*modeName)
	if !ok {
		return c.usageError(e, "--mode %q: want table, csv or json", *modeName)
	}
	t, err := parseTarget(pos[0])
	if err != nil {
		return c.usageError(e, "%v", err)
	}
	ctx := e.ctx
	db, err := t.open(ctx)
	if err != nil {
		return c.failOpen(e, err)
	}
	if has, _ := hasTable(ctx, db, cdcTable); has && !t.hasKey("cdc") {
		// A database whose changes are stored takes writes only from
		// connections that store theirs.
		db.Close()
		if db, err = t.open(ctx, libsql.WithCDC(true)); err != nil {
			return c.failOpen(e, err)
		}
	}
	defer db.Close()
	conn, err := db.Conn(ctx)
	if err != nil {
		return c.fail(e, t.explain(err))
	}
	defer conn.Close()

	out := bufio.NewWriter(e.stdout)
	sh := &shell{
		ctx:         ctx,
		conn:        conn,
		out:         out,
		errw:        e.stderr,
		mode:        mode,
		interactive: isTerminal(e.stdin),
	}
	if sh.interactive {
		stop := sh.catchInterrupts()
		defer stop()
		fmt.Fprintf(out, "libsql shell on %s; .help for help, .quit or Ctrl-D to leave\n", t.name)
	}
	sh.loop(e.stdin)
	sh.flush()
	if (sh.failed && !sh.interactive) || sh.outFailed {
		return exitFailure
	}
	return exitOK
}

// shell is the state of a shell session.
type shell struct {
	ctx         context.Context
	conn        *sql.Conn
	out         *bufio.Writer
	errw        io.Writer
	mode        outputMode
	timer       bool
	interactive bool
	failed      bool // a statement or dot-command failed
	outFailed   bool // writing standard output failed (reported once)

	mu     sync.Mutex
	cancel context.CancelFunc // of the running statement, for Ctrl-C
}

// flush writes out what the shell printed. The first error writing
// standard output is reported; out keeps it, so nothing more is written
// (the statements still run), and the exit status will be 1.
func (sh *shell) flush() {
	if err := sh.out.Flush(); err != nil && !sh.outFailed {
		sh.outFailed = true
		fmt.Fprintf(sh.errw, "libsql shell: write standard output: %v\n", err)
	}
}

// catchInterrupts makes SIGINT interrupt the running statement instead of
// ending the process; it returns the function that restores the default.
func (sh *shell) catchInterrupts() func() {
	sigs := make(chan os.Signal, 1)
	signal.Notify(sigs, os.Interrupt)
	done := make(chan struct{})
	go func() {
		defer close(done)
		for range sigs {
			sh.mu.Lock()
			if sh.cancel != nil {
				sh.cancel()
			}
			sh.mu.Unlock()
		}
	}()
	return func() {
		signal.Stop(sigs)
		close(sigs)
		<-done
	}
}

// loop reads and runs input until its end or .quit.
func (sh *shell) loop(in io.Reader) {
	r := bufio.NewReader(in)
	var pending strings.Builder // an incomplete statement
	pendingLine := 0            // the line it starts on
	lineNo := 0
	for {
		if sh.interactive {
			if pending.Len() == 0 {
				sh.out.WriteString("libsql> ")
			} else {
				sh.out.WriteString("   ...> ")
			}
		}
		sh.flush()
		line, err := r.ReadString('\n')
		if line == "" && err != nil {
			if err != io.EOF {
				sh.report(lineNo, err)
			}
			break
		}
		lineNo++
		if lineNo == 1 {
			// A byte order mark, as Windows editors write, is not text.
			line = strings.TrimPrefix(line, "\ufeff")
		}
		if pending.Len() == 0 {
			if trimmed := strings.TrimSpace(line); strings.HasPrefix(trimmed, ".") {
				if quit := sh.dotCommand(lineNo, trimmed); quit {
					return
				}
				continue
			}
			pendingLine = lineNo
		}
		pending.WriteString(line)
		text := pending.String()
		stmts, rest := splitSQL(text)
		for _, st := range stmts {
			sh.run(pendingLine+strings.Count(text[:st.offset], "\n"), st.text)
		}
		if len(stmts) > 0 {
			pendingLine += strings.Count(text[:len(text)-len(rest)], "\n")
		}
		pending.Reset()
		if !blankSQL(rest) {
			pending.WriteString(rest)
		}
		if err != nil {
			break
		}
	}
	if pending.Len() > 0 {
		// Input ended inside a statement: run it as it is, as SQLite
		// accepts a last statement without ';' (an unfinished string
		// literal fails with SQLite's error).
		sh.run(pendingLine, strings.TrimSpace(pending.String()))
	}
	if sh.interactive {
		sh.out.WriteString("\n")
	}
}

// report prints an error of the statement or command at line.
func (sh *shell) report(line int, err error) {
	sh.failed = true
	sh.flush()
	msg := strings.TrimPrefix(err.Error(), "libsql: ")
	if sh.interactive {
		fmt.Fprintf(sh.errw, "Error: %s\n", msg)
	} else {
		fmt.Fprintf(sh.errw, "Error: near line %d: %s\n", line, msg)
	}
}

// run runs one statement and prints its result.
func (sh *shell) run(line int, stmt string) {
	ctx, cancel := context.WithCancel(sh.ctx)
	sh.mu.Lock()
	sh.cancel = cancel
	sh.mu.Unlock()
	defer func() {
		sh.mu.Lock()
		sh.cancel = nil
		sh.mu.Unlock()
		cancel()
	}()
	start := time.Now()
	err := sh.query(ctx, stmt)
	if sh.timer {
		fmt.Fprintf(sh.out, "Run Time: real %.3fs\n", time.Since(start).Seconds())
	}
	if errors.Is(err, context.Canceled) && sh.ctx.Err() == nil {
		err = errors.New("interrupted")
	}
	if err != nil {
		sh.report(line, err)
	}
	sh.flush()
}

// query runs stmt on the shell's connection and prints the rows it
// returns, if it returns columns. The driver runs it, unless it is a query
// whose result the driver would not show as stored (queryStored).
func (sh *shell) query(ctx context.Context, stmt string) error {
	if done, err := sh.queryStored(ctx, stmt); done {
		return err
	}
	rows, err := sh.conn.QueryContext(ctx, stmt)
	if err != nil {
		return err
	}
	defer rows.Close()
	cols, err := rows.Columns()
	if err != nil {
		return err
	}
	if len(cols) == 0 {
		for rows.Next() {
		}
		return rows.Err()
	}
	ptrs := make([]any, len(cols))
	return sh.printRows(cols, func(vals []any) (bool, error) {
		if !rows.Next() {
			return false, rows.Err()
		}
		for i := range vals {
			ptrs[i] = &vals[i]
		}
		return true, rows.Scan(ptrs...)
	})
}

// printRows prints a result with the columns cols in the shell's mode;
// next reads the next row into vals, and reports false at the end.
func (sh *shell) printRows(cols []string, next func(vals []any) (bool, error)) error {
	r := newRenderer(sh.mode, sh.out, cols)
	vals := make([]any, len(cols))
	for {
		ok, err := next(vals)
		if err != nil {
			r.end()
			return err
		}
		if !ok {
			return r.end()
		}
		if err := r.row(vals); err != nil {
			return err
		}
	}
}

// rawConn is the driver connection's access to the C level (libsql's
// conn.Raw), reached through sql.Conn.Raw.
type rawConn interface{ Raw() *capi.Conn }

// queryStored runs stmt itself, at the C level, if it is a query the
// driver would not show as stored: one with a result column declared DATE,
// DATETIME or TIMESTAMP, whose text the driver reads as a time.Time (which
// the shell could only print reformatted). It reports false, having run
// nothing, for every other statement: the driver runs those, as it must
// for anything that writes (change capture), begins or ends a transaction
// (BEGIN CONCURRENT) or checkpoints. A query that writes and returns such
// a column (INSERT ... RETURNING) is thus the one case shown as the
// driver reads it.
func (sh *shell) queryStored(ctx context.Context, stmt string) (done bool, err error) {
	rerr := sh.conn.Raw(func(dc any) error {
		if rc, ok := dc.(rawConn); ok {
			done, err = sh.runStored(ctx, rc.Raw(), stmt)
		}
		return nil
	})
	if rerr != nil {
		return true, rerr // the connection is gone
	}
	return done, err
}

// runStored is queryStored on the connection's C handle.
func (sh *shell) runStored(ctx context.Context, cc *capi.Conn, stmt string) (bool, error) {
	if ctx.Err() != nil {
		return false, nil // the driver reports it
	}
	// Only a SELECT (or WITH ... SELECT) can be such a query: spare the
	// others, INSERTs of a long script, a second prepare.
	n := 0
	for n < len(stmt) && isIDChar(stmt[n]) {
		n++
	}
	if word := stmt[:n]; word != "" && !strings.EqualFold(word, "SELECT") && !strings.EqualFold(word, "WITH") {
		return false, nil
	}
	prev := cc.Enter(ctx)
	defer cc.Leave(prev)
	w := cc.Watch(ctx) // interrupts the statement on Ctrl-C
	defer w.Stop()
	s, tail, err := cc.Prepare(stmt, 0)
	if err != nil || s == nil {
		return false, nil // the driver reports the error, or runs nothing
	}
	defer s.Finalize()
	if !blankSQL(tail) || !readsTimeColumn(s) {
		return false, nil
	}
	cols := append([]string(nil), s.ColumnNames()...)
	// The first step before the header, as the driver's Query takes it.
	row, err := s.Step()
	if err != nil {
		return true, stepError(ctx, err)
	}
	first := true
	return true, sh.printRows(cols, func(vals []any) (bool, error) {
		if !first {
			if row, err = s.Step(); err != nil {
				return false, stepError(ctx, err)
			}
		}
		first = false
		if !row {
			return false, nil
		}
		for i := range vals {
			vals[i] = storedValue(s, i)
		}
		return true, nil
	})
}

// readsTimeColumn reports whether s is a read-only query without
// parameters with a result column the driver reads as a time. A query
// that mentions sqlite_sequence is left to the driver, which notes it in a
// BEGIN CONCURRENT transaction.
func readsTimeColumn(s *capi.Stmt) bool {
	if s.ColumnCount() == 0 || !s.ReadOnly() || s.ParamCount() > 0 || s.Mentions("sqlite_sequence") {
		return false
	}
	for _, decl := range s.ColumnDeclTypes() {
		if i := strings.IndexByte(decl, '('); i >= 0 {
			decl = decl[:i]
		}
		switch strings.ToUpper(strings.TrimSpace(decl)) {
		case "DATE", "DATETIME", "TIMESTAMP": // as the driver's rows.init
			return true
		}
	}
	return false
}

// storedValue returns column i of s's current row by storage class, as
// the driver's rows return values of other columns: int64, float64,
// string, []byte or nil.
func storedValue(s *capi.Stmt, i int) any {
	typ, i64, f64, b := s.Column(i)
	switch typ {
	case capi.INTEGER:
		return i64
	case capi.FLOAT:
		return f64
	case capi.TEXT:
		return string(b)
	case capi.BLOB:
		return append([]byte{}, b...)
	}
	return nil
}

// stepError is the error the shell reports for err, a failed step of a
// statement it runs itself: the context's error when its ending stopped
// the statement, as the driver reports it.
func stepError(ctx context.Context, err error) error {
	var ce *capi.Error
	if errors.As(err, &ce) && (ce.Code&0xff == capi.INTERRUPT || ce.Code&0xff == capi.BUSY) {
		if cerr := ctx.Err(); cerr != nil {
			return cerr
		}
	}
	return err
}

const shellHelp = `.tables [PATTERN]        list tables and views (LIKE PATTERN), of every database
.schema [TABLE]          show CREATE statements (of TABLE and its indexes and triggers)
.mode [table|csv|json]   set (or show) the output mode
.timer on|off            print the time each statement takes
.help                    this list
.quit, .exit             leave
Statements end with ';' and may span lines. Quote an argument with '...' or "...".
`

// dotCommand runs a dot-command; it returns true for .quit.
func (sh *shell) dotCommand(line int, text string) (quit bool) {
	f, err := splitArgs(text)
	if err != nil {
		sh.report(line, err)
		sh.flush()
		return false
	}
	name, args := f[0], f[1:]
	switch name {
	case ".quit", ".exit":
		return true
	case ".help":
		sh.out.WriteString(shellHelp)
	case ".mode":
		switch len(args) {
		case 0:
			fmt.Fprintf(sh.out, "current output mode: %s\n", sh.mode)
		case 1:
			m, ok := parseMode(args[0])
			if !ok {
				err = fmt.Errorf(".mode: unknown mode %q: want table, csv or json", args[0])
				break // the mode stays
			}
			sh.mode = m
		default:
			err = errors.New("usage: .mode [table|csv|json]")
		}
	case ".timer":
		switch {
		case len(args) == 1 && (args[0] == "on" || args[0] == "1"):
			sh.timer = true
		case len(args) == 1 && (args[0] == "off" || args[0] == "0"):
			sh.timer = false
		default:
			err = errors.New("usage: .timer on|off")
		}
	case ".tables":
		if len(args) > 1 {
			err = errors.New("usage: .tables [PATTERN]")
			break
		}
		err = sh.tables(args)
	case ".schema":
		if len(args) > 1 {
			err = errors.New("usage: .schema [TABLE]")
			break
		}
		err = sh.schema(args)
	default:
		err = fmt.Errorf("unknown command %s; .help lists the commands", name)
	}
	if err != nil {
		sh.report(line, err)
	}
	sh.flush()
	return false
}

// splitArgs splits a dot-command line into its words, as the sqlite3
// shell does: words are separated by white space; one starting with a
// quote runs to the matching quote, which is dropped: '...' as it is,
// "..." with backslash escapes (\n, \t, \r, and \ before any other
// character stands for that character).
func splitArgs(line string) ([]string, error) {
	var args []string
	for i := 0; ; {
		for i < len(line) && isSpace(line[i]) {
			i++
		}
		if i == len(line) {
			return args, nil
		}
		q := line[i]
		if q != '\'' && q != '"' {
			j := i
			for j < len(line) && !isSpace(line[j]) {
				j++
			}
			args = append(args, line[i:j])
			i = j
			continue
		}
		var b strings.Builder
		j := i + 1
		for ; j < len(line) && line[j] != q; j++ {
			c := line[j]
			if c == '\\' && q == '"' && j+1 < len(line) {
				j++
				switch c = line[j]; c {
				case 'n':
					c = '\n'
				case 't':
					c = '\t'
				case 'r':
					c = '\r'
				}
			}
			b.WriteByte(c)
		}
		if j == len(line) {
			return nil, fmt.Errorf("unterminated %c...%c in %s", q, q, line)
		}
		args = append(args, b.String())
		i = j + 1
	}
}

// isSpace reports whether c is ASCII white space.
func isSpace(c byte) bool {
	return c == ' ' || c == '\t' || c == '\n' || c == '\r' || c == '\f' || c == '\v'
}

// tables prints the names of the tables and views of every database of
// the connection, sorted, one per line; those of temp and attached
// databases as SCHEMA.NAME (as the sqlite3 shell lists them).
func (sh *shell) tables(args []string) error {
	dbs, err := sh.databases()
	if err != nil {
		return err
	}
	var names []string
	for _, db := range dbs {
		q := `SELECT name FROM "` + strings.ReplaceAll(db, `"`, `""`) + `".sqlite_schema
			WHERE type IN ('table', 'view') AND name NOT LIKE 'sqlite\_%' ESCAPE '\'
			AND name NOT IN ('` + cdcTable + `', '` + cdcStateTable + `')`
		var qargs []any
		if len(args) == 1 {
			q += " AND name LIKE ?"
			qargs = append(qargs, args[0])
		}
		prefix := db + "."
		if db == "main" {
			prefix = ""
		}
		err := sh.eachString(q, qargs, func(name string) { names = append(names, prefix+name) })
		if err != nil {
			return err
		}
	}
	sort.Strings(names)
	for _, n := range names {
		sh.out.WriteString(n + "\n")
	}
	return nil
}

// schema prints the CREATE statements of every table of every database, or
// of one table (TABLE or SCHEMA.TABLE) and its indexes and triggers,
// database by database. Those of temp and attached databases name the
// database, as the sqlite3 shell shows them: CREATE TABLE aux.t(...).
func (sh *shell) schema(args []string) error {
	dbs, err := sh.databases()
	if err != nil {
		return err
	}
	for _, db := range dbs {
		q := `SELECT sql FROM "` + strings.ReplaceAll(db, `"`, `""`) + `".sqlite_schema WHERE sql IS NOT NULL`
		var qargs []any
		if len(args) == 1 {
			q += " AND (tbl_name LIKE ?1 OR name LIKE ?1 OR ?2 || '.' || tbl_name LIKE ?1 OR ?2 || '.' || name LIKE ?1)"
			qargs = append(qargs, args[0], db)
		} else {
			q += ` AND name NOT LIKE 'sqlite\_%' ESCAPE '\' AND tbl_name NOT IN ('` + cdcTable + `', '` + cdcStateTable + `')`
		}
		err := sh.eachString(q+" ORDER BY rowid", qargs, func(sql string) {
			if db != "main" {
				sql = addSchema(sql, db)
			}
			sh.out.WriteString(sql + ";\n")
		})
		if err != nil {
			return err
		}
	}
	return nil
}

// databases returns the names of the connection's databases in the order
// of PRAGMA database_list: main, temp (once it has been used), then the
// attached ones.
func (sh *shell) databases() ([]string, error) {
	var dbs []string
	err := sh.eachString("SELECT name FROM pragma_database_list ORDER BY seq", nil, func(name string) { dbs = append(dbs, name) })
	return dbs, err
}

// addSchema puts the database name db into sql, a CREATE statement as
// sqlite_schema stores it (without the database the statement named), as
// the sqlite3 shell's shell_add_schema does: CREATE TABLE t(x) of aux
// becomes CREATE TABLE aux.t(x). Other text is returned as it is.
func addSchema(sql, db string) string {
	rest, ok := strings.CutPrefix(sql, "CREATE ")
	if !ok {
		return sql
	}
	for _, kind := range []string{"TABLE ", "INDEX ", "UNIQUE INDEX ", "VIEW ", "TRIGGER ", "VIRTUAL TABLE "} {
		if name, ok := strings.CutPrefix(rest, kind); ok {
			return "CREATE " + kind + quoteIdent(db) + "." + name
		}
	}
	return sql
}

// quoteIdent returns name as an SQL identifier for display: as it is if
// it is a plain one (letters, digits and _, not starting with a digit),
// else in double quotes, with quotes doubled. (Unlike the sqlite3 shell it
// does not quote a plain name that is a keyword.)
func quoteIdent(name string) string {
	plain := name != ""
	for i, c := range name {
		if !(c == '_' || c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || i > 0 && c >= '0' && c <= '9') {
			plain = false
			break
		}
	}
	if plain {
		return name
	}
	return `"` + strings.ReplaceAll(name, `"`, `""`) + `"`
}

// eachString calls f with the first column of every row of q.
func (sh *shell) eachString(q string, args []any, f func(string)) error {
	rows, err := sh.conn.QueryContext(sh.ctx, q, args...)
	if err != nil {
		return err
	}
	defer rows.Close()
	for rows.Next() {
		var s string
		if err := rows.Scan(&s); err != nil {
			return err
		}
		f(s)
	}
	return rows.Err()
}
