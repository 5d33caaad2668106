package libsql

import (
	"context"
	"testing"
	"time"
)

func TestConnectionSettingsFromDSN(t *testing.T) {
	db := openTestDB(t, "sync=normal&cache_size=-4096&foreign_keys=on&busy_timeout=1234ms&_pragma=user_version(42)&_pragma=temp_store(memory)")
	checks := []struct {
		pragma string
		want   int64
	}{
		{"synchronous", 1},
		{"cache_size", -4096},
		{"foreign_keys", 1},
		{"busy_timeout", 1234},
		{"user_version", 42},
		{"temp_store", 2},
	}
	for _, c := range checks {
		var got int64
		if err := db.QueryRow("PRAGMA " + c.pragma).Scan(&got); err != nil || got != c.want {
			t.Errorf("PRAGMA %s = %d, %v; want %d", c.pragma, got, err, c.want)
		}
	}
}

// Defaults: synchronous FULL, foreign keys off, the default busy timeout, and
// the engine's write-ahead log (journal_mode reports wal).
func TestDefaults(t *testing.T) {
	db := openTestDB(t, "")
	var sync, fk, bt int64
	var jm string
	db.QueryRow("PRAGMA synchronous").Scan(&sync)
	db.QueryRow("PRAGMA foreign_keys").Scan(&fk)
	db.QueryRow("PRAGMA busy_timeout").Scan(&bt)
	db.QueryRow("PRAGMA journal_mode").Scan(&jm)
	if sync != 2 || fk != 0 || bt != DefaultBusyTimeout.Milliseconds() || jm != "wal" {
		t.Errorf("synchronous %d, foreign_keys %d, busy_timeout %d, journal_mode %s", sync, fk, bt, jm)
	}
}

func TestPragmaBusyTimeoutKeepsTheContextAwareHandler(t *testing.T) {
	db := openTestDB(t, "max_conns=1&busy_timeout=30s")
	mustExec(t, db, "PRAGMA busy_timeout=250")
	var bt int64
	db.QueryRow("PRAGMA busy_timeout").Scan(&bt)
	if bt != 250 {
		t.Errorf("busy_timeout = %d after PRAGMA busy_timeout=250", bt)
	}
	ctx := context.Background()
	c, err := db.Conn(ctx)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	driverConn(t, c, func(dc *conn) {
		if got := dc.cc.BusyTimeout(); got != 250*time.Millisecond {
			t.Errorf("driver busy timeout %v", got)
		}
	})
}

func TestPingValidAndClose(t *testing.T) {
	db := openTestDB(t, "")
	if err := db.Ping(); err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	c, err := db.Conn(ctx)
	if err != nil {
		t.Fatal(err)
	}
	driverConn(t, c, func(dc *conn) {
		if !dc.IsValid() {
			t.Error("open connection not valid")
		}
		if err := dc.Ping(ctx); err != nil {
			t.Error(err)
		}
	})
	c.Close()
}

func TestDriverOpenWithoutConnector(t *testing.T) {
	d := &Driver{}
	c, err := d.Open(":memory:")
	if err != nil {
		t.Fatal(err)
	}
	if err := c.Close(); err != nil {
		t.Fatal(err)
	}
	if _, err := d.Open("x.db?bogus=1"); err == nil {
		t.Error("bad DSN accepted")
	}
}

// PRAGMA wal_checkpoint answers SQLite's row of three integers, from the
// engine's log.
func TestWALCheckpointPragmaAnswersThreeColumns(t *testing.T) {
	db := openTestDB(t, "")
	mustExec(t, db, "CREATE TABLE t(x)")
	for range 5 {
		mustExec(t, db, "INSERT INTO t VALUES (randomblob(5000))")
	}
	var busy, log, done int64
	if err := db.QueryRow("PRAGMA wal_checkpoint(TRUNCATE)").Scan(&busy, &log, &done); err != nil {
		t.Fatal(err)
	}
	if busy != 0 || log != 0 || done != 0 {
		t.Fatalf("wal_checkpoint(TRUNCATE) = %d|%d|%d, want 0|0|0", busy, log, done)
	}
	mustExec(t, db, "INSERT INTO t VALUES (1)")
	if err := db.QueryRow("pragma main.wal_checkpoint").Scan(&busy, &log, &done); err != nil || log == 0 || done != log {
		t.Fatalf("wal_checkpoint = %d|%d|%d (%v)", busy, log, done, err)
	}
}
