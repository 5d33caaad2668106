package changefeed

import (
	"encoding/base64"
	"fmt"
	"math"
	"strconv"
	"time"
	"unicode/utf8"
)

// AppendJSON appends c as one JSON object (no trailing newline) to dst and
// returns the extended slice; the CLI's tail prints one per line. The keys,
// always present and in this order:
//
//	{"lsn":N,"index":N,"table":"t","op":"insert|update|delete","rowid":N,
//	 "pk":[...]|null,"columns":["a",...],"old":{"a":v,...}|null,
//	 "new":{"a":v,...}|null,"indirect":false,"time":"RFC 3339, nanoseconds, UTC"}
//
// lsn is a JSON number holding the exact uint64. Values keep their SQLite
// type: INTEGER as a number (exact int64), REAL as a number that always has
// a fraction or exponent (1.0, 1e+21; NaN and infinities as the strings
// "NaN", "+Inf", "-Inf"), TEXT as a string (invalid UTF-8 replaced by
// U+FFFD), BLOB as {"base64":"..."} (standard alphabet, padded), NULL as
// null. In "old" and "new" a value whose column has no name (more values
// than Columns) is keyed by its position. It does not allocate when dst has
// room.
func AppendJSON(dst []byte, c *Change) []byte {
	dst = append(dst, `{"lsn":`...)
	dst = strconv.AppendUint(dst, uint64(c.LSN), 10)
	dst = append(dst, `,"index":`...)
	dst = strconv.AppendInt(dst, int64(c.Index), 10)
	dst = append(dst, `,"table":`...)
	dst = appendJSONString(dst, c.Table)
	dst = append(dst, `,"op":`...)
	dst = appendJSONString(dst, c.Op.String())
	dst = append(dst, `,"rowid":`...)
	dst = strconv.AppendInt(dst, c.RowID, 10)
	dst = append(dst, `,"pk":`...)
	if c.PK == nil {
		dst = append(dst, "null"...)
	} else {
		dst = append(dst, '[')
		for i, v := range c.PK {
			if i > 0 {
				dst = append(dst, ',')
			}
			dst = appendJSONValue(dst, v)
		}
		dst = append(dst, ']')
	}
	dst = append(dst, `,"columns":[`...)
	for i, col := range c.Columns {
		if i > 0 {
			dst = append(dst, ',')
		}
		dst = appendJSONString(dst, col)
	}
	dst = append(dst, `],"old":`...)
	dst = appendJSONRow(dst, c.Columns, c.Old)
	dst = append(dst, `,"new":`...)
	dst = appendJSONRow(dst, c.Columns, c.New)
	dst = append(dst, `,"indirect":`...)
	dst = strconv.AppendBool(dst, c.Indirect)
	dst = append(dst, `,"time":"`...)
	dst = c.CommitTime.UTC().AppendFormat(dst, time.RFC3339Nano)
	dst = append(dst, `"}`...)
	return dst
}

func appendJSONRow(dst []byte, cols []string, vals []any) []byte {
	if vals == nil {
		return append(dst, "null"...)
	}
	dst = append(dst, '{')
	for i, v := range vals {
		if i > 0 {
			dst = append(dst, ',')
		}
		if i < len(cols) {
			dst = appendJSONString(dst, cols[i])
		} else {
			dst = append(dst, '"')
			dst = strconv.AppendInt(dst, int64(i), 10)
			dst = append(dst, '"')
		}
		dst = append(dst, ':')
		dst = appendJSONValue(dst, v)
	}
	return append(dst, '}')
}

func appendJSONValue(dst []byte, v any) []byte {
	switch v := normalize(v).(type) {
	case nil:
		return append(dst, "null"...)
	case int64:
		return strconv.AppendInt(dst, v, 10)
	case float64:
		switch {
		case math.IsNaN(v):
			return append(dst, `"NaN"`...)
		case math.IsInf(v, 1):
			return append(dst, `"+Inf"`...)
		case math.IsInf(v, -1):
			return append(dst, `"-Inf"`...)
		}
		return appendJSONFloat(dst, v)
	case string:
		return appendJSONString(dst, v)
	case []byte:
		dst = append(dst, `{"base64":"`...)
		dst = base64.StdEncoding.AppendEncode(dst, v)
		return append(dst, `"}`...)
	default:
		return appendJSONString(dst, fmt.Sprint(v))
	}
}

// appendJSONFloat formats a finite float the way encoding/json does (plain
// notation for 1e-6 <= |v| < 1e21, else an exponent) and adds ".0" to an
// integral value, so that a reader sees a REAL, not an INTEGER.
func appendJSONFloat(dst []byte, v float64) []byte {
	abs := math.Abs(v)
	format := byte('f')
	if abs != 0 && (abs < 1e-6 || abs >= 1e21) {
		format = 'e'
	}
	n := len(dst)
	dst = strconv.AppendFloat(dst, v, format, -1, 64)
	if format == 'e' {
		// 1e-07 becomes 1e-7, as in encoding/json.
		if m := len(dst); m-n >= 4 && dst[m-4] == 'e' && dst[m-3] == '-' && dst[m-2] == '0' {
			dst[m-2] = dst[m-1]
			dst = dst[:m-1]
		}
		return dst
	}
	for _, c := range dst[n:] {
		if c == '.' {
			return dst
		}
	}
	return append(dst, ".0"...)
}

const hexDigits = "0123456789abcdef"

// appendJSONString appends s as a JSON string: quote, backslash and control
// characters escaped, U+2028 and U+2029 escaped (for JavaScript readers),
// invalid UTF-8 replaced by U+FFFD; no HTML escaping.
func appendJSONString(dst []byte, s string) []byte {
	dst = append(dst, '"')
	start := 0
	for i := 0; i < len(s); {
		c := s[i]
		if c < utf8.RuneSelf {
			if c >= 0x20 && c != '"' && c != '\\' {
				i++
				continue
			}
			dst = append(dst, s[start:i]...)
			switch c {
			case '"', '\\':
				dst = append(dst, '\\', c)
			case '\n':
				dst = append(dst, '\\', 'n')
			case '\r':
				dst = append(dst, '\\', 'r')
			case '\t':
				dst = append(dst, '\\', 't')
			default:
				dst = append(dst, '\\', 'u', '0', '0', hexDigits[c>>4], hexDigits[c&0xf])
			}
			i++
			start = i
			continue
		}
		r, size := utf8.DecodeRuneInString(s[i:])
		if r == utf8.RuneError && size == 1 {
			dst = append(dst, s[start:i]...)
			dst = append(dst, `\ufffd`...)
			i += size
			start = i
			continue
		}
		if r == '\u2028' || r == '\u2029' {
			dst = append(dst, s[start:i]...)
			dst = append(dst, '\\', 'u', '2', '0', '2', hexDigits[r&0xf])
			i += size
			start = i
			continue
		}
		i += size
	}
	dst = append(dst, s[start:]...)
	return append(dst, '"')
}
