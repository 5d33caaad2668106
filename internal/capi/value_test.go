package capi

import (
	"bytes"
	"testing"
)

// TestColumnMatchesTheAPI checks that reading the result row directly gives
// what the sqlite3_column_* functions give, for every kind of value, also in
// a UTF-16 database where text needs converting.
func TestColumnMatchesTheAPI(t *testing.T) {
	for _, enc := range []string{"UTF-8", "UTF-16le"} {
		c := openMem(t, t.Name()+enc)
		check(t, c.Exec("PRAGMA encoding='"+enc+"'"),
			c.Exec("CREATE TABLE v(r REAL, x)"),
			c.Exec(`INSERT INTO v VALUES (3, 42), (1.5, -7.25), (NULL, 'héllo'), (2, x'00ff'), (0, zeroblob(3)), (0, ''), (0, x''), (0, NULL)`))
		s, _, err := c.Prepare("SELECT r, x, x || '', -x FROM v", 0)
		if err != nil {
			t.Fatal(err)
		}
		for {
			row, err := s.Step()
			check(t, err)
			if !row {
				break
			}
			for i := range 4 {
				typ, iv, fv, b := s.Column(i)
				want := s.ColumnType(i)
				if typ != want {
					t.Errorf("%s column %d: type %d, API %d", enc, i, typ, want)
					continue
				}
				switch typ {
				case INTEGER:
					if iv != s.ColumnInt64(i) {
						t.Errorf("%s column %d: %d, API %d", enc, i, iv, s.ColumnInt64(i))
					}
				case FLOAT:
					if fv != s.ColumnFloat(i) {
						t.Errorf("%s column %d: %v, API %v", enc, i, fv, s.ColumnFloat(i))
					}
				case TEXT:
					if string(b) != s.ColumnText(i) {
						t.Errorf("%s column %d: %q, API %q", enc, i, b, s.ColumnText(i))
					}
				case BLOB:
					if !bytes.Equal(b, s.ColumnBlob(i)) {
						t.Errorf("%s column %d: %x, API %x", enc, i, b, s.ColumnBlob(i))
					}
				}
			}
		}
		s.Finalize()
	}
	// No row: NULL.
	c := openMem(t, t.Name())
	s, _, _ := c.Prepare("SELECT 1", 0)
	defer s.Finalize()
	if typ, _, _, _ := s.Column(0); typ != NULL {
		t.Error("a column before the first step is not NULL")
	}
}
