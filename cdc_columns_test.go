package libsql

import (
	"reflect"
	"testing"
)

// Changes name the columns the table has when the change is made, also
// after another connection renamed or added columns, or dropped the table
// and created it again as a WITHOUT ROWID one, and after the connection
// itself did so in the transaction making the change. (DROP TABLE deletes
// no rows one by one: it makes no changes.)
func TestCDCColumnsFollowSchemaChanges(t *testing.T) {
	for _, cdc := range []string{"off", "on"} {
		t.Run("cdc="+cdc, func(t *testing.T) {
			db := openTestDB(t, "cdc="+cdc)
			mustExec(t, db, "CREATE TABLE t(x, z)")
			s := stream(t, db, ChangeOptions{})
			a, b := dbConn(t, db), dbConn(t, db)
			cexec(t, a, "INSERT INTO t VALUES (1, 1)")
			cexec(t, b, "ALTER TABLE t RENAME COLUMN x TO y")
			cexec(t, a, "INSERT INTO t VALUES (2, 2)")
			cexec(t, b, "ALTER TABLE t ADD COLUMN w")
			cexec(t, a, "INSERT INTO t(w) VALUES (3)")
			cexec(t, b, "DROP TABLE t")
			cexec(t, b, "CREATE TABLE t(k, v, n, PRIMARY KEY(v, k)) WITHOUT ROWID")
			cexec(t, a, "INSERT INTO t VALUES ('k', 'v', 4)")
			cexec(t, a, "BEGIN")
			cexec(t, a, "DROP TABLE t")
			cexec(t, a, "CREATE TABLE t(p INTEGER PRIMARY KEY, q)")
			cexec(t, a, "INSERT INTO t VALUES (5, 6)")
			cexec(t, a, "COMMIT")
			got := next(t, s, 5)
			want := [][]string{{"x", "z"}, {"y", "z"}, {"y", "z", "w"}, {"k", "v", "n"}, {"p", "q"}}
			for i, ch := range got {
				if !reflect.DeepEqual(ch.Columns, want[i]) {
					t.Errorf("change %d (%s): columns %v, want %v", i, describeChange(ch), ch.Columns, want[i])
				}
			}
			expectChanges(t, got[3:], "insert t pk=[v k] new=[k v 4]", "insert t rowid=5 new=[5 6]")
			noMore(t, s)
		})
	}
}
