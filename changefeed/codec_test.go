package changefeed

import (
	"bytes"
	"errors"
	"fmt"
	"math"
	"strings"
	"testing"
	"time"
)

// codecTx exercises every value type and flag.
func codecTx() *Tx {
	usersCols := []string{"id", "name", "score", "avatar", "note"}
	tx := &Tx{
		LSN:        1<<40 + 7,
		CommitTime: time.Date(2031, 12, 31, 23, 59, 59, 999999999, time.UTC),
		Changes: []Change{
			{Table: "users", Op: Insert, RowID: 1, Columns: usersCols,
				New: []any{int64(1), "Ada", 1.5, []byte{0, 1, 2, 255}, nil}},
			{Table: "users", Op: Update, RowID: math.MaxInt64, Columns: usersCols,
				Old: []any{int64(math.MaxInt64), "", math.NaN(), []byte{}, int64(math.MinInt64)},
				New: []any{int64(-1), "日本語 ✓ \x00 nul", math.Inf(1), []byte(nil), math.Inf(-1)}},
			{Table: "users", Op: Delete, RowID: -5, Columns: usersCols, Indirect: true,
				Old: []any{int64(255), "x", math.Copysign(0, -1), []byte("blob"), 5e-324}},
			// WITHOUT ROWID table with a composite key and a unicode name.
			{Table: "Überprüfung_表", Op: Insert, Columns: []string{"k1", "k2", "v"},
				PK: []any{"a", int64(2)}, New: []any{"a", int64(2), "v"}},
			// Same table, another column list (ALTER TABLE in the transaction).
			{Table: "users", Op: Insert, RowID: 2, Columns: []string{"id", "name", "score", "avatar", "note", "extra"},
				New: []any{int64(2), "Bo", 0.0, nil, nil, "new"}},
			// Empty-but-present lists and no columns at all.
			{Table: "t", Op: Update, RowID: 3, Columns: []string{}, PK: []any{}, Old: []any{}, New: []any{}},
			{Table: "", Op: Delete, RowID: 0, Columns: nil, Old: []any{invalidUTF8}},
		},
	}
	return tx.Fill()
}

const invalidUTF8 = "bad \xff\xfe utf8"

func checkSameTx(t *testing.T, got, want *Tx) {
	t.Helper()
	if got.LSN != want.LSN || !got.CommitTime.Equal(want.CommitTime) || len(got.Changes) != len(want.Changes) {
		t.Fatalf("tx header: got LSN %v time %v %d changes, want %v %v %d",
			got.LSN, got.CommitTime, len(got.Changes), want.LSN, want.CommitTime, len(want.Changes))
	}
	for i := range want.Changes {
		g, w := &got.Changes[i], &want.Changes[i]
		where := fmt.Sprintf("change %d", i)
		if g.LSN != want.LSN || g.Index != i || !g.CommitTime.Equal(want.CommitTime) {
			t.Errorf("%s: not filled: LSN %v Index %d time %v", where, g.LSN, g.Index, g.CommitTime)
		}
		if g.Table != w.Table || g.Op != w.Op || g.RowID != w.RowID || g.Indirect != w.Indirect {
			t.Errorf("%s: got %q %v %d %v, want %q %v %d %v", where, g.Table, g.Op, g.RowID, g.Indirect, w.Table, w.Op, w.RowID, w.Indirect)
		}
		if strings.Join(g.Columns, ",") != strings.Join(w.Columns, ",") || len(g.Columns) != len(w.Columns) {
			t.Errorf("%s: columns %q, want %q", where, g.Columns, w.Columns)
		}
		for _, p := range []struct {
			name string
			g, w []any
		}{{"pk", g.PK, w.PK}, {"old", g.Old, w.Old}, {"new", g.New, w.New}} {
			if (p.g == nil) != (p.w == nil) || len(p.g) != len(p.w) {
				t.Errorf("%s %s: got %#v, want %#v", where, p.name, p.g, p.w)
				continue
			}
			for j := range p.w {
				w := p.w[j]
				if b, ok := w.([]byte); ok && b == nil {
					w = []byte{} // a nil blob decodes as an empty one
				}
				if !sameValue(w, p.g[j]) {
					t.Errorf("%s %s[%d]: got %#v, want %#v", where, p.name, j, p.g[j], w)
				}
			}
		}
	}
}

func TestCodecRoundTrip(t *testing.T) {
	for _, tx := range []*Tx{
		codecTx(),
		(&Tx{LSN: 2}).Fill(), // no changes, zero time
		(&Tx{LSN: math.MaxUint64, CommitTime: time.Unix(-1, 1)}).Fill(),
		makeTx(baseLSN+1, "t", 10),
	} {
		b := EncodeTx(nil, tx)
		if b[0] != formatVersion {
			t.Fatalf("first byte %d, want format version %d", b[0], formatVersion)
		}
		got, err := DecodeTx(b)
		if err != nil {
			t.Fatalf("DecodeTx(EncodeTx(LSN %v)): %v", tx.LSN, err)
		}
		checkSameTx(t, got, tx)
		if tx.CommitTime.IsZero() && !got.CommitTime.IsZero() {
			t.Errorf("zero commit time decoded as %v", got.CommitTime)
		}
		if again := EncodeTx(nil, got); !bytes.Equal(again, b) {
			t.Errorf("re-encoding differs:\n%x\n%x", again, b)
		}
	}
}

func TestCodecAppends(t *testing.T) {
	tx := makeTx(baseLSN, "t", 3)
	prefix := []byte("prefix")
	b := EncodeTx(append([]byte(nil), prefix...), tx)
	if !bytes.HasPrefix(b, prefix) || !bytes.Equal(b[len(prefix):], EncodeTx(nil, tx)) {
		t.Fatal("EncodeTx does not append to dst")
	}
}

func TestCodecDedupsColumns(t *testing.T) {
	tx := makeTx(baseLSN, "tbl", 100)
	for i := range tx.Changes { // distinct slices with equal contents
		tx.Changes[i].Columns = append([]string(nil), tx.Changes[i].Columns...)
	}
	b := EncodeTx(nil, tx)
	if n := bytes.Count(b, []byte("score")); n != 1 {
		t.Errorf("column name stored %d times, want 1", n)
	}
	if n := bytes.Count(b, []byte("tbl")); n != 1 {
		t.Errorf("table name stored %d times, want 1", n)
	}
	got, err := DecodeTx(b)
	if err != nil {
		t.Fatal(err)
	}
	if &got.Changes[0].Columns[0] != &got.Changes[99].Columns[0] {
		t.Error("decoded changes do not share their column list")
	}
}

func TestCodecManyTables(t *testing.T) {
	tx := &Tx{LSN: baseLSN}
	for i := range 100 { // past the linear search: the map path
		tx.Changes = append(tx.Changes, makeTx(baseLSN, fmt.Sprintf("t%d", i%40), 1).Changes...)
	}
	tx.Fill()
	b := EncodeTx(nil, tx)
	if n := bytes.Count(b, []byte("t39")); n != 1 {
		t.Errorf("table t39 stored %d times, want 1", n)
	}
	got, err := DecodeTx(b)
	if err != nil {
		t.Fatal(err)
	}
	checkSameTx(t, got, tx)
}

func TestCodecNormalizes(t *testing.T) {
	in := []any{int(-3), int8(-8), int16(16), int32(32), uint8(8), uint16(16), uint32(32), uint(7), uint64(9), float32(0.5), true, false}
	want := []any{int64(-3), int64(-8), int64(16), int64(32), int64(8), int64(16), int64(32), int64(7), int64(9), 0.5, int64(1), int64(0)}
	tx := (&Tx{LSN: 2, Changes: []Change{{Table: "t", Op: Insert, New: in}}}).Fill()
	got, err := DecodeTx(EncodeTx(nil, tx))
	if err != nil {
		t.Fatal(err)
	}
	for i, w := range want {
		if !sameValue(w, got.Changes[0].New[i]) {
			t.Errorf("%T(%v) decoded as %#v, want %#v", in[i], in[i], got.Changes[0].New[i], w)
		}
	}
}

func TestEncodePanicsOnBrokenInvariants(t *testing.T) {
	for name, tx := range map[string]*Tx{
		"type":  {LSN: 2, Changes: []Change{{Table: "t", Op: Insert, New: []any{time.Now()}}}},
		"uint":  {LSN: 2, Changes: []Change{{Table: "t", Op: Insert, New: []any{uint64(math.MaxUint64)}}}},
		"op(0)": {LSN: 2, Changes: []Change{{Table: "t"}}},
	} {
		t.Run(name, func(t *testing.T) {
			defer func() {
				r := recover()
				if s, _ := r.(string); !strings.HasPrefix(s, "changefeed: EncodeTx: ") {
					t.Errorf("recovered %v, want a changefeed: EncodeTx panic", r)
				}
			}()
			EncodeTx(nil, tx)
		})
	}
}

func TestDecodeCorrupt(t *testing.T) {
	valid := EncodeTx(nil, codecTx())
	check := func(name string, b []byte, want string) {
		t.Helper()
		tx, err := DecodeTx(b)
		if err == nil {
			t.Errorf("%s: decoded %d changes, want an error", name, len(tx.Changes))
			return
		}
		if !errors.Is(err, ErrCorrupt) || !strings.HasPrefix(err.Error(), "changefeed: ") || !strings.Contains(err.Error(), want) {
			t.Errorf("%s: error %q; want one wrapping ErrCorrupt, containing %q", name, err, want)
		}
	}
	check("empty", nil, "truncated format version")
	check("version", append([]byte{2}, valid[1:]...), "unknown format version 2")
	check("trailing", append(append([]byte(nil), valid...), 0), "1 trailing bytes")
	for n := 1; n < len(valid); n++ { // every truncation
		if _, err := DecodeTx(valid[:n]); !errors.Is(err, ErrCorrupt) {
			t.Fatalf("truncated to %d of %d bytes: err %v, want ErrCorrupt", n, len(valid), err)
		}
	}

	// Hand-made encodings: header (version 1, LSN 2, time 0, 0), one schema
	// "t" with column "a", then one change.
	head := []byte{1, 2, 0, 0, 1, 1, 't', 1, 1, 'a', 1}
	mk := func(rest ...byte) []byte { return append(append([]byte(nil), head...), rest...) }
	if _, err := DecodeTx(mk(0, byte(Insert)|flagNew, 2, 1, tagInt, 4)); err != nil {
		t.Fatalf("hand-made encoding: %v", err)
	}
	check("schema index", mk(1, byte(Insert), 0), "schema index 1 of change 0 out of range")
	check("reserved flags", mk(0, byte(Insert)|0x40, 0), "reserved flag bits")
	check("op 0", mk(0, 0, 0), "invalid operation 0")
	check("tag", mk(0, byte(Insert)|flagNew, 0, 1, 9), "unknown value tag 9")
	check("float", mk(0, byte(Insert)|flagNew, 0, 1, tagFloat, 1, 2, 3), "truncated real value")
	check("text length", mk(0, byte(Insert)|flagNew, 0, 1, tagText, 5, 'a'), "text value length 5 exceeds")
	check("value count", mk(0, byte(Insert)|flagNew, 0, 0xff, 0xff, 0xff, 0xff, 0x0f), "value count")
	check("varint", mk(0, byte(Insert), 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0x01), "bad varint for rowid")
	check("change count", []byte{1, 2, 0, 0, 0, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0x7f}, "change count")
	check("nanoseconds", []byte{1, 2, 0, 0x80, 0x94, 0xeb, 0xdc, 0x03, 0, 0}, "nanoseconds 1000000000 out of range")
}

func TestCodecAllocs(t *testing.T) {
	tx := makeTx(baseLSN, "t", 10)
	buf := EncodeTx(nil, tx)
	if n := testing.AllocsPerRun(100, func() { buf = EncodeTx(buf[:0], tx) }); n != 0 {
		t.Errorf("EncodeTx allocates %v times per call with room in dst, want 0", n)
	}
}

func FuzzDecodeTx(f *testing.F) {
	f.Add(EncodeTx(nil, codecTx()))
	f.Add(EncodeTx(nil, (&Tx{LSN: 2}).Fill()))
	f.Add(EncodeTx(nil, makeTx(baseLSN, "t", 5)))
	f.Add([]byte{1, 2, 0, 0, 1, 1, 't', 1, 1, 'a', 1, 0, byte(Insert) | flagNew, 2, 1, tagInt, 4})
	f.Add([]byte{})
	f.Fuzz(func(t *testing.T, b []byte) {
		tx, err := DecodeTx(b)
		if err != nil {
			if !errors.Is(err, ErrCorrupt) {
				t.Fatalf("error %v does not wrap ErrCorrupt", err)
			}
			return
		}
		// What decodes re-encodes to something that decodes to the same.
		b1 := EncodeTx(nil, tx)
		tx2, err := DecodeTx(b1)
		if err != nil {
			t.Fatalf("re-encoded transaction does not decode: %v", err)
		}
		if b2 := EncodeTx(nil, tx2); !bytes.Equal(b1, b2) {
			t.Fatalf("encoding not stable:\n%x\n%x", b1, b2)
		}
		for i := range tx.Changes {
			AppendJSON(nil, &tx.Changes[i])
		}
	})
}
