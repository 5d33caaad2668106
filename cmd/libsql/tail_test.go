package main

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"regexp"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/golibsql/libsql"
)

// cdcDB makes a database written with durable CDC: several transactions
// of every operation, on a rowid table, a WITHOUT ROWID table and through
// a trigger, with values of every type.
func cdcDB(t *testing.T) string {
	return newDB(t, "?cdc=on",
		`CREATE TABLE items(id INTEGER PRIMARY KEY, name TEXT, price REAL, data BLOB)`,
		`CREATE TABLE tags(tag TEXT, item INTEGER, PRIMARY KEY (tag, item)) WITHOUT ROWID`,
		`CREATE TABLE log(what TEXT)`,
		`CREATE TRIGGER items_gone AFTER DELETE ON items BEGIN INSERT INTO log VALUES ('deleted ' || old.name); END`,
		`INSERT INTO items VALUES (1, 'pen', 1.5, x'00ff'), (2, 'ink', NULL, NULL)`,
		`INSERT INTO tags VALUES ('office', 1)`,
		`UPDATE items SET price = 2, name = 'pen "deluxe"' WHERE id = 1`,
		`DELETE FROM items WHERE id = 2`,
	)
}

var (
	lsnField  = regexp.MustCompile(`"lsn":(\d+)`)
	timeField = regexp.MustCompile(`"time":"[^"]*"`)
)

// maskTail replaces the LSNs of tail's output by L1, L2, ... in order of
// appearance (so that the grouping into transactions stays visible) and
// the times by T, after checking that LSNs never decrease and times parse.
func maskTail(t *testing.T, out string) string {
	t.Helper()
	names := map[string]string{}
	var last uint64
	out = lsnField.ReplaceAllStringFunc(out, func(m string) string {
		v := lsnField.FindStringSubmatch(m)[1]
		n, _ := strconv.ParseUint(v, 10, 64)
		if n < last {
			t.Errorf("LSN %d after %d", n, last)
		}
		last = n
		if names[v] == "" {
			names[v] = fmt.Sprintf(`"L%d"`, len(names)+1)
		}
		return `"lsn":` + names[v]
	})
	for _, m := range timeField.FindAllString(out, -1) {
		if _, err := time.Parse(time.RFC3339Nano, m[8:len(m)-1]); err != nil {
			t.Errorf("bad time %s: %v", m, err)
		}
	}
	return timeField.ReplaceAllString(out, `"time":"T"`)
}

// tailLines parses tail's output.
func tailLines(t *testing.T, out string) []map[string]any {
	t.Helper()
	var lines []map[string]any
	for _, l := range strings.Split(strings.TrimSuffix(out, "\n"), "\n") {
		if l == "" {
			continue
		}
		var m map[string]any
		d := json.NewDecoder(strings.NewReader(l))
		d.UseNumber()
		if err := d.Decode(&m); err != nil {
			t.Fatalf("not a JSON line: %q: %v", l, err)
		}
		lines = append(lines, m)
	}
	return lines
}

func TestTailHistoryGolden(t *testing.T) {
	db := cdcDB(t)
	start := time.Now()
	r := runTool(t, "", "tail", db, "--since", "oldest", "--follow=false")
	r.want(t, 0)
	if r.stderr != "" {
		t.Errorf("stderr: %s", r.stderr)
	}
	if el := time.Since(start); el > 3*time.Second {
		t.Errorf("tail --follow=false took %v", el)
	}
	golden(t, "tail_oldest.golden", maskTail(t, r.stdout))
}

func TestTailFilters(t *testing.T) {
	db := cdcDB(t)
	r := runTool(t, "", "tail", "--table", "ITEMS", "--table", "log", "--op", "delete", "--op", "insert", db, "--since=oldest", "--follow=false")
	r.want(t, 0)
	var got []string
	for _, l := range tailLines(t, r.stdout) {
		got = append(got, fmt.Sprintf("%v %v %v", l["table"], l["op"], l["indirect"]))
	}
	want := []string{"items insert false", "items insert false", "items delete false", "log insert true"}
	if strings.Join(got, "; ") != strings.Join(want, "; ") {
		t.Errorf("got %q, want %q", got, want)
	}
}

// --since LSN yields exactly the transactions committed after LSN.
func TestTailResumesAfterAnLSN(t *testing.T) {
	db := cdcDB(t)
	all := tailLines(t, runTool(t, "", "tail", db, "--since", "oldest", "--follow=false").stdout)
	var lsns []string
	for _, l := range all {
		if s := l["lsn"].(json.Number).String(); len(lsns) == 0 || lsns[len(lsns)-1] != s {
			lsns = append(lsns, s)
		}
	}
	if len(lsns) < 4 {
		t.Fatalf("want at least 4 transactions, got LSNs %v", lsns)
	}
	r := runTool(t, "", "tail", db, "--since", lsns[1], "--follow=false")
	r.want(t, 0)
	rest := tailLines(t, r.stdout)
	skipped := 0
	for _, l := range all {
		if s := l["lsn"].(json.Number).String(); s == lsns[0] || s == lsns[1] {
			skipped++
		}
	}
	if len(rest) != len(all)-skipped || rest[0]["lsn"].(json.Number).String() != lsns[2] {
		t.Errorf("--since %s: %d changes from LSN %v; want %d from %s", lsns[1], len(rest), rest[0]["lsn"], len(all)-skipped, lsns[2])
	}
	last := lsns[len(lsns)-1]
	r = runTool(t, "", "tail", db, "--since", last, "--follow=false")
	if r.code != 0 || r.stdout != "" {
		t.Errorf("--since newest: %+v", r)
	}
	r = runTool(t, "", "tail", db, "--follow=false") // --since now
	if r.code != 0 || r.stdout != "" || r.stderr != "" {
		t.Errorf("--since now: %+v", r)
	}
}

func TestTailWithoutDurableCDC(t *testing.T) {
	db := newDB(t, "", "CREATE TABLE t(x)", "INSERT INTO t VALUES (1)")
	r := runTool(t, "", "tail", db, "--since", "oldest", "--follow=false")
	r.want(t, 0, "has no durable CDC log (table libsql_cdc; write it with cdc=on): history is unavailable, following from now")
	if r.stdout != "" {
		t.Errorf("stdout %q", r.stdout)
	}
	r = runTool(t, ".tables\n", "shell", db)
	if r.stdout != "t\n" {
		t.Errorf("tail created tables: %q", r.stdout)
	}
}

// History that retention deleted is reported, not skipped.
func TestTailPrunedHistory(t *testing.T) {
	db := cdcDB(t)
	all := tailLines(t, runTool(t, "", "tail", db, "--since", "oldest", "--follow=false").stdout)
	first := all[0]["lsn"].(json.Number).String()
	second := ""
	for _, l := range all {
		if s := l["lsn"].(json.Number).String(); s != first {
			second = s
			break
		}
	}
	// Prune the first two transactions as retention would.
	d, err := libsql.Open("file:" + db + "?cdc=on")
	if err != nil {
		t.Fatal(err)
	}
	if _, err := d.Exec(`DELETE FROM libsql_cdc WHERE lsn <= ` + second + `;
		INSERT OR REPLACE INTO libsql_cdc_state(key, value) VALUES ('pruned_through', ` + second + `)`); err != nil {
		t.Fatal(err)
	}
	d.Close()
	r := runTool(t, "", "tail", db, "--since", first, "--follow=false")
	r.want(t, 1, "no longer retained")
	r = runTool(t, "", "tail", db, "--since", "oldest", "--follow=false")
	r.want(t, 0)
	if got := tailLines(t, r.stdout); len(got) == 0 || got[0]["lsn"].(json.Number).String() == first || got[0]["lsn"].(json.Number).String() == second {
		t.Errorf("--since oldest after pruning: %s", r.stdout)
	}
	c := runTool(t, "", "check", db)
	if !strings.Contains(c.stdout, "pruned through "+second) {
		t.Errorf("check does not report the pruning:\n%s", c.stdout)
	}
}

// tail follows changes committed while it runs, whole transactions at a
// time, and stops cleanly when interrupted.
func TestTailFollowsNewChanges(t *testing.T) {
	db := cdcDB(t)
	all := tailLines(t, runTool(t, "", "tail", db, "--since", "oldest", "--follow=false").stdout)
	newest := all[len(all)-1]["lsn"].(json.Number).String()

	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	var out syncBuffer
	var errOut bytes.Buffer
	done := make(chan int, 1)
	go func() {
		done <- runContext(ctx, []string{"tail", db, "--since", newest, "--table", "tags"}, nil, &out, &errOut)
	}()
	w, err := libsql.Open("file:" + db + "?cdc=on")
	if err != nil {
		t.Fatal(err)
	}
	defer w.Close()
	for i := range 3 {
		if _, err := w.Exec("INSERT INTO tags VALUES (?, ?), (?, ?); INSERT INTO log VALUES ('not shown')", "t", i, "u", i); err != nil {
			t.Fatal(err)
		}
	}
	waitFor(t, func() bool { return strings.Count(out.String(), "\n") == 6 })
	cancel()
	if code := <-done; code != 0 || errOut.Len() > 0 {
		t.Errorf("exit %d, stderr %q", code, errOut.String())
	}
	lines := tailLines(t, out.String())
	for i, l := range lines {
		pk := l["pk"].([]any)
		if l["table"] != "tags" || l["op"] != "insert" || pk[1].(json.Number).String() != strconv.Itoa(i/2) || l["rowid"].(json.Number).String() != "0" {
			t.Errorf("line %d: %v", i, l)
		}
	}
}
