package libsql

import (
	"database/sql"
	"database/sql/driver"
	"errors"
	"fmt"
	"reflect"
	"strconv"
	"time"
)

// assignValue stores a column value, as the database/sql driver returns it,
// in dest: the slow path of Rows.Scan, for destinations and value types
// without a fast path. It converts as database/sql's Rows.Scan does
// (convertAssign): numbers parse from their text form, NULL goes only into
// pointers, interfaces, []byte and sql.RawBytes, bool reads as
// driver.Bool reads.
func assignValue(dest any, src driver.Value) error {
	if src != nil {
		switch d := dest.(type) {
		case *string:
			*d = asString(src)
			return nil
		case *[]byte:
			*d = []byte(asString(src))
			return nil
		case *sql.RawBytes:
			*d = []byte(asString(src))
			return nil
		case *any:
			if b, ok := src.([]byte); ok {
				src = append([]byte{}, b...)
			}
			*d = src
			return nil
		}
	}
	dpv := reflect.ValueOf(dest)
	if dpv.Kind() != reflect.Pointer {
		return fmt.Errorf("destination %T is not a pointer", dest)
	}
	if dpv.IsNil() {
		return errors.New("destination pointer is nil")
	}
	dv := dpv.Elem()
	if src == nil {
		switch dv.Kind() {
		case reflect.Pointer, reflect.Interface, reflect.Slice, reflect.Map:
			dv.SetZero()
			return nil
		}
		return fmt.Errorf("converting NULL to %s is unsupported", dv.Type())
	}
	sv := reflect.ValueOf(src)
	if b, ok := src.([]byte); ok && dv.Kind() == reflect.Slice && dv.Type().Elem().Kind() == reflect.Uint8 {
		dv.SetBytes(append([]byte{}, b...))
		return nil
	}
	if sv.Type().AssignableTo(dv.Type()) {
		dv.Set(sv)
		return nil
	}
	if dv.Kind() == sv.Kind() && sv.Type().ConvertibleTo(dv.Type()) {
		dv.Set(sv.Convert(dv.Type()))
		return nil
	}
	switch dv.Kind() {
	case reflect.Pointer:
		p := reflect.New(dv.Type().Elem())
		if err := assignValue(p.Interface(), src); err != nil {
			return err
		}
		dv.Set(p)
		return nil
	case reflect.Int, reflect.Int8, reflect.Int16, reflect.Int32, reflect.Int64:
		s := asString(src)
		n, err := strconv.ParseInt(s, 10, dv.Type().Bits())
		if err != nil {
			return fmt.Errorf("converting %T (%q) to %s: %w", src, s, dv.Type(), numError(err))
		}
		dv.SetInt(n)
		return nil
	case reflect.Uint, reflect.Uint8, reflect.Uint16, reflect.Uint32, reflect.Uint64:
		s := asString(src)
		n, err := strconv.ParseUint(s, 10, dv.Type().Bits())
		if err != nil {
			return fmt.Errorf("converting %T (%q) to %s: %w", src, s, dv.Type(), numError(err))
		}
		dv.SetUint(n)
		return nil
	case reflect.Float32, reflect.Float64:
		s := asString(src)
		f, err := strconv.ParseFloat(s, dv.Type().Bits())
		if err != nil {
			return fmt.Errorf("converting %T (%q) to %s: %w", src, s, dv.Type(), numError(err))
		}
		dv.SetFloat(f)
		return nil
	case reflect.String:
		switch v := src.(type) {
		case string:
			dv.SetString(v)
			return nil
		case []byte:
			dv.SetString(string(v))
			return nil
		}
	case reflect.Bool:
		v, err := driver.Bool.ConvertValue(src)
		if err != nil {
			return err
		}
		dv.SetBool(v.(bool))
		return nil
	}
	return fmt.Errorf("unsupported Scan, storing %T into %T", src, dest)
}

// asString formats a column value as database/sql does to parse numbers
// from it.
func asString(src any) string {
	switch v := src.(type) {
	case string:
		return v
	case []byte:
		return string(v)
	case int64:
		return strconv.FormatInt(v, 10)
	case float64:
		return strconv.FormatFloat(v, 'g', -1, 64)
	case bool:
		return strconv.FormatBool(v)
	case time.Time:
		return v.Format(time.RFC3339Nano)
	}
	return fmt.Sprint(src)
}

// numError drops strconv's wrapping, which repeats the input.
func numError(err error) error {
	if ne, ok := err.(*strconv.NumError); ok {
		return ne.Err
	}
	return err
}
