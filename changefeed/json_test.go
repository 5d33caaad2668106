package changefeed

import (
	"bytes"
	"encoding/json"
	"flag"
	"math"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

var update = flag.Bool("update", false, "rewrite testdata/*.golden")

// jsonCases are the changes testdata/json.golden holds, one line each.
func jsonCases() []Change {
	tm := time.Date(2025, 3, 14, 15, 9, 26, 535897932, time.FixedZone("CET", 3600))
	cols := []string{"v"}
	one := func(v any) Change {
		return Change{LSN: 4294967296, Index: 0, Table: "t", Op: Insert, RowID: 1, Columns: cols, New: []any{v}, CommitTime: tm}
	}
	cases := []Change{
		one(nil),
		one(int64(0)),
		one(int64(math.MaxInt64)),
		one(int64(math.MinInt64)),
		one(1.0),
		one(-2.5),
		one(1e21),
		one(1e-7),
		one(123456789.0),
		one(math.Copysign(0, -1)),
		one(5e-324),
		one(math.NaN()),
		one(math.Inf(1)),
		one(math.Inf(-1)),
		one(""),
		one("plain"),
		one("quote\" backslash\\ tab\t nl\n cr\r nul\x00 bell\x07 <&> \u2028\u2029 é 日本 🎉"),
		one(invalidUTF8),
		one([]byte{}),
		one([]byte{0, 1, 2, 0xfe, 0xff}),
		one(true),
		{LSN: 1<<64 - 1, Index: 7, Table: "users", Op: Update, RowID: 42, Columns: []string{"id", "name"},
			Old: []any{int64(42), "old"}, New: []any{int64(42), "new"}, Indirect: true, CommitTime: tm},
		{LSN: 4294967299, Index: 1, Table: "Überprüfung_表", Op: Delete, Columns: []string{"k1", "k2", "v"},
			PK: []any{"a", int64(2)}, Old: []any{"a", int64(2), []byte("x")}},
		{LSN: 4294967300, Table: "t", Op: Insert, RowID: 3, Columns: []string{"a"}, New: []any{int64(1), int64(2)}},
	}
	return cases
}

func TestAppendJSONGolden(t *testing.T) {
	var out []byte
	for _, c := range jsonCases() {
		n := len(out)
		out = AppendJSON(out, &c)
		line := out[n:]
		if !json.Valid(line) {
			t.Errorf("invalid JSON: %s", line)
		}
		out = append(out, '\n')
	}
	path := filepath.Join("testdata", "json.golden")
	if *update {
		if err := os.WriteFile(path, out, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	want, err := os.ReadFile(path)
	if err != nil {
		t.Fatalf("%v (run with -update to create it)", err)
	}
	if !bytes.Equal(out, want) {
		gl, wl := strings.Split(string(out), "\n"), strings.Split(string(want), "\n")
		for i := range min(len(gl), len(wl)) {
			if gl[i] != wl[i] {
				t.Fatalf("line %d:\n got: %s\nwant: %s", i+1, gl[i], wl[i])
			}
		}
		t.Fatalf("got %d lines, want %d", len(gl), len(wl))
	}
}

// TestAppendJSONTypes decodes the output and checks that every value keeps
// its type: exact integers, floats, text, base64 blobs, null.
func TestAppendJSONTypes(t *testing.T) {
	c := Change{LSN: 1<<64 - 1, Table: "t", Op: Update, Columns: []string{"i", "f", "s", "b", "n"},
		Old: []any{int64(math.MaxInt64), 3.0, "x", []byte("hi"), nil},
		New: []any{int64(-1), math.NaN(), "", []byte{}, nil}, CommitTime: testTime}
	dec := json.NewDecoder(bytes.NewReader(AppendJSON(nil, &c)))
	dec.UseNumber()
	var m map[string]any
	if err := dec.Decode(&m); err != nil {
		t.Fatal(err)
	}
	if m["lsn"].(json.Number) != "18446744073709551615" {
		t.Errorf("lsn %v", m["lsn"])
	}
	old := m["old"].(map[string]any)
	if old["i"].(json.Number) != "9223372036854775807" {
		t.Errorf("int64 %v not exact", old["i"])
	}
	if old["f"].(json.Number) != "3.0" {
		t.Errorf("float %v does not look like a float", old["f"])
	}
	if old["b"].(map[string]any)["base64"] != "aGk=" || old["n"] != nil || old["s"] != "x" {
		t.Errorf("old = %v", old)
	}
	nw := m["new"].(map[string]any)
	if nw["f"] != "NaN" || nw["s"] != "" || nw["b"].(map[string]any)["base64"] != "" {
		t.Errorf("new = %v", nw)
	}
	if m["time"] != "2025-03-14T15:09:26.535897932Z" || m["op"] != "update" || m["pk"] != nil {
		t.Errorf("time %v op %v pk %v", m["time"], m["op"], m["pk"])
	}
	keys := []string{"lsn", "index", "table", "op", "rowid", "pk", "columns", "old", "new", "indirect", "time"}
	if len(m) != len(keys) {
		t.Errorf("keys %v, want %v", m, keys)
	}
}

func TestAppendJSONAllocs(t *testing.T) {
	c := makeTx(baseLSN, "t", 3).Changes[1]
	c.PK = []any{[]byte("k"), "s"}
	buf := AppendJSON(nil, &c)
	if n := testing.AllocsPerRun(100, func() { buf = AppendJSON(buf[:0], &c) }); n != 0 {
		t.Errorf("AppendJSON allocates %v times with room in dst, want 0", n)
	}
}
