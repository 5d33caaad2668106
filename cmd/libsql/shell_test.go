package main

import (
	"errors"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
)

// The shell reading a script: every mode, dot-commands, statements over
// several lines and several on a line, a trigger body, a transaction, and
// errors that do not stop it but make the exit status 1.
func TestShellScriptGolden(t *testing.T) {
	script, err := os.ReadFile(filepath.Join("testdata", "shell_script.sql"))
	if err != nil {
		t.Fatal(err)
	}
	db := filepath.Join(t.TempDir(), "shell.db")
	r := runTool(t, string(script), "shell", db)
	r.want(t, 1,
		"Error: near line 33: no such table: nowhere (SQLITE_ERROR)",
		"Error: near line 34: unknown command .frobnicate; .help lists the commands",
		`Error: near line 35: .mode: unknown mode "yaml": want table, csv or json`,
	)
	if n := strings.Count(r.stderr, "\n"); n != 3 {
		t.Errorf("want 3 error lines, got:\n%s", r.stderr)
	}
	golden(t, "shell_script.golden", r.stdout)
}

func TestShellSucceedsWithoutErrors(t *testing.T) {
	db := filepath.Join(t.TempDir(), "ok.db")
	r := runTool(t, "CREATE TABLE t(a, b);\nINSERT INTO t VALUES (1, 'x');\n.mode json\nSELECT * FROM t;\n.quit\nSELECT 'not reached';\n", "shell", db)
	r.want(t, 0)
	if r.stdout != "[{\"a\":1,\"b\":\"x\"}]\n" || r.stderr != "" {
		t.Errorf("stdout %q stderr %q", r.stdout, r.stderr)
	}
	// The data is there for the next session; --mode sets the first mode.
	r = runTool(t, "SELECT * FROM t;", "shell", "--mode", "csv", db)
	r.want(t, 0)
	if r.stdout != "a,b\n1,x\n" {
		t.Errorf("stdout %q", r.stdout)
	}
}

func TestShellTimerAndHelp(t *testing.T) {
	db := filepath.Join(t.TempDir(), "t.db")
	r := runTool(t, ".help\n.timer on\nSELECT 1 AS one;\n.timer off\nSELECT 2 AS two;\n.timer maybe\n", "shell", db)
	r.want(t, 1, "usage: .timer on|off")
	if !strings.Contains(r.stdout, ".mode [table|csv|json]") {
		t.Errorf(".help output lacks .mode:\n%s", r.stdout)
	}
	if n := strings.Count(r.stdout, "Run Time: real "); n != 1 {
		t.Errorf("%d timer lines, want 1:\n%s", n, r.stdout)
	}
}

func TestShellStatementAtEndOfInputWithoutSemicolon(t *testing.T) {
	db := filepath.Join(t.TempDir(), "t.db")
	r := runTool(t, ".mode csv\nSELECT 42 AS answer", "shell", db)
	r.want(t, 0)
	if r.stdout != "answer\n42\n" {
		t.Errorf("stdout %q", r.stdout)
	}
	r = runTool(t, "SELECT 'unterminated;\n", "shell", db)
	r.want(t, 1, "Error: near line 1: unrecognized token")
}

func TestShellInternalTablesHidden(t *testing.T) {
	db := newDB(t, "?cdc=on", "CREATE TABLE t(x)", "INSERT INTO t VALUES (1)")
	r := runTool(t, ".tables\n.schema\n.schema libsql_cdc\n", "shell", db)
	r.want(t, 0)
	want := "t\nCREATE TABLE t(x);\nCREATE TABLE libsql_cdc(lsn INTEGER PRIMARY KEY, time INTEGER NOT NULL, changes BLOB NOT NULL);\n"
	if r.stdout != want {
		t.Errorf("stdout:\n%s\nwant:\n%s", r.stdout, want)
	}
}

func TestSplitSQL(t *testing.T) {
	for _, tc := range []struct {
		in    string
		stmts []string
		rest  string
	}{
		{"SELECT 1;", []string{"SELECT 1;"}, ""},
		{"SELECT 1", nil, "SELECT 1"},
		{" SELECT 1; SELECT 2;\n", []string{"SELECT 1;", "SELECT 2;"}, "\n"},
		{"SELECT ';';", []string{"SELECT ';';"}, ""},
		{"SELECT 'it''s;';", []string{"SELECT 'it''s;';"}, ""},
		{`SELECT "a;b", [c;d], ` + "`e;f`;", []string{`SELECT "a;b", [c;d], ` + "`e;f`;"}, ""},
		{"SELECT 1 -- no; really\n;", []string{"SELECT 1 -- no; really\n;"}, ""},
		{"SELECT /* ; */ 1;", []string{"SELECT /* ; */ 1;"}, ""},
		{"SELECT /* open ;", nil, "SELECT /* open ;"},
		{"SELECT 'open ;", nil, "SELECT 'open ;"},
		{";;  ; -- nothing\n", nil, " -- nothing\n"},
		{"-- c\nSELECT 1;", []string{"SELECT 1;"}, ""},
		{"CREATE TRIGGER tr AFTER INSERT ON t BEGIN SELECT 1; SELECT 2; END; SELECT 3;",
			[]string{"CREATE TRIGGER tr AFTER INSERT ON t BEGIN SELECT 1; SELECT 2; END;", "SELECT 3;"}, ""},
		{"CREATE TEMP TRIGGER tr AFTER INSERT ON t BEGIN SELECT 1;", nil, "CREATE TEMP TRIGGER tr AFTER INSERT ON t BEGIN SELECT 1;"},
		{"create trigger tr after insert on t begin select 1; end;", []string{"create trigger tr after insert on t begin select 1; end;"}, ""},
		{"EXPLAIN CREATE TRIGGER tr AFTER INSERT ON t BEGIN SELECT 1; END;", []string{"EXPLAIN CREATE TRIGGER tr AFTER INSERT ON t BEGIN SELECT 1; END;"}, ""},
		{"CREATE TABLE trigger(end); SELECT 1;", []string{"CREATE TABLE trigger(end);", "SELECT 1;"}, ""},
		{"SELECT end FROM t;", []string{"SELECT end FROM t;"}, ""},
	} {
		stmts, rest := splitSQL(tc.in)
		var texts []string
		for _, s := range stmts {
			texts = append(texts, s.text)
			if tc.in[s.offset:s.offset+len(s.text)] != s.text {
				t.Errorf("%q: offset %d of %q is wrong", tc.in, s.offset, s.text)
			}
		}
		if !reflect.DeepEqual(texts, tc.stmts) || rest != tc.rest {
			t.Errorf("splitSQL(%q) = %q, %q; want %q, %q", tc.in, texts, rest, tc.stmts, tc.rest)
		}
	}
	for in, want := range map[string]bool{"": true, " \n": true, "-- x": true, "/* x */ ;": true, "SELECT": false, "'": false} {
		if got := blankSQL(in); got != want {
			t.Errorf("blankSQL(%q) = %v", in, got)
		}
	}
}

func TestFormatValues(t *testing.T) {
	for v, want := range map[float64]string{
		1: "1.0", -0.25: "-0.25", 1e20: "1.0e+20", 1e-7: "1.0e-07", 123456789: "123456789.0",
		1.5e-300: "1.5e-300", 0: "0.0",
	} {
		if got := formatReal(v); got != want {
			t.Errorf("formatReal(%v) = %q, want %q", v, got, want)
		}
	}
	if got := string(appendJSONString(nil, "a\"b\\c\n\x01\xff<>")); got != `"a\"b\\c\n\u0001`+"\ufffd"+`<>"` {
		t.Errorf("appendJSONString: %s", got)
	}
	if got := escapeControl("a\tb\nc\x7f"); got != `a\tb\nc\x7f` {
		t.Errorf("escapeControl: %s", got)
	}
}

// failingWriter fails every write, as standard output on a full disk does.
type failingWriter struct{}

func (failingWriter) Write([]byte) (int, error) { return 0, errors.New("no space left on device") }

// Output that cannot be written is reported once and makes the exit status
// 1; the statements still run.
func TestShellStdoutWriteErrorFails(t *testing.T) {
	db := filepath.Join(t.TempDir(), "w.db")
	var stderr strings.Builder
	code := run([]string{"shell", db}, strings.NewReader("SELECT 1;\nCREATE TABLE t(x);\nSELECT 2;\n"), failingWriter{}, &stderr)
	if code != exitFailure || strings.Count(stderr.String(), "libsql shell: write standard output: no space left on device\n") != 1 {
		t.Errorf("exit status %d, stderr %q", code, stderr.String())
	}
	r := runTool(t, ".tables\n", "shell", db)
	if r.stdout != "t\n" {
		t.Errorf("the statements after the write error did not run: .tables %q", r.stdout)
	}
}

// Every storage class in DATE and DATETIME columns is shown as stored
// (the shell steps such a query itself); such a query reads in a
// transaction, and its errors read as the driver's.
func TestShellTimeColumnsAsStored(t *testing.T) {
	db := newDB(t, "", "CREATE TABLE ev(at DATETIME, d DATE(10))",
		"INSERT INTO ev VALUES ('2024-01-02T03:04:05.100Z', ''), (5, 1.5), (x'00ff', NULL), ('not a date', '2024-01-02')")
	in := ".mode json\nSELECT * FROM ev;\n.mode csv\nBEGIN;\nSELECT at FROM ev WHERE rowid = 1;\nCOMMIT;\n" +
		"SELECT at, abs(-9223372036854775808) FROM ev;\n"
	r := runTool(t, in, "shell", db)
	r.want(t, 1, "Error: near line 7: integer overflow (SQLITE_ERROR)\n")
	want := `[{"at":"2024-01-02T03:04:05.100Z","d":""},` + "\n" + `{"at":5,"d":1.5},` + "\n" +
		`{"at":{"base64":"AP8="},"d":null},` + "\n" + `{"at":"not a date","d":"2024-01-02"}]` + "\n" +
		"at\n2024-01-02T03:04:05.100Z\n"
	if r.stdout != want {
		t.Errorf("stdout:\n%s\nwant:\n%s", r.stdout, want)
	}
}

// .schema takes SCHEMA.TABLE; .tables PATTERN matches the names of every
// database.
func TestShellSchemaOfAttachedTable(t *testing.T) {
	dir := t.TempDir()
	in := "ATTACH '" + filepath.Join(dir, "o.db") + "' AS \"my aux\";\nCREATE TABLE \"my aux\".r(y);\nCREATE INDEX \"my aux\".ri ON r(y);\n" +
		"CREATE TABLE r(z);\n.schema \"my aux.r\"\n.tables r\n"
	r := runTool(t, in, "shell", filepath.Join(dir, "m.db"))
	r.want(t, 0)
	want := "CREATE TABLE \"my aux\".r(y);\nCREATE INDEX \"my aux\".ri ON r(y);\nmy aux.r\nr\n"
	if r.stdout != want {
		t.Errorf("stdout %q, want %q", r.stdout, want)
	}
}

func TestSplitArgs(t *testing.T) {
	for in, want := range map[string][]string{
		".tables":               {".tables"},
		" .schema  t ":          {".schema", "t"},
		`.schema "my table"`:    {".schema", "my table"},
		`.schema 'it''s'`:       {".schema", "it", "s"},
		`.x "a\"b\\c\td" 'e\f'`: {".x", "a\"b\\c\td", `e\f`},
		`.x ""`:                 {".x", ""},
		".x\t'a b'c":            {".x", "a b", "c"},
	} {
		got, err := splitArgs(in)
		if err != nil || !reflect.DeepEqual(got, want) {
			t.Errorf("splitArgs(%q) = %q, %v; want %q", in, got, err, want)
		}
	}
	for _, in := range []string{`.schema "open`, `.tables 'open`} {
		if _, err := splitArgs(in); err == nil || !strings.Contains(err.Error(), "unterminated") {
			t.Errorf("splitArgs(%q): %v", in, err)
		}
	}
}

func TestTextWidth(t *testing.T) {
	for s, want := range map[string]int{
		"abc": 3, "é": 1, "e\u0301": 1, "日本語": 6, "\uff21": 2, "\U0001F600": 2, "a\u200bb": 2,
		"\uac00": 2, "\u3042": 2, "\U00020000": 2, "\u2500": 1, "\u00ad": 1,
	} {
		if got := textWidth(s); got != want {
			t.Errorf("textWidth(%q) = %d, want %d", s, got, want)
		}
	}
}

// csv mode quotes an empty string, an empty column name and a leading
// space; NULL stays an empty field.
func TestShellCSVQuotesEmptyAndSpace(t *testing.T) {
	r := runTool(t, ".mode csv\nSELECT '' AS \"\", ' a' AS b, NULL AS c;\n", "shell", filepath.Join(t.TempDir(), "c.db"))
	r.want(t, 0)
	if want := "\"\",b,c\n\"\",\" a\",\n"; r.stdout != want {
		t.Errorf("stdout %q, want %q", r.stdout, want)
	}
}
