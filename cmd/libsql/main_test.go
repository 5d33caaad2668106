package main

import (
	"bufio"
	"bytes"
	"context"
	"database/sql"
	"flag"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/golibsql/libsql"
)

// update rewrites the golden files: go test ./cmd/libsql -update
var update = flag.Bool("update", false, "rewrite the golden files in testdata")

// holdEnv names the database a child copy of the test binary opens and
// holds until its standard input closes (see TestMain).
const holdEnv = "LIBSQL_CLI_TEST_HOLD"

func TestMain(m *testing.M) {
	if path := os.Getenv(holdEnv); path != "" {
		os.Exit(holdDatabase(path))
	}
	os.Exit(m.Run())
}

// holdDatabase opens path, says READY and keeps it open until stdin ends.
func holdDatabase(path string) int {
	db, err := sql.Open("libsql", "file:"+path)
	if err == nil {
		_, err = db.Exec("CREATE TABLE IF NOT EXISTS held(x)")
	}
	if err != nil {
		fmt.Println("ERROR", err)
		return 1
	}
	fmt.Println("READY")
	io.Copy(io.Discard, os.Stdin)
	db.Close()
	return 0
}

// result is what one run of the tool did.
type result struct {
	code           int
	stdout, stderr string
}

// runTool runs the tool's command line args with stdin as input.
func runTool(t *testing.T, stdin string, args ...string) result {
	t.Helper()
	var out, errOut bytes.Buffer
	code := run(args, strings.NewReader(stdin), &out, &errOut)
	return result{code, out.String(), errOut.String()}
}

// want fails the test unless r exited with code and its stderr holds
// every one of msgs.
func (r result) want(t *testing.T, code int, msgs ...string) {
	t.Helper()
	if r.code != code {
		t.Errorf("exit status %d, want %d\nstdout:\n%s\nstderr:\n%s", r.code, code, r.stdout, r.stderr)
	}
	for _, m := range msgs {
		if !strings.Contains(r.stderr, m) {
			t.Errorf("stderr lacks %q:\n%s", m, r.stderr)
		}
	}
}

// syncBuffer is a bytes.Buffer safe for one writer and concurrent readers.
type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}

// newDB creates a database file in a temporary directory, runs setup on
// it (in this process, through the driver) and closes it.
func newDB(t *testing.T, dsnSuffix string, setup ...string) string {
	t.Helper()
	path := filepath.Join(t.TempDir(), "test.db")
	db, err := libsql.Open("file:" + path + dsnSuffix)
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	for _, s := range setup {
		if _, err := db.Exec(s); err != nil {
			t.Fatalf("%s: %v", s, err)
		}
	}
	if _, err := db.Exec("SELECT 1"); err != nil {
		t.Fatal(err)
	}
	return path
}

// golden compares got with testdata/name, or rewrites it with -update.
func golden(t *testing.T, name, got string) {
	t.Helper()
	path := filepath.Join("testdata", name)
	if *update {
		if err := os.WriteFile(path, []byte(got), 0o644); err != nil {
			t.Fatal(err)
		}
		return
	}
	want, err := os.ReadFile(path)
	if err != nil {
		t.Fatalf("%v (run go test -update to create it)", err)
	}
	if got != string(want) {
		t.Errorf("output differs from %s (go test -update rewrites it)\n--- got:\n%s\n--- want:\n%s", path, got, want)
	}
}

func TestUsageListsEveryCommand(t *testing.T) {
	for _, args := range [][]string{{"help"}, {"--help"}, {"-h"}} {
		r := runTool(t, "", args...)
		r.want(t, 0)
		for _, c := range commands {
			if !strings.Contains(r.stdout, "  "+c.name+" ") {
				t.Errorf("%v: usage lacks %s:\n%s", args, c.name, r.stdout)
			}
		}
	}
	r := runTool(t, "")
	r.want(t, 2, "no command given", "usage: libsql <command>")
}

func TestUnknownCommandIsAUsageError(t *testing.T) {
	runTool(t, "", "nope").want(t, 2, `unknown command "nope"`, "usage: libsql <command>")
	runTool(t, "", "help", "nope").want(t, 2, `unknown command "nope"`)
}

func TestHelpOfEveryCommand(t *testing.T) {
	for _, c := range commands {
		for _, args := range [][]string{{c.name, "--help"}, {c.name, "-h"}, {"help", c.name}} {
			r := runTool(t, "", args...)
			r.want(t, 0)
			if !strings.HasPrefix(r.stdout, "usage: libsql "+c.name+" ") || r.stderr != "" {
				t.Errorf("%v: stdout %q, stderr %q", args, r.stdout, r.stderr)
			}
		}
	}
	// The flags are listed.
	for cmd, flags := range map[string][]string{
		"demo":  {"--writers int", "--duration duration", "--keep"},
		"shell": {"--mode MODE"},
		"tail":  {"--since LSN", "--table T", "--op OP", "--follow"},
		"check": {"--checkpoint MODE"},
		"bench": {"--duration duration", "--rows int", "--writers int", "--keep"},
	} {
		r := runTool(t, "", cmd, "--help")
		for _, f := range flags {
			if !strings.Contains(r.stdout, "  "+f) {
				t.Errorf("%s --help lacks %s:\n%s", cmd, f, r.stdout)
			}
		}
	}
}

func TestBadArgumentsAreUsageErrors(t *testing.T) {
	db := newDB(t, "", "CREATE TABLE t(x)")
	for _, tc := range []struct {
		args []string
		msg  string
	}{
		{[]string{"demo", "--bogus"}, "flag provided but not defined: -bogus"},
		{[]string{"demo", "extra"}, `unexpected argument "extra"`},
		{[]string{"demo", "--writers", "0"}, "--writers 0: want 1 to 256"},
		{[]string{"demo", "--duration", "-1s"}, "--duration -1s: want a positive duration"},
		{[]string{"demo", "--duration", "soon"}, `invalid value "soon" for flag -duration`},
		{[]string{"demo", "--sync", "maybe"}, `--sync "maybe": want full, normal or off`},
		{[]string{"shell"}, "missing DB argument"},
		{[]string{"shell", db, "--mode", "xml"}, `--mode "xml": want table, csv or json`},
		{[]string{"shell", db, db}, "unexpected argument"},
		{[]string{"tail"}, "missing DB argument"},
		{[]string{"tail", db, "--since", "yesterday"}, `--since "yesterday": want an LSN (a decimal number), oldest or now`},
		{[]string{"tail", db, "--since", "-5"}, `--since "-5"`},
		{[]string{"tail", db, "--op", "upsert"}, `--op "upsert": want insert, update or delete`},
		{[]string{"tail", "--follow=maybe", db}, `invalid boolean value "maybe" for -follow`},
		{[]string{"check"}, "missing DB argument"},
		{[]string{"check", db, "--checkpoint", "now"}, `--checkpoint "now": want passive, full, restart or truncate`},
		{[]string{"check", "--nope", db}, "flag provided but not defined: -nope"},
		{[]string{"bench", "--rows", "0"}, "--rows 0: want at least 1"},
		{[]string{"bench", "--writers", "1000"}, "--writers 1000: want 1 to 256"},
		{[]string{"bench", "--duration", "2562047h47m"}, "--duration 2562047h47m0s: too long"},
		{[]string{"demo", "--sync", "Maybe"}, `--sync "Maybe": want full, normal or off`},
	} {
		r := runTool(t, "", tc.args...)
		r.want(t, 2, tc.msg, "usage: libsql "+tc.args[0], "--help")
		if r.stdout != "" {
			t.Errorf("%v: stdout %q", tc.args, r.stdout)
		}
	}
}

func TestMissingDatabaseFails(t *testing.T) {
	missing := filepath.Join(t.TempDir(), "missing.db")
	runTool(t, "", "check", missing).want(t, 1, "libsql check: "+missing+": no such database file")
	runTool(t, "", "tail", missing, "--follow=false").want(t, 1, "libsql tail: "+missing+": no such database file")
	if _, err := os.Stat(missing); err == nil {
		t.Error("check or tail created the missing database")
	}
	runTool(t, "", "check", t.TempDir()).want(t, 1, "is a directory")
}

func TestFlagsMayFollowTheDatabase(t *testing.T) {
	db := newDB(t, "", "CREATE TABLE t(x)")
	runTool(t, "", "check", db, "--checkpoint=passive").want(t, 0)
	runTool(t, "", "check", "--checkpoint=passive", db).want(t, 0)
	runTool(t, "", "check", "--", db).want(t, 0)
}

func TestParseTarget(t *testing.T) {
	for _, tc := range []struct{ arg, dsn, path string }{
		{"data.db", "file:data.db", "data.db"},
		{"/abs/x.db", "file:/abs/x.db", "/abs/x.db"},
		{"odd?name#1%.db", "file:odd%3Fname%231%25.db", "odd?name#1%.db"},
		{"file:data.db?cdc=on", "file:data.db?cdc=on", ""},
		{":memory:", "file::memory:", ":memory:"},
	} {
		got, err := parseTarget(tc.arg)
		if err != nil || got.dsn != tc.dsn || got.path != tc.path {
			t.Errorf("parseTarget(%q) = %+v, %v; want dsn %q path %q", tc.arg, got, err, tc.dsn, tc.path)
		}
	}
	if _, err := parseTarget(""); err == nil {
		t.Error("empty argument accepted")
	}
}

// A path with characters that mean something in a file: URI opens the
// file of that name.
func TestPathWithURICharacters(t *testing.T) {
	path := filepath.Join(t.TempDir(), "a?b#c%d.db")
	r := runTool(t, "CREATE TABLE t(x); INSERT INTO t VALUES (7);\n", "shell", path)
	r.want(t, 0)
	if _, err := os.Stat(path); err != nil {
		t.Fatalf("the shell did not create %s: %v", path, err)
	}
	r = runTool(t, "SELECT x FROM t;\n", "shell", "--mode=csv", path)
	if r.code != 0 || r.stdout != "x\n7\n" {
		t.Errorf("got %+v", r)
	}
}

// A database another process has open is reported as locked, with advice.
func TestDatabaseOwnedByAnotherProcess(t *testing.T) {
	path := filepath.Join(t.TempDir(), "held.db")
	cmd := exec.Command(os.Args[0], "-test.run=^$")
	cmd.Env = append(os.Environ(), holdEnv+"="+path)
	stdin, err := cmd.StdinPipe()
	if err != nil {
		t.Fatal(err)
	}
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	defer cmd.Wait()
	defer stdin.Close()
	line, err := bufio.NewReader(stdout).ReadString('\n')
	if err != nil || line != "READY\n" {
		t.Fatalf("child: %q, %v", line, err)
	}
	const msg = "database is locked: another process has it open"
	runTool(t, "", "check", path).want(t, 1, "libsql check: "+path+": "+msg)
	runTool(t, "", "tail", path, "--follow=false").want(t, 1, "libsql tail: "+path+": "+msg)
	runTool(t, "SELECT 1;\n", "shell", path).want(t, 1, "libsql shell: "+path+": "+msg)
}

// The commands that run until interrupted stop cleanly when their context
// ends, as on SIGINT.
func TestTailFollowStopsCleanlyWhenInterrupted(t *testing.T) {
	path := newDB(t, "?cdc=on", "CREATE TABLE t(x)", "INSERT INTO t VALUES (1)")
	ctx, cancel := context.WithCancel(context.Background())
	var out syncBuffer
	var errOut bytes.Buffer
	done := make(chan int)
	go func() { done <- runContext(ctx, []string{"tail", path, "--since", "oldest"}, nil, &out, &errOut) }()
	waitFor(t, func() bool { return strings.Count(out.String(), "\n") == 1 })
	cancel()
	select {
	case code := <-done:
		if code != 0 || errOut.Len() > 0 {
			t.Errorf("exit %d, stderr %q", code, errOut.String())
		}
	case <-time.After(5 * time.Second):
		t.Fatal("tail did not stop")
	}
}

// waitFor polls cond for up to 5 seconds.
func waitFor(t *testing.T, cond func() bool) {
	t.Helper()
	for deadline := time.Now().Add(5 * time.Second); !cond(); {
		if time.Now().After(deadline) {
			t.Fatal("condition not met within 5s")
		}
		time.Sleep(5 * time.Millisecond)
	}
}
