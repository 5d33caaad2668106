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
	"strings"
	"sync"
	"time"
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

  .tables [PATTERN]        list tables and views (LIKE PATTERN)
  .schema [TABLE]          show CREATE statements (of TABLE and its indexes
                           and triggers)
  .mode [table|csv|json]   set (or show) the output mode:
                             table  aligned columns in a box, with a header
                             csv    RFC 4180, with a header line
                             json   one JSON array of objects per query
  .timer on|off            print the time each statement takes
  .help                    list the dot-commands
  .quit, .exit             leave (so does end of input)

When standard input is a terminal the shell prompts, and Ctrl-C interrupts
the running statement. Otherwise it reads a script without prompting and
exits with status 1 if a statement or dot-command failed (it goes on after
a failure either way). Statements run on one connection, so BEGIN ...
COMMIT spans statements. No history file is written.

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
		return c.fail(e, err)
	}
	defer db.Close()
	conn, err := db.Conn(ctx)
	if err != nil {
		return c.fail(e, t.explain(err))
	}
	defer conn.Close()

	out := bufio.NewWriter(e.stdout)
	defer out.Flush()
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
	if sh.failed && !sh.interactive {
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

	mu     sync.Mutex
	cancel context.CancelFunc // of the running statement, for Ctrl-C
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
		sh.out.Flush()
		line, err := r.ReadString('\n')
		if line == "" && err != nil {
			if err != io.EOF {
				sh.report(lineNo, err)
			}
			break
		}
		lineNo++
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
	sh.out.Flush()
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
	sh.out.Flush()
}

// query runs stmt on the shell's connection and prints the rows it
// returns, if it returns columns.
func (sh *shell) query(ctx context.Context, stmt string) error {
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
	r := newRenderer(sh.mode, sh.out, cols)
	vals := make([]any, len(cols))
	ptrs := make([]any, len(cols))
	for i := range vals {
		ptrs[i] = &vals[i]
	}
	for rows.Next() {
		if err := rows.Scan(ptrs...); err != nil {
			r.end()
			return err
		}
		if err := r.row(vals); err != nil {
			return err
		}
	}
	err = rows.Err()
	if endErr := r.end(); err == nil {
		err = endErr
	}
	return err
}

const shellHelp = `.tables [PATTERN]        list tables and views (LIKE PATTERN)
.schema [TABLE]          show CREATE statements (of TABLE and its indexes and triggers)
.mode [table|csv|json]   set (or show) the output mode
.timer on|off            print the time each statement takes
.help                    this list
.quit, .exit             leave
Statements end with ';' and may span lines.
`

// dotCommand runs a dot-command; it returns true for .quit.
func (sh *shell) dotCommand(line int, text string) (quit bool) {
	f := strings.Fields(text)
	name, args := f[0], f[1:]
	var err error
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
	sh.out.Flush()
	return false
}

// tables prints the names of tables and views, one per line.
func (sh *shell) tables(args []string) error {
	q := `SELECT name FROM sqlite_schema
		WHERE type IN ('table', 'view') AND name NOT LIKE 'sqlite\_%' ESCAPE '\'
		AND name NOT IN ('` + cdcTable + `', '` + cdcStateTable + `')`
	var qargs []any
	if len(args) == 1 {
		q += " AND name LIKE ?"
		qargs = append(qargs, args[0])
	}
	return sh.printColumn(q+" ORDER BY name", qargs, "")
}

// schema prints the CREATE statements of every table, or of one table and
// its indexes and triggers.
func (sh *shell) schema(args []string) error {
	q := `SELECT sql FROM sqlite_schema WHERE sql IS NOT NULL`
	var qargs []any
	if len(args) == 1 {
		q += " AND (tbl_name LIKE ?1 OR name LIKE ?1)"
		qargs = append(qargs, args[0])
	} else {
		q += ` AND name NOT LIKE 'sqlite\_%' ESCAPE '\' AND tbl_name NOT IN ('` + cdcTable + `', '` + cdcStateTable + `')`
	}
	return sh.printColumn(q+" ORDER BY rowid", qargs, ";")
}

// printColumn prints the first column of every row of q, each followed by
// suffix and a newline.
func (sh *shell) printColumn(q string, args []any, suffix string) error {
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
		sh.out.WriteString(s + suffix + "\n")
	}
	return rows.Err()
}
