package main

import (
	"bytes"
	"context"
	"os"
	"regexp"
	"strconv"
	"strings"
	"testing"
	"time"
)

func TestDemoStreamsEveryCommittedRow(t *testing.T) {
	r := runTool(t, "", "demo", "--duration", "300ms", "--writers", "4", "--accounts", "200")
	r.want(t, 0)
	out := r.stdout
	m := regexp.MustCompile(`change stream\s+(\d+) changes received, (\d+) rows committed: ok`).FindStringSubmatch(out)
	if m == nil {
		t.Fatalf("no change stream line:\n%s", out)
	}
	if m[1] != m[2] || m[1] == "0" {
		t.Errorf("received %s changes for %s rows committed", m[1], m[2])
	}
	for _, want := range []string{
		"throughput", "tx/s", "rows/s", "concurrent commits", "rebased", "conflicts",
		"last 5 changes (JSON lines", "PRAGMA integrity_check", "accounts: total balance", "Backup half way", "backup: total balance", "all checks passed",
	} {
		if !strings.Contains(out, want) {
			t.Errorf("output lacks %q:\n%s", want, out)
		}
	}
	if n := strings.Count(out, `{"lsn":`); n != 5 {
		t.Errorf("%d JSON lines, want 5", n)
	}
	// Not a terminal: one progress line per second, and one at the end.
	if n := regexp.MustCompile(`(?m)^\s*\d+\.\ds\s+\d+ tx`).FindAllString(out, -1); len(n) != 1 || strings.Contains(out, "\r") {
		t.Errorf("progress lines %q", n)
	}
	// The temporary database is gone.
	path := regexp.MustCompile(`on (\S+demo\.db) \(`).FindStringSubmatch(out)
	if path == nil {
		t.Fatalf("no database path in the output")
	}
	if _, err := os.Stat(path[1]); !os.IsNotExist(err) {
		t.Errorf("%s still exists: %v", path[1], err)
	}
}

func TestDemoKeepsTheDatabase(t *testing.T) {
	r := runTool(t, "", "demo", "--duration", "100ms", "--writers", "2", "--accounts", "50", "--keep")
	r.want(t, 0)
	m := regexp.MustCompile(`database kept at (\S+)`).FindStringSubmatch(r.stdout)
	if m == nil {
		t.Fatalf("no 'database kept' line:\n%s", r.stdout)
	}
	defer os.RemoveAll(strings.TrimSuffix(m[1], "demo.db"))
	c := runTool(t, "", "check", m[1])
	c.want(t, 0)
	_, vals := checkReport(t, c.stdout)
	if vals["integrity"] != "ok" {
		t.Errorf("kept database: %q", vals["integrity"])
	}
}

func TestBenchRunsEveryWorkload(t *testing.T) {
	r := runTool(t, "", "bench", "--duration", "60ms", "--rows", "200", "--writers", "2")
	r.want(t, 0)
	for _, w := range []string{
		"insert, sync=full", "insert, sync=normal", "10-row transactions", "bulk insert", "point select (200 rows)",
		"concurrent, 2 writers, own tables", "concurrent, 2 writers, one table",
	} {
		re := regexp.MustCompile(`(?m)^` + regexp.QuoteMeta(w) + `\s+(\d+)\s+(\d+)`)
		m := re.FindStringSubmatch(r.stdout)
		if m == nil {
			t.Errorf("no result line for %q:\n%s", w, r.stdout)
			continue
		}
		if n, _ := strconv.Atoi(m[1]); n == 0 {
			t.Errorf("%s: no operations", w)
		}
	}
	if !regexp.MustCompile(`one table\s.*\d+ conflicts, \d+ rebased`).MatchString(r.stdout) {
		t.Errorf("no conflicts/rebased note:\n%s", r.stdout)
	}
}

// An interrupted demo stops its writers between transactions and still
// checks and reports everything.
func TestDemoStopsEarlyWhenInterrupted(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 300*time.Millisecond)
	defer cancel()
	var out, errOut bytes.Buffer
	start := time.Now()
	code := runContext(ctx, []string{"demo", "--duration", "30s", "--writers", "2", "--accounts", "50"}, nil, &out, &errOut)
	if code != 0 || !strings.Contains(out.String(), "all checks passed") {
		t.Errorf("exit %d\nstdout:\n%s\nstderr:\n%s", code, out.String(), errOut.String())
	}
	if el := time.Since(start); el > 10*time.Second {
		t.Errorf("the interrupted demo took %v", el)
	}
}

// --sync takes any letter case, as the other enumerated flags do.
func TestDemoSyncAnyLetterCase(t *testing.T) {
	r := runTool(t, "", "demo", "--sync", "NORMAL", "--duration", "50ms", "--writers", "1", "--accounts", "2")
	r.want(t, 0)
	if !strings.Contains(r.stdout, "(sync=normal, seed") {
		t.Errorf("stdout:\n%s", r.stdout)
	}
}
