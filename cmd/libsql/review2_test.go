package main

import (
	"strings"
	"testing"
)

// Fixed: table mode wrote C1 control characters (U+0080..U+009F) raw:
// width.go's runeWidth says "Control characters never reach it: table
// cells escape them first", but format.go escapeControl escapes only
// C0 and DEL, so U+0085 (NEL) or U+009B (CSI) reach the terminal, counted
// as one column each.
func TestCLIReview2TableEscapesC1Controls(t *testing.T) {
	db := newDB(t, "", "CREATE TABLE t(s TEXT)", "INSERT INTO t VALUES ('a' || char(133) || 'b' || char(155) || '2J')")
	r := runTool(t, "SELECT s FROM t;\n", "shell", db)
	r.want(t, 0)
	if strings.ContainsFunc(r.stdout, func(r rune) bool { return r >= 0x80 && r <= 0x9f }) {
		t.Errorf("table cell holds raw C1 control characters: %q", r.stdout)
	}
}
