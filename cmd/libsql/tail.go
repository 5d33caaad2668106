package main

import (
	"bufio"
	"context"
	"database/sql"
	"errors"
	"fmt"
	"io"
	"strings"
	"time"

	"github.com/golibsql/libsql"
	"github.com/golibsql/libsql/changefeed"
)

var tailCommand = &command{
	name:    "tail",
	args:    "DB [--since LSN|oldest|now] [--table T]... [--op insert|update|delete]... [--follow=false]",
	summary: "print committed row changes as JSON lines, following new ones",
	doc: `
Prints the committed row changes of DB as JSON lines, one change per line,
in commit order:

  {"lsn":N,"index":N,"table":"t","op":"insert|update|delete","rowid":N,
   "pk":[...]|null,"columns":["a",...],"old":{"a":v,...}|null,
   "new":{"a":v,...}|null,"indirect":false,"time":"RFC 3339, UTC"}

(values keep their SQLite type: integers and reals as numbers, text as
strings, blobs as {"base64":"..."}, NULL as null; "indirect" marks changes
made by triggers and foreign-key actions). Then it follows new changes
until interrupted (SIGINT or SIGTERM end it cleanly, with status 0).

History needs durable CDC: a database written with cdc=on
("file:DB?cdc=on"), which keeps every committed transaction's changes in
the table libsql_cdc. tail then opens DB with cdc=on, and --since LSN prints
every change of the transactions committed after LSN (save the last "lsn"
printed to resume exactly there), --since oldest (or 0) everything
retained. On a database without libsql_cdc there is no history: tail says
so and follows from now. (tail does not create libsql_cdc, unless DB is a
DSN that says cdc=on.)

With --follow=false tail prints what is retained after --since and exits:
it stops once it has printed the newest transaction stored when it started
(when the last transactions have no change that passes --table and --op,
it notices after 200 ms without a change).

A database belongs to one process at a time: tail cannot open a database
another process has open ("database is locked"), and while it follows,
no other process can open it. To watch a running application's changes,
open a stream in that process (libsql.Changes); tail reads the history
of a database nothing else has open.
`,
	run: runTail,
}

// tail --follow=false waits tailIdle for the next change before it checks
// whether it has gone past the newest transaction stored when it started,
// and gives up if the stream has not moved for tailStall.
const (
	tailIdle  = 200 * time.Millisecond
	tailStall = 5 * time.Second
)

func runTail(c *command, e *env, args []string) int {
	fs := c.flags()
	since := fs.String("since", "now", "where to start: after the transaction `LSN` (a number; 0: as oldest), at the oldest retained change (oldest), or now")
	var tables, ops listFlag
	fs.Var(&tables, "table", "print only changes to table `T` (repeatable)")
	fs.Var(&ops, "op", "print only changes of operation `OP`: insert, update or delete (repeatable)")
	follow := fs.Bool("follow", true, "follow new changes; false: print the retained history and exit")
	pos, code, ok := c.parse(e, fs, args, 1, 1)
	if !ok {
		return code
	}
	opts := libsql.ChangeOptions{Tables: tables}
	lsn, err := changefeed.ParseLSN(*since)
	if err != nil {
		return c.usageError(e, "--since %q: want an LSN (a decimal number), oldest or now", *since)
	}
	if lsn == changefeed.Now && !strings.EqualFold(*since, "now") {
		// The number 0, which ParseLSN reads as Now: after LSN 0 is
		// before every transaction, where oldest starts.
		lsn = changefeed.Oldest
	}
	opts.Since = lsn
	for _, s := range ops {
		op, err := changefeed.ParseOp(s)
		if err != nil {
			return c.usageError(e, "--op %q: want insert, update or delete", s)
		}
		opts.Ops = append(opts.Ops, op)
	}
	t, err := parseTarget(pos[0])
	if err != nil {
		return c.usageError(e, "%v", err)
	}
	if err := t.mustExist(); err != nil {
		return c.fail(e, err)
	}
	ctx, stop := interruptible(e.ctx)
	defer stop()
	if err := tail(ctx, e.stdout, e.stderr, t, opts, *follow); err != nil {
		return c.failOpen(e, err)
	}
	return exitOK
}

// tail prints t's changes selected by opts to w as JSON lines; warnings go
// to warn. It returns nil when ctx ends.
func tail(ctx context.Context, w, warn io.Writer, t target, opts libsql.ChangeOptions, follow bool) error {
	// Look for the durable log first, without cdc=on, which would create it.
	probe, err := t.open(ctx, append(modeFor(t), libsql.WithCDC(false))...)
	if err != nil {
		return err
	}
	durable, err := hasTable(ctx, probe, cdcTable)
	probe.Close()
	if err != nil {
		return t.explain(err)
	}
	var db *sql.DB
	if durable {
		db, err = t.open(ctx, append(modeFor(t), libsql.WithCDC(true))...)
	} else {
		db, err = t.open(ctx, modeFor(t)...)
	}
	if err != nil {
		return err
	}
	defer db.Close()
	if !durable && opts.Since != changefeed.Now {
		fmt.Fprintf(warn, "libsql tail: %s has no durable CDC log (table %s; write it with cdc=on): history is unavailable, following from now\n", t.name, cdcTable)
		opts.Since = changefeed.Now
	}

	// With --follow=false, the newest transaction stored now is where to
	// stop.
	var newest libsql.LSN
	if !follow {
		if opts.Since == changefeed.Now {
			return nil // nothing before now was asked for
		}
		var n sql.NullInt64
		if err := db.QueryRowContext(ctx, "SELECT max(lsn) FROM "+cdcTable).Scan(&n); err != nil {
			return t.explain(err)
		}
		newest = libsql.LSN(n.Int64)
		if newest == 0 || (opts.Since != changefeed.Oldest && newest <= opts.Since) {
			return nil
		}
	}

	stream, err := libsql.Changes(ctx, db, opts)
	if err != nil {
		if ctx.Err() != nil {
			return nil
		}
		return fmt.Errorf("open the change stream: %w", err)
	}
	defer stream.Close()

	out := bufio.NewWriter(w)
	defer out.Flush()
	var buf []byte
	lastLSN, lastMove := stream.LSN(), time.Now()
	for {
		nctx, cancel := ctx, context.CancelFunc(func() {})
		if !follow {
			nctx, cancel = context.WithTimeout(ctx, tailIdle)
		}
		ch, err := stream.Next(nctx)
		cancel()
		switch {
		case err == nil:
		case ctx.Err() != nil:
			return nil // interrupted
		case !follow && errors.Is(err, context.DeadlineExceeded):
			// Nothing came for tailIdle: done if the stream went past
			// newest (the transactions after the last change printed were
			// filtered out). Otherwise a history read is still on its way.
			if pos := stream.LSN(); pos >= newest {
				return nil
			} else if pos != lastLSN {
				lastLSN, lastMove = pos, time.Now()
			} else if time.Since(lastMove) > tailStall {
				return fmt.Errorf("the change stream stopped at LSN %v, before the newest stored transaction %v", pos, newest)
			}
			continue
		case errors.Is(err, libsql.ErrStreamLagged):
			return fmt.Errorf("%w (the history asked for is no longer retained: use --since oldest)", err)
		default:
			return err
		}
		buf = changefeed.AppendJSON(buf[:0], &ch)
		buf = append(buf, '\n')
		if _, err := out.Write(buf); err != nil {
			return err
		}
		// Flush at the end of each transaction, so that a follower sees
		// whole transactions as they commit.
		if stream.LSN() >= ch.LSN {
			if err := out.Flush(); err != nil {
				return err
			}
			if !follow && stream.LSN() >= newest {
				return nil
			}
		}
	}
}

// modeFor keeps tail and check from creating a missing file: a path, or a
// DSN without a mode key, is opened with mode=rw (a DSN with one as the
// user wrote it).
func modeFor(t target) []libsql.Option {
	if !t.hasKey("mode") {
		return []libsql.Option{libsql.WithMode("rw")}
	}
	return nil
}
