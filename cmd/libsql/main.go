// Command libsql is the command-line tool of libsql for Go: a demo, an SQL
// shell, a change-data-capture tail, a health check and a quick benchmark,
// all on the project's own driver and storage engine.
//
//	libsql demo  [--writers N] [--duration D] [--sync MODE] [--accounts N] [--seed N] [--keep]
//	libsql shell DB
//	libsql tail  DB [--since LSN|oldest|now] [--table T]... [--op OP]... [--follow=false]
//	libsql check DB [--checkpoint passive|full|restart|truncate]
//	libsql bench [--duration D] [--rows N] [--writers N] [--keep]
//
// demo runs concurrent writers with BEGIN CONCURRENT (libsql.RetryTx) on a
// temporary database, some on tables of their own and some on a shared
// table, while a change stream (libsql.Changes) consumes every committed
// change. It prints a progress line, then throughput, commits, conflicts and
// rebases (from PRAGMA libsql_stats), the number of changes the stream
// received (which must equal the rows committed), the last changes as JSON
// lines and an integrity check; it exits 1 if a check fails.
//
// shell is a line-oriented SQL shell: statements end with ';' and may span
// lines; dot-commands .tables, .schema, .mode table|csv|json, .timer,
// .help and .quit. It prompts only when its input is a terminal; reading a
// script, it exits 1 if a statement failed.
//
// tail prints committed row changes as JSON lines (changefeed.AppendJSON),
// following new ones until interrupted. History (--since) needs durable CDC:
// a database with the libsql_cdc table, written with cdc=on.
//
// check runs PRAGMA integrity_check, and reports the page count and size,
// the storage engine's log, checkpoint, snapshot and cache counters, and
// the durable CDC log; it exits 1 if the integrity check fails. It can run
// a checkpoint first.
//
// bench measures autocommit inserts (sync=full and sync=normal), 10-row
// transactions, point selects and concurrent writers on a temporary
// database.
//
// DB is a path or a DSN: an argument starting with "file:" is used as it
// is, anything else is taken as a file path. A database belongs to one
// process at a time: while another process has it open, opening it fails
// with "database is locked".
//
// Every command takes --help. Errors go to standard error; the exit status
// is 2 for a usage error (unknown command or flag, missing argument, bad
// value) and 1 for a failure.
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"os/signal"
	"strings"
	"syscall"
)

func main() {
	os.Exit(run(os.Args[1:], os.Stdin, os.Stdout, os.Stderr))
}

// Exit statuses.
const (
	exitOK      = 0
	exitFailure = 1 // the command ran and failed
	exitUsage   = 2 // the command line was wrong
)

// env is what a command runs with: its context and standard streams.
type env struct {
	ctx    context.Context
	stdin  io.Reader
	stdout io.Writer
	stderr io.Writer
}

// command is one subcommand of the tool.
type command struct {
	name    string
	args    string // synopsis after the name, e.g. "DB [flags]"
	summary string // one line, for the command list
	doc     string // what --help prints between the synopsis and the flags
	run     func(c *command, e *env, args []string) int
}

// commands lists the subcommands in the order the usage shows them.
var commands = []*command{demoCommand, shellCommand, tailCommand, checkCommand, benchCommand}

// run runs the command line args (without the program name) and returns
// the exit status. main calls it with the process's streams.
func run(args []string, stdin io.Reader, stdout, stderr io.Writer) int {
	return runContext(context.Background(), args, stdin, stdout, stderr)
}

// runContext is run with a context: when it ends, a command stops as it
// would on SIGINT (tail and demo finish cleanly).
func runContext(ctx context.Context, args []string, stdin io.Reader, stdout, stderr io.Writer) int {
	if len(args) == 0 {
		fmt.Fprintln(stderr, "libsql: no command given")
		usage(stderr)
		return exitUsage
	}
	switch args[0] {
	case "help", "-h", "-help", "--help":
		if len(args) > 1 {
			if c := lookup(args[1]); c != nil {
				return c.run(c, &env{ctx, stdin, stdout, stderr}, []string{"--help"})
			}
			fmt.Fprintf(stderr, "libsql help: unknown command %q\n", args[1])
			return exitUsage
		}
		usage(stdout)
		return exitOK
	}
	c := lookup(args[0])
	if c == nil {
		fmt.Fprintf(stderr, "libsql: unknown command %q\n", args[0])
		usage(stderr)
		return exitUsage
	}
	return c.run(c, &env{ctx, stdin, stdout, stderr}, args[1:])
}

// lookup returns the command of that name, or nil.
func lookup(name string) *command {
	for _, c := range commands {
		if c.name == name {
			return c
		}
	}
	return nil
}

// usage prints the list of commands.
func usage(w io.Writer) {
	fmt.Fprint(w, "usage: libsql <command> [arguments]\n\ncommands:\n")
	for _, c := range commands {
		fmt.Fprintf(w, "  %-6s %s\n", c.name, c.summary)
	}
	fmt.Fprint(w, `
DB is a database file path, or a DSN starting with "file:" (such as
"file:data.db?cdc=on"). Run "libsql <command> --help" for a command's flags.
`)
}

// flags returns an empty flag set for c; errors and usage are printed by
// parse, not by the flag package.
func (c *command) flags() *flag.FlagSet {
	fs := flag.NewFlagSet("libsql "+c.name, flag.ContinueOnError)
	fs.SetOutput(io.Discard)
	fs.Usage = func() {}
	return fs
}

// help prints c's full help with fs's flags to w.
func (c *command) help(w io.Writer, fs *flag.FlagSet) {
	fmt.Fprintf(w, "usage: libsql %s %s\n\n%s", c.name, c.args, strings.TrimLeft(c.doc, "\n"))
	first := true
	fs.VisitAll(func(f *flag.Flag) {
		if first {
			fmt.Fprint(w, "\nflags:\n")
			first = false
		}
		typ, text := flag.UnquoteUsage(f)
		if typ != "" {
			typ = " " + typ
		}
		fmt.Fprintf(w, "  --%s%s\n        %s", f.Name, typ, text)
		if def := f.DefValue; def != "" && def != "0" && def != "false" && def != "[]" && def != "0s" {
			fmt.Fprintf(w, " (default %s)", def)
		}
		fmt.Fprintln(w)
	})
}

// parse parses args with fs, allowing flags before and after the
// positional arguments (as in "tail DB --since oldest"); "--" ends the
// flags. It wants between minPos and maxPos positional arguments (maxPos
// < 0: no limit). When ok is false the command must return code at once:
// 0 after --help, 2 after a usage error (already reported on stderr).
func (c *command) parse(e *env, fs *flag.FlagSet, args []string, minPos, maxPos int) (pos []string, code int, ok bool) {
	for {
		err := fs.Parse(args)
		if errors.Is(err, flag.ErrHelp) {
			c.help(e.stdout, fs)
			return nil, exitOK, false
		}
		if err != nil {
			return nil, c.usageError(e, "%v", err), false
		}
		rest := fs.Args()
		if len(rest) == 0 {
			break
		}
		if n := len(args) - len(rest); n > 0 && args[n-1] == "--" {
			pos = append(pos, rest...)
			break
		}
		pos = append(pos, rest[0])
		args = rest[1:]
	}
	switch {
	case len(pos) < minPos && minPos == 1:
		return nil, c.usageError(e, "missing DB argument"), false
	case len(pos) < minPos:
		return nil, c.usageError(e, "want %d arguments, got %d", minPos, len(pos)), false
	case maxPos >= 0 && len(pos) > maxPos:
		return nil, c.usageError(e, "unexpected argument %q", pos[maxPos]), false
	}
	return pos, exitOK, true
}

// usageError reports a usage error on stderr and returns exit status 2.
func (c *command) usageError(e *env, format string, args ...any) int {
	fmt.Fprintf(e.stderr, "libsql %s: %s\nusage: libsql %s %s\nRun \"libsql %s --help\" for more.\n",
		c.name, fmt.Sprintf(format, args...), c.name, c.args, c.name)
	return exitUsage
}

// fail reports a failure on stderr and returns exit status 1.
func (c *command) fail(e *env, err error) int {
	fmt.Fprintf(e.stderr, "libsql %s: %v\n", c.name, err)
	return exitFailure
}

// interruptible returns a context that ends with parent or on SIGINT or
// SIGTERM, and the function that stops listening for the signals.
func interruptible(parent context.Context) (context.Context, context.CancelFunc) {
	return signal.NotifyContext(parent, os.Interrupt, syscall.SIGTERM)
}

// listFlag is a flag that may be repeated; each value is appended.
type listFlag []string

func (l *listFlag) String() string { return strings.Join(*l, ",") }

// Set appends v.
func (l *listFlag) Set(v string) error { *l = append(*l, v); return nil }
