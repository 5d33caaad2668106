package libsql

import (
	"math"
	"reflect"
	"testing"
	"time"
)

func TestColumnTypesDescribeTheSchema(t *testing.T) {
	db := openTestDB(t, "")
	mustExec(t, db, `CREATE TABLE t(
		id INTEGER PRIMARY KEY,
		name VARCHAR(20) NOT NULL,
		note text,
		score DOUBLE PRECISION,
		flag BOOLEAN,
		born DATE,
		seen TIMESTAMP,
		data BLOB,
		amount DECIMAL(10,2),
		anything
	)`)
	mustExec(t, db, "INSERT INTO t VALUES (1, 'a', NULL, 1.5, 1, '2020-01-02', '2020-01-02T03:04:05Z', x'00', 12.5, 7)")
	rows, err := db.Query("SELECT id, name, note, score, flag, born, seen, data, amount, anything, 1 + 1 AS expr FROM t")
	if err != nil {
		t.Fatal(err)
	}
	defer rows.Close()
	if !rows.Next() {
		t.Fatal(rows.Err())
	}
	types, err := rows.ColumnTypes()
	if err != nil {
		t.Fatal(err)
	}
	want := []struct {
		name, dbType  string
		scan          reflect.Type
		nullable, nok bool
		length        int64
		lok           bool
	}{
		{"id", "INTEGER", typeInt64, false, true, 0, false},
		{"name", "VARCHAR", typeString, false, true, 20, true},
		{"note", "TEXT", typeString, true, true, math.MaxInt64, true},
		{"score", "DOUBLE PRECISION", typeFloat64, true, true, 0, false},
		{"flag", "BOOLEAN", typeBool, true, true, 0, false},
		{"born", "DATE", reflect.TypeFor[time.Time](), true, true, 0, false},
		{"seen", "TIMESTAMP", reflect.TypeFor[time.Time](), true, true, 0, false},
		{"data", "BLOB", typeBytes, true, true, math.MaxInt64, true},
		{"amount", "DECIMAL", typeFloat64, true, true, 0, false},
		{"anything", "", typeInt64, true, true, 0, false},
		{"expr", "", typeInt64, false, false, 0, false},
	}
	if len(types) != len(want) {
		t.Fatalf("%d column types", len(types))
	}
	for i, w := range want {
		ct := types[i]
		if ct.Name() != w.name || ct.DatabaseTypeName() != w.dbType || ct.ScanType() != w.scan {
			t.Errorf("column %d: %q %q %v, want %q %q %v", i, ct.Name(), ct.DatabaseTypeName(), ct.ScanType(), w.name, w.dbType, w.scan)
		}
		if n, ok := ct.Nullable(); n != w.nullable || ok != w.nok {
			t.Errorf("column %s: Nullable %v %v, want %v %v", w.name, n, ok, w.nullable, w.nok)
		}
		if l, ok := ct.Length(); l != w.length || ok != w.lok {
			t.Errorf("column %s: Length %v %v, want %v %v", w.name, l, ok, w.length, w.lok)
		}
	}
	var (
		id              int64
		name            string
		note            *string
		score           float64
		flag            bool
		born, seen      time.Time
		data            []byte
		amount          float64
		anything, expr2 int64
	)
	if err := rows.Scan(&id, &name, &note, &score, &flag, &born, &seen, &data, &amount, &anything, &expr2); err != nil {
		t.Fatal(err)
	}
	if !born.Equal(time.Date(2020, 1, 2, 0, 0, 0, 0, time.UTC)) || !flag || expr2 != 2 {
		t.Errorf("scanned %v %v %v", born, flag, expr2)
	}
}
