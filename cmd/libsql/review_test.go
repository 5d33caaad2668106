package main

import (
	"encoding/csv"
	"encoding/json"
	"os"
	"path/filepath"
	"reflect"
	"regexp"
	"strings"
	"testing"
	"time"
	"unicode"
)

// ---------------------------------------------------------------------------
// Fixed findings: each test failed before the fix its comment names.
// ---------------------------------------------------------------------------

// A bad ".mode" is reported, but must leave the current mode alone (the
// sqlite3 shell keeps the mode it had). Fixed: shell.go dotCommand sets
// the mode only when parseMode knows it.
func TestCLIReviewBadModeKeepsCurrentMode(t *testing.T) {
	db := filepath.Join(t.TempDir(), "m.db")
	r := runTool(t, ".mode csv\n.mode bogus\nSELECT 1 AS a;\n", "shell", db)
	r.want(t, 1, `unknown mode "bogus"`)
	if r.stdout != "a\n1\n" {
		t.Errorf("after a bad .mode the csv mode was lost: stdout %q, want %q", r.stdout, "a\n1\n")
	}
}

// The shell must show what is stored: the text of a DATETIME column is
// text ("text as strings", as libsql tail prints it), not a reformatted
// time. Fixed: shell.go queryStored steps such a query itself through
// capi and prints values by storage class.
func TestCLIReviewDatetimeTextShownAsStored(t *testing.T) {
	db := newDB(t, "", "CREATE TABLE ev(at DATETIME, day DATE)",
		"INSERT INTO ev VALUES ('2024-01-02 03:04:05', '2024-01-02')")
	r := runTool(t, ".mode csv\nSELECT at, day FROM ev;\n.mode json\nSELECT at, day FROM ev;\n", "shell", db)
	r.want(t, 0)
	want := "at,day\n2024-01-02 03:04:05,2024-01-02\n" +
		`[{"at":"2024-01-02 03:04:05","day":"2024-01-02"}]` + "\n"
	if r.stdout != want {
		t.Errorf("stdout:\n%s\nwant:\n%s", r.stdout, want)
	}
}

// In csv mode an empty string and NULL must differ (sqlite3 writes "" for
// an empty string, nothing for NULL); a one-column row holding an empty string must
// not vanish when the CSV is read back. Fixed: format.go appendCSVField
// quotes an empty string ("").
func TestCLIReviewCSVEmptyStringIsNotNull(t *testing.T) {
	db := filepath.Join(t.TempDir(), "c.db")
	r := runTool(t, ".mode csv\nSELECT '' AS e, NULL AS n;\nSELECT 'x' AS v UNION ALL SELECT '' UNION ALL SELECT 'y';\n", "shell", db)
	r.want(t, 0)
	lines := strings.SplitN(r.stdout, "\n", 3)
	if len(lines) < 2 || lines[1] != `"",` {
		t.Errorf("row ('', NULL) written as %q, want %q (stdout %q)", lines[1], `"",`, r.stdout)
	}
	second := strings.SplitAfterN(r.stdout, "\n", 3)[2]
	recs, err := csv.NewReader(strings.NewReader(second)).ReadAll()
	if err != nil {
		t.Fatal(err)
	}
	if len(recs) != 4 {
		t.Errorf("csv output %q reads back as %d records %q, want 4 (header, x, '', y)", second, len(recs), recs)
	}
}

// displayWidth estimates the terminal columns of s: 0 for combining marks,
// 2 for East Asian wide characters and emoji, 1 otherwise (as sqlite3's
// cli_wcwidth does).
func displayWidth(s string) int {
	n := 0
	for _, r := range s {
		switch {
		case unicode.In(r, unicode.Mn, unicode.Me):
		case r >= 0x1100 && r <= 0x115f, r >= 0x2e80 && r <= 0xa4cf, r >= 0xac00 && r <= 0xd7a3,
			r >= 0xf900 && r <= 0xfaff, r >= 0xfe30 && r <= 0xfe4f, r >= 0xff00 && r <= 0xff60,
			r >= 0xffe0 && r <= 0xffe6, r >= 0x1f300 && r <= 0x1f64f, r >= 0x1f900 && r <= 0x1f9ff,
			r >= 0x20000 && r <= 0x3fffd:
			n += 2
		default:
			n++
		}
	}
	return n
}

// Table mode must align columns by display width, as the sqlite3 shell
// does: wide (CJK) characters take two columns, combining marks none.
// Fixed: format.go tableRenderer sizes cells with width.go textWidth.
func TestCLIReviewTableAlignsWideText(t *testing.T) {
	db := filepath.Join(t.TempDir(), "w.db")
	r := runTool(t, "SELECT '日本語' AS name, 1 AS n UNION ALL SELECT 'Cafe\u0301', 2 UNION ALL SELECT 'abcdefgh', 3;\n", "shell", db)
	r.want(t, 0)
	lines := strings.Split(strings.TrimSuffix(r.stdout, "\n"), "\n")
	for _, l := range lines {
		if displayWidth(l) != displayWidth(lines[0]) {
			t.Errorf("table lines differ in display width:\n%s", r.stdout)
			break
		}
	}
}

// .tables and .schema must show the tables of every database of the
// connection, as the sqlite3 shell does ("aux.t", "temp.t"), not only
// main's. Fixed: shell.go tables and schema read the sqlite_schema of
// every database of pragma_database_list.
func TestCLIReviewTablesOfAttachedAndTempDatabases(t *testing.T) {
	dir := t.TempDir()
	db := filepath.Join(dir, "main.db")
	other := filepath.Join(dir, "other.db")
	in := "ATTACH '" + other + "' AS aux;\nCREATE TABLE aux.remote(y);\nCREATE TEMP TABLE scratch(x);\n.tables\n.schema\n"
	r := runTool(t, in, "shell", db)
	r.want(t, 0)
	for _, name := range []string{"remote", "scratch"} {
		if !regexp.MustCompile(`(?m)^(\w+\.)?` + name + `$`).MatchString(r.stdout) {
			t.Errorf(".tables does not list %s:\n%s", name, r.stdout)
		}
		if !strings.Contains(r.stdout, name+"(") {
			t.Errorf(".schema does not show %s:\n%s", name, r.stdout)
		}
	}
}

// A dot-command argument may be quoted, as in the sqlite3 shell:
// .schema "my table" shows that table. Fixed: shell.go splitArgs.
func TestCLIReviewDotCommandQuotedArgument(t *testing.T) {
	db := newDB(t, "", `CREATE TABLE "my table"(x)`)
	r := runTool(t, ".schema \"my table\"\n.tables 'my table'\n", "shell", db)
	r.want(t, 0)
	want := "CREATE TABLE \"my table\"(x);\nmy table\n"
	if r.stdout != want {
		t.Errorf("stdout %q, want %q", r.stdout, want)
	}
}

// check opens a database "which must exist": given as a file: DSN, a
// missing database must be reported, not created (nor by tail). Fixed:
// tail.go modeFor opens a DSN without a mode key with mode=rw.
func TestCLIReviewCheckDSNDoesNotCreateMissingFile(t *testing.T) {
	dir := t.TempDir()
	missing := filepath.Join(dir, "missing.db")
	r := runTool(t, "", "check", "file:"+missing)
	if r.code == 0 {
		t.Errorf("check file:%s of a missing database: exit 0, stdout:\n%s", missing, r.stdout)
	}
	if _, err := os.Stat(missing); err == nil {
		t.Errorf("check created %s", missing)
	}
	missing2 := filepath.Join(dir, "missing2.db")
	runTool(t, "", "tail", "file:"+missing2, "--follow=false")
	if _, err := os.Stat(missing2); err == nil {
		t.Errorf("tail created %s", missing2)
	}
}

// --since LSN prints the transactions committed after LSN; 0 is a number,
// before every LSN: it must print the history (or be refused), not be
// taken silently as "now". Fixed: runTail reads --since 0 as oldest.
func TestCLIReviewTailSinceZero(t *testing.T) {
	db := newDB(t, "?cdc=on", "CREATE TABLE t(x)", "INSERT INTO t VALUES (1)")
	r := runTool(t, "", "tail", db, "--since", "0", "--follow=false")
	if r.code == 0 && r.stdout == "" {
		t.Errorf("--since 0 --follow=false printed nothing and exited 0 (stderr %q); --since oldest prints the insert", r.stderr)
	}
}

// "//dir/x.db" is a valid POSIX path (the same file as "/dir/x.db"); the
// shell must open it, not read "dir" as a URI authority. Fixed: db.go
// parseTarget makes leading slashes one.
func TestCLIReviewPathStartingWithDoubleSlash(t *testing.T) {
	dir := t.TempDir()
	if !filepath.IsAbs(dir) {
		t.Skip("needs an absolute temporary directory")
	}
	p := "/" + filepath.Join(dir, "x.db")
	r := runTool(t, "CREATE TABLE t(x);\n", "shell", p)
	r.want(t, 0)
	if _, err := os.Stat(filepath.Join(dir, "x.db")); err != nil {
		t.Errorf("%s not created: %v", p, err)
	}
}

// A --duration the demo cannot add its grace periods to must be a usage
// error, not a false "a transaction is stuck" failure leaving the database
// behind. Fixed: demo and bench refuse a --duration above
// maxRunDuration.
func TestCLIReviewDemoHugeDuration(t *testing.T) {
	r := runTool(t, "", "demo", "--duration", "2562047h47m", "--writers", "1", "--accounts", "2")
	if m := regexp.MustCompile(`database kept at (\S+)`).FindStringSubmatch(r.stdout); m != nil {
		os.RemoveAll(filepath.Dir(m[1]))
	}
	if m := regexp.MustCompile(`goroutines written to (\S+)\)`).FindStringSubmatch(r.stderr); m != nil {
		os.RemoveAll(filepath.Dir(m[1]))
	}
	r.want(t, 2, "--duration")
	if strings.Contains(r.stderr, "stuck") {
		t.Errorf("stderr: %s", r.stderr)
	}
}

// A UTF-8 byte order mark (as Windows editors write) before a first-line
// dot-command: the SQL after a BOM runs, so must the dot-command. Fixed:
// shell.go loop drops a BOM from the first line.
func TestCLIReviewBOMBeforeDotCommand(t *testing.T) {
	db := filepath.Join(t.TempDir(), "b.db")
	r := runTool(t, "\ufeff.mode csv\nSELECT 1 AS a;\n", "shell", db)
	r.want(t, 0)
	if r.stdout != "a\n1\n" {
		t.Errorf("stdout %q, stderr %q", r.stdout, r.stderr)
	}
}

// A bad DSN is reported like the other open errors: naming the argument,
// without the driver's "libsql: " prefix doubled after the command's.
// Fixed: db.go target.open explains libsql.Open's error, and failOpen
// makes a *libsql.DSNError a usage error. (This test wanted exit status
// 1; a bad DSN is a bad value of the DB argument, which the tool's rule,
// "2 for a usage error (... bad value)", makes 2.)
func TestCLIReviewBadDSNMessage(t *testing.T) {
	db := newDB(t, "", "CREATE TABLE t(x)")
	dsn := "file:" + db + "?bogus=1"
	r := runTool(t, "", "check", dsn)
	r.want(t, 2, "libsql check: "+dsn+": unknown DSN key")
	if strings.Contains(r.stderr, "libsql: libsql:") {
		t.Errorf("stderr %q", r.stderr)
	}
}

// ---------------------------------------------------------------------------
// Behaviour that holds (kept as regression tests).
// ---------------------------------------------------------------------------

// Statement splitting: trigger bodies with CASE ... END, quotes of every
// kind, comments, empty statements, CRLF line ends, a multi-statement
// line and a last statement without ';' after a trailing comment.
func TestCLIReviewShellSplitting(t *testing.T) {
	db := filepath.Join(t.TempDir(), "s.db")
	script := "CREATE TABLE t(x, `b;c`, [d;e]);\r\n" +
		"CREATE TABLE log(v);\r\n" +
		";;\r\n" +
		"CREATE TRIGGER tr AFTER INSERT ON t BEGIN\r\n" +
		"  INSERT INTO log VALUES (CASE WHEN new.x > 1 THEN 'big;' ELSE 'small' END);\r\n" +
		"  INSERT INTO log VALUES ('two'); END;\r\n" +
		"INSERT INTO t VALUES (2, 'a', 'b'); /* ; */ INSERT INTO t VALUES (1, \"no;\", 'c'); -- ;\r\n" +
		".mode csv\r\n" +
		"SELECT group_concat(v, '|') AS v FROM log\r\n" +
		"-- the end; of input\r\n"
	r := runTool(t, script, "shell", db)
	r.want(t, 0)
	if r.stderr != "" || r.stdout != "v\nbig;|two|small|two\n" {
		t.Errorf("stdout %q, stderr %q", r.stdout, r.stderr)
	}
}

// Errors do not stop a script; each goes to stderr with the line its
// statement starts on; the exit status is 1.
func TestCLIReviewShellErrorsMidScript(t *testing.T) {
	db := filepath.Join(t.TempDir(), "e.db")
	script := ".mode csv\nSELECT 1 AS a; SELECT nosuch; SELECT 3 AS c;\n/* a\nb */ SELECT\n  nosuch2;\n.nope\nSELECT 4 AS d;\n" +
		"SELECT\n5 AS e; SELECT\nnosuch3;\n"
	r := runTool(t, script, "shell", db)
	r.want(t, 1, "Error: near line 2: no such column: nosuch", "Error: near line 4: no such column: nosuch2",
		"Error: near line 6: unknown command .nope", "Error: near line 9: no such column: nosuch3")
	if r.stdout != "a\n1\nc\n3\nd\n4\ne\n5\n" {
		t.Errorf("stdout %q", r.stdout)
	}
}

// csv mode quotes per RFC 4180: commas, quotes, line breaks; NULL is an
// empty field, a blob x'hex'; reading it back gives the values.
func TestCLIReviewCSVQuoting(t *testing.T) {
	db := filepath.Join(t.TempDir(), "q.db")
	r := runTool(t, ".mode csv\nSELECT 'a,b' AS \"c,1\", 'say \"hi\"' AS q, 'l1\nl2' AS l, x'00ff' AS b, NULL AS n, 1.5 AS f;\n", "shell", db)
	r.want(t, 0)
	recs, err := csv.NewReader(strings.NewReader(r.stdout)).ReadAll()
	if err != nil {
		t.Fatalf("%q: %v", r.stdout, err)
	}
	want := [][]string{{"c,1", "q", "l", "b", "n", "f"}, {"a,b", `say "hi"`, "l1\nl2", "x'00ff'", "", "1.5"}}
	if !reflect.DeepEqual(recs, want) {
		t.Errorf("got %q, want %q", recs, want)
	}
}

// json mode is valid JSON for every storage class and edge value.
func TestCLIReviewJSONValues(t *testing.T) {
	db := filepath.Join(t.TempDir(), "j.db")
	r := runTool(t, ".mode json\nSELECT 9223372036854775807 AS big, 1e308*10 AS inf, -1e308*10 AS ninf, CAST(x'ff41' AS TEXT) AS bad, x'00ff' AS b, NULL AS n, 0.5 AS f, 'q\"\\' AS s;\n", "shell", db)
	r.want(t, 0)
	d := json.NewDecoder(strings.NewReader(r.stdout))
	d.UseNumber()
	var got []map[string]any
	if err := d.Decode(&got); err != nil {
		t.Fatalf("not JSON: %q: %v", r.stdout, err)
	}
	want := []map[string]any{{
		"big": json.Number("9223372036854775807"), "inf": "+Inf", "ninf": "-Inf", "bad": "\ufffdA",
		"b": map[string]any{"base64": "AP8="}, "n": nil, "f": json.Number("0.5"), "s": `q"\`,
	}}
	if !reflect.DeepEqual(got, want) {
		t.Errorf("got %#v\nwant %#v", got, want)
	}
}

// check on a file that is not a database fails, naming it; nothing is
// created for a missing path.
func TestCLIReviewCheckNotADatabase(t *testing.T) {
	junk := filepath.Join(t.TempDir(), "junk.db")
	if err := os.WriteFile(junk, []byte(strings.Repeat("not a database. ", 16)), 0o644); err != nil {
		t.Fatal(err)
	}
	r := runTool(t, "", "check", junk)
	r.want(t, 1, "libsql check: "+junk+": file is not a database")
	if r.stdout != "" {
		t.Errorf("stdout %q", r.stdout)
	}
}

// tail --follow=false ends promptly even when no change passes the
// filters.
func TestCLIReviewTailFollowFalseEndsWhenAllFiltered(t *testing.T) {
	db := newDB(t, "?cdc=on", "CREATE TABLE t(x)", "INSERT INTO t VALUES (1)", "UPDATE t SET x = 2")
	start := time.Now()
	r := runTool(t, "", "tail", db, "--since", "oldest", "--follow=false", "--table", "nosuch")
	r.want(t, 0)
	if r.stdout != "" || time.Since(start) > 2*time.Second {
		t.Errorf("stdout %q after %v", r.stdout, time.Since(start))
	}
	r = runTool(t, "", "tail", db, "--since", "oldest", "--follow=false", "--op", "UPDATE")
	r.want(t, 0)
	if n := strings.Count(r.stdout, "\n"); n != 1 || !strings.Contains(r.stdout, `"op":"update"`) {
		t.Errorf("--op UPDATE: %q", r.stdout)
	}
}

// Bad flag values are usage errors naming the value.
func TestCLIReviewBadFlagValues(t *testing.T) {
	db := newDB(t, "", "CREATE TABLE t(x)")
	for _, tc := range []struct {
		args []string
		msg  string
	}{
		{[]string{"tail", db, "--follow=false", "--since", ""}, `--since ""`},
		{[]string{"tail", db, "--follow=false", "--since", "1.5"}, `--since "1.5"`},
		{[]string{"tail", db, "--follow=false", "--op", ""}, `--op ""`},
		{[]string{"check", db, "--checkpoint", "all"}, `--checkpoint "all"`},
		{[]string{"demo", "--accounts", "1", "--writers", "1", "--duration", "10ms"}, "--accounts 1: want at least 2"},
		{[]string{"demo", "--seed", "-1"}, `invalid value "-1" for flag -seed`},
		{[]string{"shell", db, "--nope"}, "flag provided but not defined: -nope"},
	} {
		r := runTool(t, "", tc.args...)
		r.want(t, 2, tc.msg)
	}
}
