package libsql

import (
	"bytes"
	"database/sql"
	"database/sql/driver"
	"math"
	"strings"
	"testing"
	"time"
)

func TestTypeRoundTrips(t *testing.T) {
	db := openTestDB(t, "")
	mustExec(t, db, "CREATE TABLE v(x)")
	ts := time.Date(2024, 2, 29, 13, 14, 15, 123456789, time.FixedZone("X", 5*3600+1800))
	tests := []struct {
		name string
		in   any
		want any // what Scan into *any returns
	}{
		{"int", int(-7), int64(-7)},
		{"int8", int8(math.MinInt8), int64(math.MinInt8)},
		{"int16", int16(math.MaxInt16), int64(math.MaxInt16)},
		{"int32", int32(math.MinInt32), int64(math.MinInt32)},
		{"int64", int64(math.MaxInt64), int64(math.MaxInt64)},
		{"uint", uint(42), int64(42)},
		{"uint8", uint8(255), int64(255)},
		{"uint16", uint16(math.MaxUint16), int64(math.MaxUint16)},
		{"uint32", uint32(math.MaxUint32), int64(math.MaxUint32)},
		{"uint64 max int64", uint64(math.MaxInt64), int64(math.MaxInt64)},
		{"bool true", true, int64(1)},
		{"bool false", false, int64(0)},
		{"float32", float32(0.5), float64(0.5)},
		{"float64", math.Pi, math.Pi},
		{"float64 inf", math.Inf(-1), math.Inf(-1)},
		{"string", "héllo\x00wörld", "héllo\x00wörld"},
		{"empty string", "", ""},
		{"bytes", []byte{0, 1, 2, 255}, []byte{0, 1, 2, 255}},
		{"empty bytes", []byte{}, []byte{}},
		{"nil bytes", []byte(nil), nil},
		{"nil", nil, nil},
		{"time", ts, ts.Format(time.RFC3339Nano)},
		{"named int type", myInt(9), int64(9)},
		{"valuer", valuer{"v"}, "v"},
		{"pointer", ptr(int64(5)), int64(5)},
		{"nil pointer", (*int64)(nil), nil},
		{"large string", strings.Repeat("x", 100_000), strings.Repeat("x", 100_000)},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			mustExec(t, db, "DELETE FROM v")
			mustExec(t, db, "INSERT INTO v VALUES (?)", tt.in)
			var got any
			if err := db.QueryRow("SELECT x FROM v").Scan(&got); err != nil {
				t.Fatal(err)
			}
			if !equalValue(got, tt.want) {
				t.Errorf("got %#v (%T), want %#v (%T)", got, got, tt.want, tt.want)
			}
		})
	}
}

type myInt int

type valuer struct{ s string }

func (v valuer) Value() (driver.Value, error) { return v.s, nil }

func ptr[T any](v T) *T { return &v }

func equalValue(a, b any) bool {
	if ab, ok := a.([]byte); ok {
		bb, ok := b.([]byte)
		return ok && bytes.Equal(ab, bb) && (ab == nil) == (bb == nil)
	}
	if af, ok := a.(float64); ok {
		bf, ok := b.(float64)
		return ok && (af == bf || (math.IsNaN(af) && math.IsNaN(bf)))
	}
	return a == b
}

func TestUint64AboveMaxInt64IsAnError(t *testing.T) {
	db := openTestDB(t, "")
	mustExec(t, db, "CREATE TABLE v(x)")
	for _, v := range []any{uint64(math.MaxInt64 + 1), uint64(math.MaxUint64), uint(math.MaxUint64)} {
		_, err := db.Exec("INSERT INTO v VALUES (?)", v)
		if err == nil || !strings.Contains(err.Error(), "overflows int64") {
			t.Errorf("Exec with %T(%v): err = %v, want an overflow error", v, v, err)
		}
	}
	var n int
	if err := db.QueryRow("SELECT count(*) FROM v").Scan(&n); err != nil {
		t.Fatalf("count after the rejected inserts: %v", err)
	}
	if n != 0 {
		t.Errorf("%d rows were inserted", n)
	}
}

func TestCheckNamedValueConvertsEveryWidth(t *testing.T) {
	c := &conn{}
	tests := []struct {
		in, want driver.Value
		skip     bool
	}{
		{int(1), int64(1), false}, {int8(1), int64(1), false}, {int16(1), int64(1), false},
		{int32(1), int64(1), false}, {int64(1), int64(1), false}, {uint(1), int64(1), false},
		{uint8(1), int64(1), false}, {uint16(1), int64(1), false}, {uint32(1), int64(1), false},
		{uint64(1), int64(1), false}, {float32(2), float64(2), false}, {float64(2), float64(2), false},
		{true, true, false}, {"s", "s", false}, {nil, nil, false},
		{myInt(1), nil, true}, {valuer{}, nil, true}, {struct{}{}, nil, true},
	}
	for _, tt := range tests {
		nv := driver.NamedValue{Ordinal: 1, Value: tt.in}
		err := c.CheckNamedValue(&nv)
		if tt.skip {
			if err != driver.ErrSkip {
				t.Errorf("%T: err %v, want ErrSkip", tt.in, err)
			}
			continue
		}
		if err != nil || nv.Value != tt.want {
			t.Errorf("%T: got %#v, %v; want %#v", tt.in, nv.Value, err, tt.want)
		}
	}
}

func TestTimeColumnsScanIntoTime(t *testing.T) {
	ts := time.Date(2023, 7, 1, 8, 30, 0, 500_000_000, time.UTC)
	for _, format := range []string{"", "rfc3339nano", "sqlite", "datetime", "unix", "unix_milli", "unix_micro", "unix_nano", "2006-01-02 15:04:05.000"} {
		t.Run("format="+format, func(t *testing.T) {
			q := ""
			if format != "" {
				q = "_time_format=" + format
			}
			db := openTestDB(t, q)
			mustExec(t, db, "CREATE TABLE e(d DATE, dt DATETIME, ts TIMESTAMP, other TEXT)")
			mustExec(t, db, "INSERT INTO e VALUES (?, ?, ?, ?)", ts, ts, ts, ts)
			var d, dt, tsv time.Time
			var other any
			if err := db.QueryRow("SELECT d, dt, ts, other FROM e").Scan(&d, &dt, &tsv, &other); err != nil {
				t.Fatal(err)
			}
			want := ts
			switch format {
			case "unix", "datetime":
				want = ts.Truncate(time.Second)
			case "2006-01-02 15:04:05.000", "unix_milli":
				want = ts.Truncate(time.Millisecond)
			}
			for _, got := range []time.Time{d, dt, tsv} {
				if !got.Equal(want) {
					t.Errorf("got %v, want %v", got, want)
				}
			}
			if _, ok := other.(time.Time); ok {
				t.Errorf("a TEXT column scanned as time.Time: %v", other)
			}
		})
	}
}

func TestTimeColumnsReadSQLiteAndForeignLayouts(t *testing.T) {
	db := openTestDB(t, "")
	mustExec(t, db, "CREATE TABLE e(d DATETIME)")
	for _, s := range []string{
		"2023-07-01 08:30:00", "2023-07-01T08:30:00Z", "2023-07-01 08:30:00.123+02:00",
		"2023-07-01", "2023-07-01 08:30", "2023-07-01 08:30:00 +0000 UTC",
	} {
		mustExec(t, db, "DELETE FROM e")
		mustExec(t, db, "INSERT INTO e VALUES (?)", s)
		var got time.Time
		if err := db.QueryRow("SELECT d FROM e").Scan(&got); err != nil {
			t.Errorf("%q: %v", s, err)
		}
		if got.Year() != 2023 || got.Month() != 7 || got.Day() != 1 {
			t.Errorf("%q read as %v", s, got)
		}
	}
	// Text that is not a time stays text.
	mustExec(t, db, "DELETE FROM e")
	mustExec(t, db, "INSERT INTO e VALUES ('not a date')")
	var s string
	if err := db.QueryRow("SELECT d FROM e").Scan(&s); err != nil || s != "not a date" {
		t.Errorf("got %q, %v", s, err)
	}
}

func TestNullScansIntoNullTypes(t *testing.T) {
	db := openTestDB(t, "")
	var (
		s  sql.NullString
		i  sql.NullInt64
		f  sql.NullFloat64
		b  []byte
		tm sql.NullTime
	)
	if err := db.QueryRow("SELECT NULL, NULL, NULL, NULL, NULL").Scan(&s, &i, &f, &b, &tm); err != nil {
		t.Fatal(err)
	}
	if s.Valid || i.Valid || f.Valid || b != nil || tm.Valid {
		t.Errorf("NULLs scanned as valid: %v %v %v %v %v", s, i, f, b, tm)
	}
}
