package libsql

import (
	"errors"
	"strings"
	"testing"
	"time"
)

func TestParseDSNAcceptsEveryKey(t *testing.T) {
	tests := []struct {
		dsn   string
		check func(*config) bool
	}{
		{"data.db", func(c *config) bool { return c.path == "data.db" && c.mode == "rwc" && !c.memory }},
		{"file:data.db", func(c *config) bool { return c.path == "data.db" }},
		{"file:///abs/data.db", func(c *config) bool { return c.path == "/abs/data.db" }},
		{"file://localhost/abs/data.db", func(c *config) bool { return c.path == "/abs/data.db" }},
		{"file:my%20data.db", func(c *config) bool { return c.path == "my data.db" }},
		{"file:///C:/dir/data.db", func(c *config) bool { return c.path == "C:/dir/data.db" }},
		{"file:data.db#fragment", func(c *config) bool { return c.path == "data.db" }},
		{"file:data.db?mode=ro#frag", func(c *config) bool { return c.mode == "ro" }},
		{":memory:", func(c *config) bool { return c.memory && c.path == "" }},
		{"file::memory:", func(c *config) bool { return c.memory && c.path == "" }},
		{"file:shared?mode=memory", func(c *config) bool { return c.memory && c.path == "shared" }},
		{"d.db?mode=ro", func(c *config) bool { return c.mode == "ro" }},
		{"d.db?mode=rw", func(c *config) bool { return c.mode == "rw" }},
		{"d.db?mode=rwc", func(c *config) bool { return c.mode == "rwc" }},
		{"d.db?mode=RO", func(c *config) bool { return c.mode == "ro" }},
		{"d.db?sync=full", func(c *config) bool { return c.sync == "full" }},
		{"d.db?sync=normal", func(c *config) bool { return c.sync == "normal" }},
		{"d.db?sync=off", func(c *config) bool { return c.sync == "off" }},
		{"d.db?io=uring", func(c *config) bool { return c.io == "uring" }},
		{"d.db?io=portable", func(c *config) bool { return c.io == "portable" }},
		{"d.db", func(c *config) bool { return c.busyTimeout == DefaultBusyTimeout }},
		{"d.db?busy_timeout=250ms", func(c *config) bool { return c.busyTimeout == 250*time.Millisecond }},
		{"d.db?busy_timeout=1500", func(c *config) bool { return c.busyTimeout == 1500*time.Millisecond }},
		{"d.db?busy_timeout=0", func(c *config) bool { return c.busyTimeout == 0 }},
		{"d.db?cache_size=-2000", func(c *config) bool { return c.cacheSize == some(int64(-2000)) }},
		{"d.db?cache_size=500", func(c *config) bool { return c.cacheSize == some(int64(500)) }},
		{"d.db?foreign_keys=true", func(c *config) bool { return c.foreignKeys == some(true) }},
		{"d.db?foreign_keys=0", func(c *config) bool { return c.foreignKeys == some(false) }},
		{"d.db?foreign_keys=on", func(c *config) bool { return c.foreignKeys == some(true) }},
		{"d.db", func(c *config) bool { return c.txLock == "deferred" }},
		{"d.db?_txlock=immediate", func(c *config) bool { return c.txLock == "immediate" }},
		{"d.db?_txlock=deferred", func(c *config) bool { return c.txLock == "deferred" }},
		{"d.db?_txlock=concurrent", func(c *config) bool { return c.txLock == "concurrent" }},
		{"d.db?_txlock=EXCLUSIVE", func(c *config) bool { return c.txLock == "exclusive" }},
		{"d.db?cache=shared", func(c *config) bool { return c.cache == "shared" && !c.memory }},
		{"d.db?cache=Private", func(c *config) bool { return c.cache == "private" && !c.memory }},
		{"file:m?mode=memory&cache=shared", func(c *config) bool { return c.memory && c.path == "m" && c.cache == "shared" }},
		{"file::memory:?cache=shared", func(c *config) bool { return c.memory && c.path == "" && c.cache == "shared" }},
		{"d.db", func(c *config) bool { return c.timeFormat.name == "rfc3339nano" }},
		{"d.db?_time_format=sqlite", func(c *config) bool { return c.timeFormat.name == "sqlite" }},
		{"d.db?_time_format=datetime", func(c *config) bool { return c.timeFormat.name == "datetime" }},
		{"d.db?_time_format=unix_milli", func(c *config) bool { return c.timeFormat.unit == time.Millisecond }},
		{"d.db?_time_format=2006-01-02", func(c *config) bool { return c.timeFormat.layout == "2006-01-02" }},
		{"d.db?_pragma=journal_mode(WAL)&_pragma=user_version(7)", func(c *config) bool {
			return len(c.pragmas) == 2 && c.pragmas[0].String() == "PRAGMA journal_mode=WAL" && c.pragmas[1].String() == "PRAGMA user_version=7"
		}},
		{"d.db?_pragma=optimize", func(c *config) bool { return c.pragmas[0].String() == "PRAGMA optimize" }},
		{"d.db?_pragma=main.cache_size(-1000)", func(c *config) bool { return c.pragmas[0].name == "main.cache_size" }},
		{"d.db?_pragma=encoding('UTF-8')", func(c *config) bool { return c.pragmas[0].value == "'UTF-8'" }},
		{"d.db?cdc=on", func(c *config) bool { return c.cdc }},
		{"d.db?cdc=off", func(c *config) bool { return !c.cdc }},
		{"d.db?max_conns=4", func(c *config) bool { return c.maxConns == some(4) }},
		{"d.db?idle_timeout=30s", func(c *config) bool { return c.idleTimeout == some(30*time.Second) }},
		{"d.db?conn_lifetime=1h", func(c *config) bool { return c.connLifetime == some(time.Hour) }},
		{"d.db?busy_timeout=1s&&sync=off", func(c *config) bool { return c.sync == "off" }},
		{"d.db?busy%5Ftimeout=2s", func(c *config) bool { return c.busyTimeout == 2*time.Second }},
	}
	for _, tt := range tests {
		c, err := parseDSN(tt.dsn)
		if err == nil {
			err = c.resolve()
		}
		if err != nil {
			t.Errorf("parseDSN(%q): %v", tt.dsn, err)
			continue
		}
		if !tt.check(c) {
			t.Errorf("parseDSN(%q) = %+v: check failed", tt.dsn, *c)
		}
	}
}

func TestParseDSNRejectsBadValuesNamingKeyAndValue(t *testing.T) {
	tests := []struct {
		dsn, key, value string
	}{
		{"d.db?mode=rx", "mode", "rx"},
		{"d.db?mode=", "mode", ""},
		{"d.db?sync=extra", "sync", "extra"},
		{"d.db?io=epoll", "io", "epoll"},
		{"d.db?busy_timeout=abc", "busy_timeout", "abc"},
		{"d.db?busy_timeout=-1s", "busy_timeout", "-1s"},
		{"d.db?busy_timeout=-5", "busy_timeout", "-5"},
		{"d.db?busy_timeout=99999999999999999", "busy_timeout", "99999999999999999"},
		{"d.db?cache_size=big", "cache_size", "big"},
		{"d.db?cache_size=1.5", "cache_size", "1.5"},
		{"d.db?foreign_keys=maybe", "foreign_keys", "maybe"},
		{"d.db?_txlock=eager", "_txlock", "eager"},
		{"d.db?cache=none", "cache", "none"},
		{"d.db?cache=shared&cache=shared", "cache", "shared"},
		{"d.db?_pragma=journal_mode(MEMORY)", "_pragma", "journal_mode(MEMORY)"},
		{"d.db?_pragma=main.journal_mode('memory')", "_pragma", "main.journal_mode('memory')"},
		{"d.db?_pragma=busy_timeout=5000", "_pragma", "busy_timeout=5000"},
		{"d.db?_time_format=string_no_monotonic", "_time_format", "string_no_monotonic"},
		{"d.db?_time_format=iso", "_time_format", "iso"},
		{"d.db?_pragma=", "_pragma", ""},
		{"d.db?_pragma=1bad", "_pragma", "1bad"},
		{"d.db?_pragma=user_version(1);DROP TABLE t", "_pragma", "user_version(1);DROP TABLE t"},
		{"d.db?_pragma=user_version(1", "_pragma", "user_version(1"},
		{"d.db?_pragma=user_version()", "_pragma", "user_version()"},
		{"d.db?_pragma=x(1--)", "_pragma", "x(1--)"},
		{"d.db?cdc=yes", "cdc", "yes"},
		{"d.db?max_conns=-1", "max_conns", "-1"},
		{"d.db?max_conns=many", "max_conns", "many"},
		{"d.db?idle_timeout=soon", "idle_timeout", "soon"},
		{"d.db?conn_lifetime=-1m", "conn_lifetime", "-1m"},
		{"d.db?sync=off&sync=full", "sync", "full"},
		{"d.db?busy_timeout=%zz", "busy_timeout", "%zz"},
	}
	for _, tt := range tests {
		_, err := parseDSN(tt.dsn)
		var de *DSNError
		if !errors.As(err, &de) {
			t.Errorf("parseDSN(%q) = %v, want a *DSNError", tt.dsn, err)
			continue
		}
		if de.Key != tt.key || de.Value != tt.value || de.Err == nil {
			t.Errorf("parseDSN(%q): key %q value %q err %v, want key %q value %q", tt.dsn, de.Key, de.Value, de.Err, tt.key, tt.value)
		}
		msg := err.Error()
		want := `libsql: DSN key "` + tt.key + `": invalid value "` + tt.value + `": `
		if !strings.HasPrefix(msg, want) {
			t.Errorf("parseDSN(%q) error %q, want prefix %q", tt.dsn, msg, want)
		}
	}
}

func TestParseDSNRejectsUnknownKey(t *testing.T) {
	for _, dsn := range []string{"d.db?foo=bar", "file::memory:?_busy_timeout=5000", "d.db?vfs=unix"} {
		_, err := parseDSN(dsn)
		var de *DSNError
		if !errors.As(err, &de) || de.Err != nil {
			t.Errorf("parseDSN(%q) = %v, want an unknown-key *DSNError", dsn, err)
			continue
		}
		if !strings.HasPrefix(err.Error(), "libsql: unknown DSN key \""+de.Key+"\" (value \""+de.Value+"\")") {
			t.Errorf("parseDSN(%q): message %q", dsn, err)
		}
	}
}

// An unknown key that another driver uses is refused all the same, and the
// error ends with what to write here.
func TestParseDSNUnknownKeyOfAnotherDriverSaysWhatToUse(t *testing.T) {
	tests := []struct{ dsn, msg string }{
		{"d.db?_busy_timeout=5000", `libsql: unknown DSN key "_busy_timeout" (value "5000"): use busy_timeout=5000`},
		{"d.db?_fk=1", `libsql: unknown DSN key "_fk" (value "1"): use foreign_keys=1`},
		{"d.db?_journal_mode=WAL", `libsql: unknown DSN key "_journal_mode" (value "WAL"): the log is always a WAL here (PRAGMA journal_mode reports wal): drop the key`},
		{"d.db?_synchronous=NORMAL", `libsql: unknown DSN key "_synchronous" (value "NORMAL"): use sync=full|normal|off`},
		{"d.db?_auto_vacuum=incremental", `libsql: unknown DSN key "_auto_vacuum" (value "incremental"): use _pragma=auto_vacuum(incremental)`},
		{"d.db?vfs=unix-none", `libsql: unknown DSN key "vfs" (value "unix-none"): use the option libsql.WithVFS`},
		{"d.db?_time_integer_format=unix_milli", `libsql: unknown DSN key "_time_integer_format" (value "unix_milli"): use _time_format=unix_milli`},
		{"d.db?foo=bar", `libsql: unknown DSN key "foo" (value "bar")`},
	}
	for _, tt := range tests {
		_, err := parseDSN(tt.dsn)
		var de *DSNError
		if !errors.As(err, &de) || de.Err != nil || err.Error() != tt.msg {
			t.Errorf("parseDSN(%q) = %v, want an unknown-key *DSNError %q", tt.dsn, err, tt.msg)
		}
	}
	for key := range otherDriverKeys {
		if _, ok := setters[key]; ok {
			t.Errorf("%q is a key of this driver and has a hint for another's", key)
		}
	}
	_, err := parseDSN("d.db?_pragma=busy_timeout=5000")
	if err == nil || !strings.HasSuffix(err.Error(), "write _pragma=busy_timeout(5000)") {
		t.Errorf("_pragma=busy_timeout=5000: %v, want it to show the name(value) form", err)
	}
}

// cache=private cannot be honoured for an in-memory database, which the
// connections of a *sql.DB share here: it is refused, saying so.
func TestParseDSNCachePrivateMemoryRefused(t *testing.T) {
	for _, dsn := range []string{":memory:?cache=private", "file::memory:?cache=PRIVATE", "file:m?mode=memory&cache=private"} {
		c, err := parseDSN(dsn)
		if err == nil {
			err = c.resolve()
		}
		var de *DSNError
		if !errors.As(err, &de) || de.Key != "cache" || !strings.Contains(err.Error(), "share its in-memory database") {
			t.Errorf("%s: %v, want a *DSNError for cache saying connections share the database", dsn, err)
		}
	}
}

func TestParseDSNRejectsBadPaths(t *testing.T) {
	for _, dsn := range []string{"", "?busy_timeout=1s", "file:", "file://host/x.db", "file:bad%zz.db"} {
		c, err := parseDSN(dsn)
		if err == nil {
			err = c.resolve()
		}
		if err == nil || !strings.HasPrefix(err.Error(), "libsql: ") {
			t.Errorf("parseDSN(%q) = %v, want a libsql: error", dsn, err)
		}
	}
}

func TestOptionsOverrideDSNAndAreValidated(t *testing.T) {
	c, err := NewConnector("d.db?sync=off&busy_timeout=1s",
		WithSync("normal"), WithBusyTimeout(3*time.Second), WithMaxConns(2),
		WithIdleTimeout(time.Minute), WithConnLifetime(time.Hour), WithCacheSize(-100),
		WithForeignKeys(true), WithTxLock("immediate"), WithTimeFormat("unix"),
		WithPragma("user_version", "3"), WithCDC(true), WithIO("portable"), WithMode("rw"),
		WithStatementCacheSize(8))
	if err != nil {
		t.Fatal(err)
	}
	cfg := c.cfg
	if cfg.sync != "normal" || cfg.busyTimeout != 3*time.Second || cfg.maxConns != some(2) ||
		cfg.idleTimeout != some(time.Minute) || cfg.connLifetime != some(time.Hour) ||
		cfg.cacheSize != some(int64(-100)) || cfg.foreignKeys != some(true) || cfg.txLock != "immediate" ||
		cfg.timeFormat.name != "unix" || len(cfg.pragmas) != 1 || !cfg.cdc || cfg.io != "portable" ||
		cfg.mode != "rw" || cfg.stmtCacheSize != 8 {
		t.Errorf("config after options: %+v", *cfg)
	}

	bad := []struct {
		opt Option
		key string
	}{
		{WithSync("sometimes"), "sync"},
		{WithBusyTimeout(-time.Second), "busy_timeout"},
		{WithMaxConns(-1), "max_conns"},
		{WithIdleTimeout(-1), "idle_timeout"},
		{WithConnLifetime(-1), "conn_lifetime"},
		{WithTxLock("eager"), "_txlock"},
		{WithTimeFormat("nope"), "_time_format"},
		{WithPragma("x;y", ""), "_pragma"},
		{WithIO("aio"), "io"},
		{WithMode("append"), "mode"},
		{WithStatementCacheSize(-1), "WithStatementCacheSize"},
		{WithCDCRetention(-time.Second), "cdc_retention"},
	}
	for _, b := range bad {
		_, err := NewConnector("d.db", b.opt)
		var de *DSNError
		if !errors.As(err, &de) || de.Key != b.key {
			t.Errorf("option for %q: err %v, want *DSNError for that key", b.key, err)
		}
		if _, isKey := setters[b.key]; !isKey && strings.Contains(err.Error(), "DSN key") {
			t.Errorf("option %s, which has no DSN key: %q names one", b.key, err)
		}
	}
}

func FuzzParseDSN(f *testing.F) {
	for _, s := range []string{
		"data.db", "file:data.db?mode=ro&busy_timeout=5s", ":memory:", "file:x?mode=memory",
		"d?_pragma=journal_mode(WAL)&_pragma=foreign_keys(1)", "file:///a%20b?sync=off#f",
		"d?busy_timeout=100&cache_size=-20&foreign_keys=yes&_txlock=immediate&_time_format=unix",
		"d?max_conns=3&idle_timeout=1m&conn_lifetime=2h&io=uring&cdc=on",
	} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, dsn string) {
		c, err := parseDSN(dsn)
		if err != nil {
			if !strings.HasPrefix(err.Error(), "libsql: ") {
				t.Fatalf("error without prefix: %v", err)
			}
			return
		}
		if err := c.resolve(); err != nil {
			if !strings.HasPrefix(err.Error(), "libsql: ") {
				t.Fatalf("error without prefix: %v", err)
			}
			return
		}
		if !c.memory && c.path == "" {
			t.Fatalf("accepted %q without a path", dsn)
		}
		if c.busyTimeout < 0 {
			t.Fatalf("negative busy timeout from %q", dsn)
		}
		for _, p := range c.pragmas {
			if strings.ContainsAny(p.String(), ";") {
				t.Fatalf("pragma %q from %q could end the statement", p, dsn)
			}
		}
		for key, v := range map[string]string{"mode": c.mode, "sync": c.sync, "_txlock": c.txLock} {
			if err := setters[key](defaultConfig(), v); err != nil {
				t.Fatalf("%s %q accepted from %q but invalid: %v", key, v, dsn, err)
			}
		}
	})
}

// WithCDCRetention keeps the duration it is given, below a millisecond too
// (it used to pass whole milliseconds, so 500µs meant "keep everything").
func TestWithCDCRetentionKeepsTheDuration(t *testing.T) {
	for _, d := range []time.Duration{500 * time.Microsecond, 1500 * time.Microsecond, 36 * time.Hour} {
		c, err := NewConnector("d.db", WithCDCRetention(d))
		if err != nil {
			t.Fatal(err)
		}
		if c.cfg.cdcRetention != d {
			t.Errorf("WithCDCRetention(%v): retention %v", d, c.cfg.cdcRetention)
		}
	}
}
