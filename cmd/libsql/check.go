package main

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"io"
	"strings"

	"github.com/golibsql/libsql"
)

var checkCommand = &command{
	name:    "check",
	args:    "DB [--checkpoint passive|full|restart|truncate]",
	summary: "integrity check, log, checkpoint and CDC status of a database",
	doc: `
Opens DB (which must exist) and prints, one "name: value" line each:

  integrity    PRAGMA integrity_check: ok, or the problems it found
  pages        page count, page size, database size and free pages
  checkpoint   the result of --checkpoint, when given
  log          frames now in the write-ahead log and how many of them are
               backfilled into the database file; then commits, log writes,
               fsyncs, checkpoints, log restarts and pages checkpointed,
               counted since the database was opened in this process (so,
               for check alone, what check itself did)
  versions     the newest committed version of the database and the newest
               durable one, as checkpoint-sequence.commit
  snapshots    snapshots pinned by readers, and the oldest pinned version
  cache        the shared page cache: hits, misses, evictions, pages read ahead, capacity, memory held
  concurrent   BEGIN CONCURRENT commits (direct, merged, rebased) and
               conflicts
  io           the I/O backend
  cdc          whether the durable CDC log (table libsql_cdc) exists: the
               transactions it holds, their oldest and newest LSN, and the
               LSN retention pruned through

The exit status is 1 if the integrity check does not say ok.

--checkpoint runs PRAGMA wal_checkpoint(MODE) first: passive copies what it
can without waiting, full waits for writers and copies every frame, restart
also makes the next writer start the log from its beginning, truncate also
truncates the log file to zero bytes.
`,
	run: runCheck,
}

func runCheck(c *command, e *env, args []string) int {
	fs := c.flags()
	ckpt := fs.String("checkpoint", "", "run PRAGMA wal_checkpoint(`MODE`) first: passive, full, restart or truncate")
	pos, code, ok := c.parse(e, fs, args, 1, 1)
	if !ok {
		return code
	}
	mode := strings.ToUpper(*ckpt)
	switch mode {
	case "", "PASSIVE", "FULL", "RESTART", "TRUNCATE":
	default:
		return c.usageError(e, "--checkpoint %q: want passive, full, restart or truncate", *ckpt)
	}
	t, err := parseTarget(pos[0])
	if err != nil {
		return c.usageError(e, "%v", err)
	}
	if err := t.mustExist(); err != nil {
		return c.fail(e, err)
	}
	ok, err = checkDB(e.ctx, e.stdout, t, mode)
	if err != nil {
		return c.failOpen(e, err)
	}
	if !ok {
		fmt.Fprintf(e.stderr, "libsql check: %s: integrity check failed\n", t.name)
		return exitFailure
	}
	return exitOK
}

// checkDB prints t's report to w and returns whether the integrity check
// said ok. mode, if not empty, is the checkpoint to run first.
func checkDB(ctx context.Context, w io.Writer, t target, mode string) (bool, error) {
	db, err := t.open(ctx, modeFor(t)...)
	if err != nil {
		return false, err
	}
	defer db.Close()
	line := func(name, format string, args ...any) {
		fmt.Fprintf(w, "%-11s %s\n", name+":", fmt.Sprintf(format, args...))
	}
	line("database", "%s", t.name)

	lines, err := integrityCheck(ctx, db)
	if err != nil {
		return false, fmt.Errorf("PRAGMA integrity_check: %w", err)
	}
	ok := len(lines) == 1 && lines[0] == "ok"
	// One problem per line, each line under the first (a result row may
	// hold several lines).
	line("integrity", "%s", strings.ReplaceAll(strings.Join(lines, "\n"), "\n", "\n            "))

	var pages, size, free int64
	if err := db.QueryRowContext(ctx, "SELECT (SELECT page_count FROM pragma_page_count), (SELECT page_size FROM pragma_page_size), (SELECT freelist_count FROM pragma_freelist_count)").
		Scan(&pages, &size, &free); err != nil {
		return ok, err
	}
	line("pages", "%d x %d bytes = %s, %d free", pages, size, formatBytes(pages*size), free)

	if mode != "" {
		busy, logFrames, done, err := checkpoint(ctx, db, mode)
		if err != nil {
			return ok, fmt.Errorf("PRAGMA wal_checkpoint(%s): %w", mode, err)
		}
		state := "done"
		if busy != 0 {
			state = "busy (could not finish)"
		}
		line("checkpoint", "%s: %s, %d frames in the log, %d checkpointed", mode, state, logFrames, done)
	}

	st, err := engineStats(ctx, db)
	if err != nil {
		return ok, err
	}
	line("log", "%d frames, %d backfilled; %d commits, %d writes, %d fsyncs; %d checkpoints, %d restarts, %d pages checkpointed",
		st.LogFrames, st.Backfilled, st.Commits, st.Flushes, st.Syncs, st.Checkpoints, st.Restarts, st.PagesBackfilled)
	line("versions", "newest %s, durable %s", st.Version, st.Durable)
	line("snapshots", "%d pinned, oldest %s", st.PinnedSnapshots, st.OldestPinned)
	line("cache", "%d hits, %d misses, %d evictions, %d read ahead, %d pages capacity, %s in memory",
		st.CacheHits, st.CacheMisses, st.CacheEvictions, st.CacheReadAhead, st.CachePages, formatBytes(int64(st.CacheBytes)))
	cs := st.Concurrent
	line("concurrent", "%d commits (%d direct, %d merged, %d rebased), %d conflicts", cs.Commits, cs.Direct, cs.Merged, cs.Rebased, cs.Conflicts)
	line("io", "%s", st.IO)

	cdc, err := cdcStatus(ctx, db)
	if err != nil {
		return ok, err
	}
	line("cdc", "%s", cdc)
	return ok, nil
}

// checkpoint runs PRAGMA wal_checkpoint(mode) and returns its three
// numbers: whether it was blocked, the frames in the log and the frames
// checkpointed. SQLite returns them as three columns; the engine's pragma
// handler as one text "busy|log|checkpointed".
func checkpoint(ctx context.Context, db *sql.DB, mode string) (busy, logFrames, done int64, err error) {
	rows, err := db.QueryContext(ctx, "PRAGMA wal_checkpoint("+mode+")")
	if err != nil {
		return 0, 0, 0, err
	}
	defer rows.Close()
	cols, err := rows.Columns()
	if err != nil {
		return 0, 0, 0, err
	}
	if !rows.Next() {
		if err := rows.Err(); err != nil {
			return 0, 0, 0, err
		}
		return 0, 0, 0, errors.New("no result")
	}
	switch len(cols) {
	case 3:
		err = rows.Scan(&busy, &logFrames, &done)
	case 1:
		var s string
		if err = rows.Scan(&s); err == nil {
			if _, err = fmt.Sscanf(s, "%d|%d|%d", &busy, &logFrames, &done); err != nil {
				err = fmt.Errorf("unexpected result %q", s)
			}
		}
	default:
		err = fmt.Errorf("unexpected result of %d columns", len(cols))
	}
	return busy, logFrames, done, err
}

// cdcStatus describes the durable CDC log of db.
func cdcStatus(ctx context.Context, db *sql.DB) (string, error) {
	present, err := hasTable(ctx, db, cdcTable)
	if err != nil || !present {
		return "off (no " + cdcTable + " table)", err
	}
	var n int64
	var oldest, newest sql.NullInt64
	if err := db.QueryRowContext(ctx, "SELECT count(*), min(lsn), max(lsn) FROM "+cdcTable).Scan(&n, &oldest, &newest); err != nil {
		return "", err
	}
	s := fmt.Sprintf("on: %s holds %d transactions", cdcTable, n)
	if n > 0 {
		s += fmt.Sprintf(", LSN %v to %v", libsql.LSN(oldest.Int64), libsql.LSN(newest.Int64))
	}
	if state, err := hasTable(ctx, db, cdcStateTable); err == nil && state {
		var pruned sql.NullInt64
		if err := db.QueryRowContext(ctx, "SELECT value FROM "+cdcStateTable+" WHERE key = 'pruned_through'").Scan(&pruned); err == nil && pruned.Int64 > 0 {
			s += fmt.Sprintf("; pruned through %v", libsql.LSN(pruned.Int64))
		}
	}
	return s, nil
}

// formatBytes formats n bytes in binary units.
func formatBytes(n int64) string {
	const unit = 1024
	if n < unit {
		return fmt.Sprintf("%d B", n)
	}
	div, exp := int64(unit), 0
	for m := n / unit; m >= unit; m /= unit {
		div *= unit
		exp++
	}
	return fmt.Sprintf("%.1f %ciB", float64(n)/float64(div), "KMGTPE"[exp])
}
