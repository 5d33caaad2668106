package changefeed

import (
	"bytes"
	"fmt"
	"testing"
)

// encodeByChange encodes tx one change at a time, as a publisher that
// keeps its changes encoded does: numbered with Schemas, the header last.
// A change to table "skip" is numbered but left out, as a publisher leaves
// out what it does not publish.
func encodeByChange(t *testing.T, tx *Tx) []byte {
	t.Helper()
	var s Schemas
	var body []byte
	n := 0
	for i := range tx.Changes {
		c := &tx.Changes[i]
		k := s.Index(c.Table, c.Columns)
		if c.Table == "skip" {
			continue
		}
		start := len(body)
		body = AppendChange(body, k, c)
		var got Change
		if err := s.DecodeChange(body[start:], &got); err != nil {
			t.Fatalf("DecodeChange of change %d: %v", i, err)
		}
		one := func(c Change) *Tx {
			return (&Tx{LSN: tx.LSN, CommitTime: tx.CommitTime, Changes: []Change{c}}).Fill()
		}
		checkSameTx(t, one(got), one(*c))
		n++
	}
	return append(AppendTxHeader(nil, tx.LSN, tx.CommitTime, &s, n), body...)
}

// TestCodecByChange: a transaction encoded change by change is the bytes
// EncodeTx writes, and each change decodes back alone.
func TestCodecByChange(t *testing.T) {
	many := &Tx{LSN: baseLSN}
	for i := range 100 { // past the linear search: the map path
		many.Changes = append(many.Changes, makeTx(baseLSN, fmt.Sprintf("t%d", i%40), 1).Changes...)
	}
	for _, tx := range []*Tx{codecTx(), many.Fill(), {LSN: 9}} {
		if got, want := encodeByChange(t, tx), EncodeTx(nil, tx); !bytes.Equal(got, want) {
			t.Fatalf("LSN %v: encoded change by change:\n%x\nEncodeTx:\n%x", tx.LSN, got, want)
		}
	}
}

// TestCodecByChangeSkips: pairs no change uses are allowed, so a change
// left out after its pair was numbered leaves a transaction that decodes
// to the others.
func TestCodecByChangeSkips(t *testing.T) {
	tx := codecTx()
	all := tx.Changes
	tx.Changes = append([]Change{{Table: "skip", Op: Insert, RowID: 1, Columns: []string{"x"}, New: []any{int64(1)}}}, all...)
	got, err := DecodeTx(encodeByChange(t, tx))
	if err != nil {
		t.Fatal(err)
	}
	checkSameTx(t, got, (&Tx{LSN: tx.LSN, CommitTime: tx.CommitTime, Changes: all}).Fill())
}

// TestDecodeChangeCorrupt: a truncated or overlong change is an error, and
// a decoded change does not share memory with its bytes.
func TestDecodeChangeCorrupt(t *testing.T) {
	var s Schemas
	c := Change{Table: "t", Op: Update, RowID: 4, Columns: []string{"a", "b"}, Old: []any{"old", []byte{1}}, New: []any{"new", []byte{2}}}
	b := AppendChange(nil, s.Index(c.Table, c.Columns), &c)
	for i := range len(b) {
		if err := s.DecodeChange(b[:i], new(Change)); err == nil {
			t.Fatalf("a change cut to %d of its %d bytes decodes", i, len(b))
		}
	}
	if err := s.DecodeChange(append(b[:len(b):len(b)], 0), new(Change)); err == nil {
		t.Fatal("a change with a trailing byte decodes")
	}
	var empty Schemas
	if err := empty.DecodeChange(b, new(Change)); err == nil {
		t.Fatal("a change whose pair is unknown decodes")
	}
	var got Change
	if err := s.DecodeChange(b, &got); err != nil {
		t.Fatal(err)
	}
	clear(b)
	if got.Old[0] != "old" || got.New[1].([]byte)[0] != 2 {
		t.Fatalf("the decoded change changed with its bytes: %#v", got)
	}
}
