package libsql

import (
	"database/sql/driver"
	"fmt"
	"math"
	"reflect"
	"strconv"
	"time"

	"github.com/golibsql/libsql/internal/capi"
)

// CheckNamedValue converts an argument to one of the types the driver binds
// (int64, float64, bool, string, []byte, time.Time, nil): every integer
// width, float32. A uint64 (or uint) above math.MaxInt64 is an error: SQLite
// integers are signed 64-bit and wrapping would store a different number.
// Other types go to database/sql's default conversion (driver.Valuer,
// pointers, named types).
func (c *conn) CheckNamedValue(nv *driver.NamedValue) error {
	switch v := nv.Value.(type) {
	case nil, int64, float64, bool, string, []byte, time.Time:
	case int:
		nv.Value = int64(v)
	case int8:
		nv.Value = int64(v)
	case int16:
		nv.Value = int64(v)
	case int32:
		nv.Value = int64(v)
	case uint8:
		nv.Value = int64(v)
	case uint16:
		nv.Value = int64(v)
	case uint32:
		nv.Value = int64(v)
	case uint:
		if uint64(v) > math.MaxInt64 {
			return fmt.Errorf("libsql: uint value %d overflows int64, SQLite's integer type", v)
		}
		nv.Value = int64(v)
	case uint64:
		if v > math.MaxInt64 {
			return fmt.Errorf("libsql: uint64 value %d overflows int64, SQLite's integer type", v)
		}
		nv.Value = int64(v)
	case float32:
		nv.Value = float64(v)
	default:
		if u, ok := bigUint(v); ok {
			return fmt.Errorf("libsql: %T value %d overflows int64, SQLite's integer type", v, u)
		}
		return driver.ErrSkip
	}
	return nil
}

// bigUint reports, for an argument database/sql's default conversion
// takes (a pointer, a named type), whether it holds an unsigned integer
// above math.MaxInt64, which that conversion would wrap to a negative
// number (a uint) instead of refusing. Valuers convert themselves.
func bigUint(v any) (uint64, bool) {
	rv := reflect.ValueOf(v)
	for {
		if !rv.IsValid() {
			return 0, false
		}
		if _, ok := rv.Interface().(driver.Valuer); ok {
			return 0, false
		}
		if rv.Kind() != reflect.Pointer {
			break
		}
		if rv.IsNil() {
			return 0, false
		}
		rv = rv.Elem()
	}
	switch rv.Kind() {
	case reflect.Uint, reflect.Uint64, reflect.Uintptr:
		if u := rv.Uint(); u > math.MaxInt64 {
			return u, true
		}
	}
	return 0, false
}

// bind binds args to the parameters of s. Parameters "?" and "?NNN" take
// the argument of that position; named ones (":a", "@a", "$a") the argument
// of that name or, if no argument has a name, of the parameter's position
// ("$1" also reads position 1). base shifts positions: in a multi-statement
// text each statement's positional parameters continue where the previous
// statement's ended. It returns the number of positions s used.
func (c *conn) bind(s *capi.Stmt, args []driver.NamedValue, base int) (int, error) {
	names := s.ParamNames()
	if len(names) == 0 {
		return 0, nil
	}
	named := false
	need := 0
	for i := range args {
		named = named || args[i].Name != ""
		switch v := args[i].Value.(type) {
		case string:
			need += len(v)
		case []byte:
			need += len(v)
		case time.Time:
			need += 64
		}
	}
	if err := s.ReserveBindBytes(need); err != nil {
		return 0, err
	}
	for i, name := range names {
		a, err := findArg(args, name, base+i+1, named)
		if err != nil {
			return 0, err
		}
		if err := c.bindValue(s, i+1, a.Value); err != nil {
			if _, ok := err.(*Error); ok {
				return 0, err
			}
			return 0, fmt.Errorf("libsql: argument for parameter %s: %w", paramLabel(name, i+1), err)
		}
	}
	return len(names), nil
}

// findArg returns the argument for the parameter named name ("" for "?")
// at position pos.
func findArg(args []driver.NamedValue, name string, pos int, named bool) (*driver.NamedValue, error) {
	if name != "" && name[0] != '?' {
		if named {
			for i := range args {
				if args[i].Name == name[1:] {
					return &args[i], nil
				}
			}
		}
		if n, err := strconv.Atoi(name[1:]); err == nil && name[0] == '$' && n > 0 {
			pos = n
		} else if named {
			return nil, fmt.Errorf("libsql: no argument named %q for parameter %s", name[1:], name)
		}
	}
	if pos <= len(args) && args[pos-1].Ordinal == pos {
		return &args[pos-1], nil
	}
	for i := range args {
		if args[i].Ordinal == pos {
			return &args[i], nil
		}
	}
	return nil, fmt.Errorf("libsql: no argument for parameter %s (%d arguments given)", paramLabel(name, pos), len(args))
}

func paramLabel(name string, i int) string {
	if name == "" {
		return "?" + strconv.Itoa(i)
	}
	return name
}

// bindValue binds one converted argument.
func (c *conn) bindValue(s *capi.Stmt, i int, v driver.Value) error {
	return convertError(storeValue(c, param{s, i}, v))
}

// valueSink is where storeValue puts a value: a statement's parameter
// (param) or a Go SQL function's result (funcResult, in functions.go).
type valueSink interface {
	int64(v int64) error
	float(v float64) error
	text(v string) error
	textBytes(v []byte) error
	blob(v []byte) error
	null() error
}

// storeValue stores a value of one of the types CheckNamedValue leaves
// (and an int) in sink, as SQLite's datatype: a bool as 0 or 1, a
// time.Time in the connection's _time_format, a nil []byte as NULL.
func storeValue[S valueSink](c *conn, sink S, v driver.Value) error {
	switch v := v.(type) {
	case int64:
		return sink.int64(v)
	case float64:
		return sink.float(v)
	case string:
		return sink.text(v)
	case bool:
		var n int64
		if v {
			n = 1
		}
		return sink.int64(n)
	case []byte:
		if v == nil {
			return sink.null()
		}
		return sink.blob(v)
	case time.Time:
		f := &c.cfg.timeFormat
		if f.layout == "" {
			return sink.int64(f.integer(v))
		}
		c.scratch = f.appendTime(c.scratch[:0], v)
		return sink.textBytes(c.scratch)
	case nil:
		return sink.null()
	case int:
		return sink.int64(int64(v))
	}
	return fmt.Errorf("unsupported type %T", v)
}

// param is parameter i of a statement, as a valueSink.
type param struct {
	s *capi.Stmt
	i int
}

func (p param) int64(v int64) error      { return p.s.BindInt64(p.i, v) }
func (p param) float(v float64) error    { return p.s.BindFloat(p.i, v) }
func (p param) text(v string) error      { return p.s.BindText(p.i, v) }
func (p param) textBytes(v []byte) error { return p.s.BindTextBytes(p.i, v) }
func (p param) blob(v []byte) error      { return p.s.BindBlob(p.i, v) }
func (p param) null() error              { return p.s.BindNull(p.i) }
