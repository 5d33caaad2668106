package iouringvfs

import (
	"encoding/json"
	"errors"
	"fmt"
	"strconv"
	"strings"
	"time"

	"github.com/golibsql/libsql/internal/capi"
	"github.com/golibsql/libsql/iouring_vfs/wal"
)

// StatsPragma is the PRAGMA that reports an engine's Stats as JSON.
const StatsPragma = "libsql_stats"

// SetupJournal sets the journal mode of the connection's SQLite to
// TRUNCATE with exec (which runs SQL on the connection): its rollback
// journal is then a file this VFS keeps private to the connection, in
// memory up to a bound and on disk past it (tempFile), so that a
// transaction changing much of a big database does not hold the old pages
// in memory, as journal_mode=MEMORY would; the file stays open, emptied,
// between transactions (see DeviceCharacteristics), which DELETE's open
// and close of it at every transaction made 11% slower (8 writers of
// one-row commits at sync=normal, BenchmarkWriters). It runs SQL that
// reads the schema, so a file that is not a database fails here, as the
// open of a connection in stock SQLite's drivers does.
func (f *File) SetupJournal(exec func(sql string) error) error {
	f.journalSetup = true
	defer func() { f.journalSetup = false }()
	return exec("PRAGMA journal_mode=TRUNCATE")
}

// Pragma handles the PRAGMAs that concern the storage engine
// (SQLITE_FCNTL_PRAGMA); the rest are SQLite's.
//
//   - journal_mode reports wal and accepts wal (the engine always keeps a
//     log; SQLite's own rollback journal is private, see SetupJournal), and
//     memory, which changes nothing: other modes are an error.
//   - synchronous sets whether commits on this connection wait for
//     fdatasync (FULL, EXTRA) or not (NORMAL, OFF); SQLite's own setting
//     never changes, so what is durable is always the engine's decision.
//     It reads back the level set (0 to 3), or before any, 2 or 1 as
//     commits wait or not.
//   - wal_checkpoint(PASSIVE|FULL|RESTART|TRUNCATE) checkpoints the log and
//     answers "busy|log|checkpointed" (FULL, RESTART and TRUNCATE fail
//     with SQLITE_LOCKED inside a transaction of the same connection that
//     they would have to wait for); wal_autocheckpoint sets the frames
//     after which the engine checkpoints in the background, and
//     journal_size_limit the size a log restart cuts the log file to.
//   - busy_timeout sets the wait for the writer lock (and keeps the
//     driver's busy handler).
//   - page_size=N on a database that has pages does nothing, as in WAL
//     mode: VACUUM keeps the page size.
//   - locking_mode=EXCLUSIVE is refused: the engine already owns the file,
//     and SQLite would never release its snapshot.
//   - libsql_stats reports the engine's state as JSON.
func (f *File) Pragma(name string, value *string) (string, bool, error) {
	switch strings.ToLower(name) {
	case "journal_mode":
		if value == nil {
			return "wal", true, nil
		}
		switch v := strings.ToLower(*value); {
		case v == "wal" || v == "memory":
			return "wal", true, nil
		case v == "truncate" && f.journalSetup:
			return "", false, nil // SetupJournal's, for SQLite
		}
		return "", true, fmt.Errorf("journal_mode %q is not supported: databases always use the engine's write-ahead log (journal_mode=wal)", *value)
	case "synchronous":
		if value == nil {
			if f.syncSet {
				return strconv.Itoa(f.syncLevel), true, nil
			}
			if f.commitSync {
				return "2", true, nil
			}
			return "1", true, nil
		}
		// SQLite's spellings (getSafetyLevel), the undocumented ones too.
		level, ok := map[string]int{"off": 0, "no": 0, "false": 0, "normal": 1, "on": 1, "yes": 1, "true": 1, "full": 2, "extra": 3}[strings.ToLower(*value)]
		if n, err := strconv.Atoi(*value); err == nil && n >= 0 && n <= 3 {
			level, ok = n, true
		}
		if !ok {
			return "", true, fmt.Errorf("invalid synchronous value %q (want OFF, NORMAL, FULL or EXTRA)", *value)
		}
		// Two levels act (see above); the one set reads back, as in stock.
		f.commitSync, f.syncLevel, f.syncSet = level >= 2, level, true
		return "", true, nil
	case "wal_checkpoint":
		mode := wal.CheckpointPassive
		if value != nil && *value != "" {
			m, err := wal.ParseCheckpointMode(*value)
			if err != nil {
				return "", true, err
			}
			mode = m
		}
		res, err := f.e.checkpoint(mode, f)
		var ce *capi.CodeError
		if errors.As(err, &ce) {
			return "", true, f.fail(ce.Code, err)
		}
		if err != nil {
			return "", true, f.ioFail(capi.IOERR, err)
		}
		busy := 0
		if res.Busy {
			busy = 1
		}
		return fmt.Sprintf("%d|%d|%d", busy, res.Frames, res.Backfilled), true, nil
	case "wal_autocheckpoint":
		if value != nil {
			n, err := strconv.Atoi(*value)
			if err != nil {
				return "", true, fmt.Errorf("invalid wal_autocheckpoint %q: want a number of frames", *value)
			}
			f.e.autoCkpt.Store(int64(n))
		}
		return strconv.FormatInt(max(f.e.autoCkpt.Load(), 0), 10), true, nil
	case "journal_size_limit":
		if value != nil {
			n, err := strconv.ParseInt(*value, 0, 64)
			if err != nil {
				return "", true, fmt.Errorf("invalid journal_size_limit %q: want a number of bytes, or -1", *value)
			}
			f.e.log.SetSizeLimit(n)
		}
		return strconv.FormatInt(f.e.log.SizeLimit(), 10), true, nil
	case "busy_timeout":
		if f.owner == nil {
			return "", false, nil
		}
		if value != nil {
			ms, err := strconv.Atoi(*value)
			if err != nil {
				return "", true, fmt.Errorf("invalid busy_timeout %q: want milliseconds", *value)
			}
			f.owner.SetBusyTimeout(time.Duration(max(ms, 0)) * time.Millisecond)
		}
		return strconv.FormatInt(f.owner.BusyTimeout().Milliseconds(), 10), true, nil
	case "page_size":
		// As in stock SQLite's WAL mode, which our files are in: setting
		// the page size of a database that has pages does nothing, so a
		// VACUUM keeps the page size (the engine's log cannot change it).
		if value != nil && f.pageSize() != 0 {
			return "", true, nil
		}
		return "", false, nil
	case "locking_mode":
		if value == nil || strings.EqualFold(*value, "normal") {
			return "normal", true, nil
		}
		return "", true, fmt.Errorf("locking_mode %q is not supported: the engine already holds the database file exclusively", *value)
	case StatsPragma:
		b, err := json.Marshal(f.e.Stats())
		if err != nil {
			return "", true, err
		}
		return string(b), true, nil
	}
	return "", false, nil
}
