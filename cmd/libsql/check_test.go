package main

import (
	"os"
	"regexp"
	"strings"
	"testing"

	"github.com/golibsql/libsql"
)

// checkKeys are the lines of check's report, in order.
var checkKeys = []string{"database", "integrity", "pages", "log", "versions", "snapshots", "cache", "concurrent", "io", "cdc"}

// checkReport splits check's output into its "name: value" lines.
func checkReport(t *testing.T, out string) (keys []string, vals map[string]string) {
	t.Helper()
	vals = map[string]string{}
	for _, l := range strings.Split(strings.TrimSuffix(out, "\n"), "\n") {
		if strings.HasPrefix(l, "            ") && len(keys) > 0 { // a value's next line
			vals[keys[len(keys)-1]] += "\n" + strings.TrimSpace(l)
			continue
		}
		k, v, ok := strings.Cut(l, ":")
		if !ok || strings.HasPrefix(l, " ") {
			t.Fatalf("not a report line: %q in\n%s", l, out)
		}
		keys = append(keys, k)
		vals[k] = strings.TrimSpace(v)
	}
	return keys, vals
}

func TestCheckReportShape(t *testing.T) {
	db := newDB(t, "", "CREATE TABLE t(x)", "INSERT INTO t VALUES (1), (2)")
	r := runTool(t, "", "check", db)
	r.want(t, 0)
	keys, vals := checkReport(t, r.stdout)
	if strings.Join(keys, ",") != strings.Join(checkKeys, ",") {
		t.Errorf("keys %v, want %v", keys, checkKeys)
	}
	for k, pattern := range map[string]string{
		"database":   "^" + regexp.QuoteMeta(db) + "$",
		"integrity":  "^ok$",
		"pages":      `^2 x 4096 bytes = 8\.0 KiB, 0 free$`,
		"log":        `^\d+ frames, \d+ backfilled; \d+ commits, \d+ writes, \d+ fsyncs; \d+ checkpoints, \d+ restarts, \d+ pages checkpointed$`,
		"versions":   `^newest \S+, durable \S+$`,
		"snapshots":  `^\d+ pinned, oldest \S+$`,
		"cache":      `^\d+ hits, \d+ misses, \d+ evictions, \d+ read ahead, \d+ pages capacity, \d+(\.\d)? (B|KiB|MiB) in memory$`,
		"concurrent": `^0 commits \(0 direct, 0 merged, 0 rebased\), 0 conflicts$`,
		"io":         `^\S+`,
		"cdc":        `^off \(no libsql_cdc table\)$`,
	} {
		if !regexp.MustCompile(pattern).MatchString(vals[k]) {
			t.Errorf("%s: %q does not match %s", k, vals[k], pattern)
		}
	}
}

func TestCheckCheckpointAndCDC(t *testing.T) {
	db := newDB(t, "?cdc=on", "CREATE TABLE t(x)", "INSERT INTO t VALUES (1)", "INSERT INTO t VALUES (2)")
	for _, mode := range []string{"passive", "full", "restart", "truncate"} {
		r := runTool(t, "", "check", db, "--checkpoint", mode)
		r.want(t, 0)
		_, vals := checkReport(t, r.stdout)
		if !regexp.MustCompile(`^` + strings.ToUpper(mode) + `: done, \d+ frames in the log, \d+ checkpointed$`).MatchString(vals["checkpoint"]) {
			t.Errorf("checkpoint %s: %q", mode, vals["checkpoint"])
		}
		if !regexp.MustCompile(`^on: libsql_cdc holds 2 transactions, LSN \d+ to \d+$`).MatchString(vals["cdc"]) {
			t.Errorf("cdc: %q", vals["cdc"])
		}
	}
	// A DSN is used as it is.
	runTool(t, "", "check", "file:"+db+"?mode=ro").want(t, 0)
}

// A damaged b-tree page fails the integrity check: exit status 1.
func TestCheckFailsOnADamagedDatabase(t *testing.T) {
	db := newDB(t, "", "CREATE TABLE t(x INTEGER PRIMARY KEY, y TEXT)",
		"WITH RECURSIVE n(v) AS (SELECT 1 UNION ALL SELECT v + 1 FROM n WHERE v < 2000) INSERT INTO t SELECT v, printf('row %d', v) FROM n")
	// Fold the log into the file, so that the damage is not overlaid.
	runTool(t, "", "check", db, "--checkpoint=truncate").want(t, 0)
	f, err := os.OpenFile(db, os.O_RDWR, 0)
	if err != nil {
		t.Fatal(err)
	}
	// Page 3 is a leaf of t: break its cell pointers.
	junk := make([]byte, 64)
	for i := range junk {
		junk[i] = 0xee
	}
	if _, err := f.WriteAt(junk, 2*4096+8); err != nil {
		t.Fatal(err)
	}
	f.Close()
	r := runTool(t, "", "check", db)
	r.want(t, 1, "libsql check: "+db+": integrity check failed")
	_, vals := checkReport(t, r.stdout)
	if !strings.Contains(vals["integrity"], "Tree 2 page 3") {
		t.Errorf("integrity %q", vals["integrity"])
	}
}

func TestCheckReadsEngineCounters(t *testing.T) {
	// Within one process the engine stays open between the writer and
	// check, so check sees its counters.
	db := newDB(t, "", "CREATE TABLE a(x)", "CREATE TABLE b(x)")
	d, err := libsql.Open(db)
	if err != nil {
		t.Fatal(err)
	}
	defer d.Close()
	if _, err := d.Exec("BEGIN CONCURRENT; INSERT INTO a VALUES (1); COMMIT"); err != nil {
		t.Fatal(err)
	}
	r := runTool(t, "", "check", db)
	r.want(t, 0)
	_, vals := checkReport(t, r.stdout)
	if !strings.HasPrefix(vals["concurrent"], "1 commits") {
		t.Errorf("concurrent: %q", vals["concurrent"])
	}
}
