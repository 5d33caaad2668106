package capi

import (
	"path/filepath"
	"testing"
)

// pragmaHeader reads through SQL the values TxHeader reads from memory.
func pragmaHeader(t *testing.T, c *Conn) TxHeader {
	t.Helper()
	s, _, err := c.Prepare("SELECT page_count, freelist_count, schema_version, user_version, application_id FROM pragma_page_count, pragma_freelist_count, pragma_schema_version, pragma_user_version, pragma_application_id", 0)
	if err != nil {
		t.Fatal(err)
	}
	defer s.Finalize()
	row, err := s.Step()
	if err != nil || !row {
		t.Fatalf("header pragmas: row %v, %v", row, err)
	}
	return TxHeader{
		PageCount:     uint32(s.ColumnInt64(0)),
		FreelistCount: uint32(s.ColumnInt64(1)),
		SchemaCookie:  uint32(s.ColumnInt64(2)),
		UserVersion:   uint32(s.ColumnInt64(3)),
		ApplicationID: uint32(s.ColumnInt64(4)),
	}
}

// TxHeader must agree with the pragmas at every point of a transaction,
// its own uncommitted changes to each field included, and say !ok outside
// one.
func TestTxHeaderMatchesThePragmas(t *testing.T) {
	c := openFile(t, filepath.Join(t.TempDir(), "h.db"))
	if err := c.Exec("CREATE TABLE t(x)"); err != nil {
		t.Fatal(err)
	}
	if h, ok := c.TxHeader(); ok {
		t.Fatalf("TxHeader outside a transaction: %+v, ok", h)
	}
	steps := []string{
		"BEGIN",
		"WITH RECURSIVE n(i) AS (SELECT 1 UNION ALL SELECT i+1 FROM n WHERE i < 50) INSERT INTO t SELECT randomblob(3000) FROM n",
		"DELETE FROM t WHERE rowid % 2 = 0",
		"PRAGMA user_version = 7",
		"PRAGMA application_id = 1234567",
		"CREATE TABLE u(y)",
		"CREATE INDEX ti ON t(x)",
		"DROP TABLE u",
	}
	seen := map[TxHeader]bool{}
	for _, step := range steps {
		if err := c.Exec(step); err != nil {
			t.Fatalf("%s: %v", step, err)
		}
		want := pragmaHeader(t, c)
		got, ok := c.TxHeader()
		if !ok || got != want {
			t.Errorf("after %q: TxHeader %+v (ok %v), pragmas say %+v", step, got, ok, want)
		}
		seen[want] = true
	}
	if len(seen) != len(steps) {
		t.Errorf("only %d distinct headers in %d steps: the test does not change every field", len(seen), len(steps))
	}
	if err := c.Exec("ROLLBACK"); err != nil {
		t.Fatal(err)
	}
}
