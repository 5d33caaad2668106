package libsql

import (
	"context"
	"fmt"
	"strconv"
	"strings"
	"time"

	"github.com/golibsql/libsql/iouring_vfs"
)

// Defaults of the settings a DSN or an Option can change.
const (
	// DefaultBusyTimeout is how long a statement waits for a lock another
	// connection holds before it fails with ErrBusy, unless busy_timeout
	// says otherwise.
	DefaultBusyTimeout = 5 * time.Second
	// DefaultStatementCacheSize is how many prepared statements each
	// connection keeps for reuse, unless WithStatementCacheSize says
	// otherwise.
	DefaultStatementCacheSize = 64
)

// moderncTimeLayout is how modernc.org/sqlite stores a time.Time by
// default (time.Time.String without the monotonic clock reading, its
// _time_format=string_no_monotonic).
const moderncTimeLayout = "2006-01-02 15:04:05.999999999 -0700 MST"

// config is everything a DSN and options say about how to open and set up
// connections. It is built once per Connector and read-only afterwards.
type config struct {
	path   string // file path; the database name for a named in-memory database
	memory bool   // an in-memory database shared by the connector's connections
	mode   string // "ro", "rw", "rwc" or "memory"
	vfs    string // VFS to open files with; "" for SQLite's default
	cache  string // SQLite's cache parameter: "", "shared" or "private" (see resolve)

	sync        string // "full", "normal" or "off"
	io          string // "", "uring" or "portable"
	busyTimeout time.Duration
	cacheSize   optional[int64]
	foreignKeys optional[bool]
	txLock      string // "deferred", "immediate", "exclusive" or "concurrent"
	timeFormat  timeFormat
	pragmas     []pragma
	cdc         bool
	cdcOff      bool // cdc=off said outright: writing a database with stored changes leaves them out

	maxConns     optional[int]
	idleTimeout  optional[time.Duration]
	connLifetime optional[time.Duration]

	stmtCacheSize int
	pageCache     optional[int] // pages in the engine's shared cache

	cdcRetention time.Duration // durable CDC: prune transactions older than this (0: keep)
	cdcMax       int           // durable CDC: keep at most this many transactions (0: no limit)

	image        []byte                                     // WithImage: what a new in-memory database starts from
	funcs        []funcDef                                  // Go SQL functions and collations (WithFunction, ...)
	modules      []moduleDef                                // WithModule
	connectHooks []func(ctx context.Context, c *Conn) error // WithConnectHook
	authorizer   Authorizer                                 // WithAuthorizer
	trace        *traceConfig                               // WithTrace
	limits       []limitSetting                             // WithLimit
}

// libsqlVFS reports whether databases open through the libsql VFS, the
// storage engine (the default), rather than a VFS named with WithVFS.
func (c *config) libsqlVFS() bool { return c.vfs == "" || c.vfs == iouringvfs.Name }

// optional is a setting that may be left unset.
type optional[T any] struct {
	v   T
	set bool
}

func some[T any](v T) optional[T] { return optional[T]{v: v, set: true} }

// pragma is one _pragma=name(value) setting, run as PRAGMA name=value (or
// PRAGMA name when value is empty) on every new connection.
type pragma struct{ name, value string }

// String returns the PRAGMA statement.
func (p pragma) String() string {
	if p.value == "" {
		return "PRAGMA " + p.name
	}
	return "PRAGMA " + p.name + "=" + p.value
}

func defaultConfig() *config {
	return &config{
		mode:          "rwc",
		sync:          "full",
		busyTimeout:   DefaultBusyTimeout,
		txLock:        "deferred",
		timeFormat:    timeFormats["rfc3339nano"],
		stmtCacheSize: DefaultStatementCacheSize,
	}
}

// DSNError reports a DSN key or an Option with a bad value, or an unknown
// DSN key. Its message names the key and the value.
type DSNError struct {
	Key   string // the DSN key (or the key the Option mirrors, or the Option's name if it has none)
	Value string // the value as given
	// Err says what is wrong with the value; nil for an unknown key.
	Err error
}

// Error returns, for example,
// `libsql: DSN key "busy_timeout": invalid value "abc": not a duration (such as 5s or 250ms) or a number of milliseconds`,
// or, for an Option with no DSN key,
// `libsql: WithStatementCacheSize: invalid value "-1": must not be negative`.
// An unknown key that another driver uses is followed by what to write
// here: `libsql: unknown DSN key "_busy_timeout" (value "5000"): use busy_timeout=5000`.
func (e *DSNError) Error() string {
	if e.Err == nil {
		msg := fmt.Sprintf("libsql: unknown DSN key %q (value %q)", e.Key, e.Value)
		if hint, ok := otherDriverKeys[e.Key]; ok {
			msg += ": " + strings.ReplaceAll(hint, "{value}", e.Value)
		}
		return msg
	}
	if _, isKey := setters[e.Key]; !isKey {
		return fmt.Sprintf("libsql: %s: invalid value %q: %v", e.Key, e.Value, e.Err)
	}
	return fmt.Sprintf("libsql: DSN key %q: invalid value %q: %v", e.Key, e.Value, e.Err)
}

// Unwrap returns what is wrong with the value.
func (e *DSNError) Unwrap() error { return e.Err }

// otherDriverKeys says, for the DSN keys of other SQLite drivers (mattn's
// go-sqlite3, modernc.org/sqlite, ncruces' go-sqlite3) and SQLite's URI
// parameters that this driver does not take, what to write instead; the
// error of such a key ends with it. {value} stands for the value given.
var otherDriverKeys = map[string]string{
	"_busy_timeout":             "use busy_timeout={value}",
	"_timeout":                  "use busy_timeout={value}",
	"_foreign_keys":             "use foreign_keys={value}",
	"_fk":                       "use foreign_keys={value}",
	"_journal_mode":             "the log is always a WAL here (PRAGMA journal_mode reports wal): drop the key",
	"_journal":                  "the log is always a WAL here (PRAGMA journal_mode reports wal): drop the key",
	"_synchronous":              "use sync=full|normal|off",
	"_sync":                     "use sync=full|normal|off",
	"_cache_size":               "use cache_size={value}",
	"_auto_vacuum":              "use _pragma=auto_vacuum({value})",
	"_vacuum":                   "use _pragma=auto_vacuum({value})",
	"_query_only":               "use _pragma=query_only({value}), or mode=ro",
	"_recursive_triggers":       "use _pragma=recursive_triggers({value})",
	"_rt":                       "use _pragma=recursive_triggers({value})",
	"_case_sensitive_like":      "use _pragma=case_sensitive_like({value})",
	"_cslike":                   "use _pragma=case_sensitive_like({value})",
	"_defer_foreign_keys":       "use _pragma=defer_foreign_keys({value})",
	"_defer_fk":                 "use _pragma=defer_foreign_keys({value})",
	"_ignore_check_constraints": "use _pragma=ignore_check_constraints({value})",
	"_secure_delete":            "use _pragma=secure_delete({value})",
	"_writable_schema":          "use _pragma=writable_schema({value})",
	"_locking_mode":             "the engine always owns the file (locking_mode NORMAL only): drop the key",
	"_locking":                  "the engine always owns the file (locking_mode NORMAL only): drop the key",
	"_mutex":                    "a connection is used by one goroutine at a time, without a mutex: drop the key",
	"_loc":                      "times without a zone are read as UTC and times are stored with their zone: drop the key",
	"_stmt_cache_size":          "use libsql.WithStatementCacheSize",
	"vfs":                       "use the option libsql.WithVFS",
	"immutable":                 "the engine owns the file and no other process changes it; for a read-only database use mode=ro",
	"nolock":                    "the engine always locks the file; for a read-only database use mode=ro",
	"_timefmt":                  "use _time_format (rfc3339nano, sqlite, datetime, unix..., or a Go layout)",
	"_time_integer_format":      "use _time_format={value}",
	"_inttotime":                "use a unix _time_format (unix, unix_milli, ...): DATE, DATETIME and TIMESTAMP columns holding integers then read as time.Time",
	"_texttotime":               "DATE, DATETIME and TIMESTAMP columns holding text in a known layout always read as time.Time here: drop the key",
}

// setters holds, for every DSN key, the function that validates a value
// and stores it. DSN parsing and the Options go through it: one set of rules.
var setters = map[string]func(c *config, v string) error{
	"mode": func(c *config, v string) (err error) {
		c.mode, err = oneOf(v, "ro", "rw", "rwc", "memory")
		return err
	},
	"sync": func(c *config, v string) (err error) {
		c.sync, err = oneOf(v, "full", "normal", "off")
		return err
	},
	"io": func(c *config, v string) (err error) {
		c.io, err = oneOf(v, "uring", "portable")
		return err
	},
	"busy_timeout": func(c *config, v string) (err error) {
		c.busyTimeout, err = parseDuration(v)
		return err
	},
	"cache_size": func(c *config, v string) error {
		n, err := strconv.ParseInt(v, 10, 64)
		if err != nil {
			return fmt.Errorf("not an integer (pages, or -KiB as in PRAGMA cache_size)")
		}
		c.cacheSize = some(n)
		return nil
	},
	"foreign_keys": func(c *config, v string) error {
		b, err := parseBool(v)
		c.foreignKeys = some(b)
		return err
	},
	"_txlock": func(c *config, v string) (err error) {
		c.txLock, err = oneOf(v, "deferred", "immediate", "exclusive", "concurrent")
		return err
	},
	"_time_format": func(c *config, v string) (err error) {
		if strings.EqualFold(v, "string_no_monotonic") {
			return fmt.Errorf("modernc's string_no_monotonic is the Go layout %q here (in a DSN: %s)",
				moderncTimeLayout, strings.ReplaceAll(moderncTimeLayout, " ", "%20"))
		}
		c.timeFormat, err = parseTimeFormat(v)
		return err
	},
	"cache": func(c *config, v string) (err error) {
		c.cache, err = oneOf(v, "shared", "private")
		return err
	},
	"_pragma": func(c *config, v string) error {
		p, err := parsePragma(v)
		if err != nil {
			return err
		}
		if p.journalModeMemory() {
			// In SQL the engine accepts MEMORY and changes nothing; a
			// connection setting asks for it on purpose: say it does not
			// apply.
			return fmt.Errorf("journal_mode %s is not supported: databases always use the engine's write-ahead log (journal_mode=wal); drop it", p.value)
		}
		c.pragmas = append(c.pragmas, p)
		return nil
	},
	"cdc": func(c *config, v string) error {
		s, err := oneOf(v, "off", "on")
		c.cdc, c.cdcOff = s == "on", s == "off"
		return err
	},
	"page_cache": func(c *config, v string) error {
		n, err := strconv.Atoi(v)
		if err != nil || n < 0 {
			return fmt.Errorf("not a non-negative number of pages")
		}
		c.pageCache = some(n)
		return nil
	},
	"cdc_retention": func(c *config, v string) (err error) {
		c.cdcRetention, err = parseDuration(v)
		return err
	},
	"cdc_max": func(c *config, v string) error {
		n, err := strconv.Atoi(v)
		if err != nil || n < 0 {
			return fmt.Errorf("not a non-negative number of transactions")
		}
		c.cdcMax = n
		return nil
	},
	"max_conns": func(c *config, v string) error {
		n, err := strconv.Atoi(v)
		if err != nil || n < 0 {
			return fmt.Errorf("not a non-negative integer")
		}
		c.maxConns = some(n)
		return nil
	},
	"idle_timeout": func(c *config, v string) error {
		d, err := parseDuration(v)
		c.idleTimeout = some(d)
		return err
	},
	"conn_lifetime": func(c *config, v string) error {
		d, err := parseDuration(v)
		c.connLifetime = some(d)
		return err
	},
}

// set validates and stores the value of one key.
func (c *config) set(key, value string) error {
	f, ok := setters[key]
	if !ok {
		return &DSNError{Key: key, Value: value}
	}
	if err := f(c, value); err != nil {
		return &DSNError{Key: key, Value: value, Err: err}
	}
	return nil
}

// oneOf returns v, lower-cased, if it is one of the allowed values.
func oneOf(v string, allowed ...string) (string, error) {
	for _, a := range allowed {
		if strings.EqualFold(v, a) {
			return a, nil
		}
	}
	return "", fmt.Errorf("want one of %s", strings.Join(allowed, ", "))
}

// parseDuration reads a Go duration ("5s", "250ms") or a whole number of
// milliseconds ("5000"); negative values are refused.
func parseDuration(v string) (time.Duration, error) {
	var d time.Duration
	if n, err := strconv.ParseInt(v, 10, 64); err == nil {
		if n > int64(1<<63-1)/int64(time.Millisecond) {
			return 0, fmt.Errorf("too large")
		}
		d = time.Duration(n) * time.Millisecond
	} else if d, err = time.ParseDuration(v); err != nil {
		return 0, fmt.Errorf("not a duration (such as 5s or 250ms) or a number of milliseconds")
	}
	if d < 0 {
		return 0, fmt.Errorf("must not be negative")
	}
	return d, nil
}

// parseBool reads true/false, 1/0, on/off, yes/no.
func parseBool(v string) (bool, error) {
	switch strings.ToLower(v) {
	case "1", "true", "on", "yes":
		return true, nil
	case "0", "false", "off", "no":
		return false, nil
	}
	return false, fmt.Errorf("want true or false (1/0, on/off, yes/no)")
}

// parsePragma reads name(value) or a bare name. The name is an identifier,
// optionally schema-qualified; the value is a number, an identifier or a
// quoted string, with no characters that could end the statement.
func parsePragma(v string) (pragma, error) {
	if name, value, ok := strings.Cut(v, "="); ok && !strings.Contains(v, "(") && isPragmaName(name) {
		return pragma{}, fmt.Errorf("want name(value): write _pragma=%s(%s)", name, value)
	}
	name, value := v, ""
	if i := strings.IndexByte(v, '('); i >= 0 {
		if !strings.HasSuffix(v, ")") {
			return pragma{}, fmt.Errorf("want name(value)")
		}
		name, value = v[:i], v[i+1:len(v)-1]
		if value == "" {
			return pragma{}, fmt.Errorf("empty value in name(value)")
		}
	}
	if !isPragmaName(name) {
		return pragma{}, fmt.Errorf("pragma name %q is not an identifier", name)
	}
	if strings.ContainsAny(value, ";()") || strings.Contains(value, "--") || strings.Contains(value, "/*") {
		return pragma{}, fmt.Errorf("pragma value %q may not contain ; ( ) or comments", value)
	}
	return pragma{name: name, value: value}, nil
}

// journalModeMemory reports whether p sets journal_mode to MEMORY.
func (p pragma) journalModeMemory() bool {
	name := p.name
	if _, n, ok := strings.Cut(name, "."); ok {
		name = n
	}
	return strings.EqualFold(name, "journal_mode") && strings.EqualFold(strings.Trim(p.value, `'"`), "memory")
}

// isPragmaName reports whether s is an identifier or schema.identifier.
func isPragmaName(s string) bool {
	schema, name, qualified := strings.Cut(s, ".")
	if qualified {
		return isIdent(schema) && isIdent(name)
	}
	return isIdent(s)
}

func isIdent(s string) bool {
	if s == "" {
		return false
	}
	for i, r := range s {
		switch {
		case r == '_', r >= 'a' && r <= 'z', r >= 'A' && r <= 'Z':
		case i > 0 && r >= '0' && r <= '9':
		default:
			return false
		}
	}
	return true
}
