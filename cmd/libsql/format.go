package main

import (
	"encoding/base64"
	"encoding/hex"
	"fmt"
	"io"
	"math"
	"strconv"
	"strings"
	"time"
	"unicode"
	"unicode/utf8"
)

// outputMode is how the shell prints a query's result.
type outputMode int

const (
	// modeTable: aligned columns in a box, with a header; numbers right
	// aligned, NULL as NULL, blobs as x'hex', control characters escaped.
	// Columns are aligned by terminal width (textWidth): a wide (CJK)
	// character takes two columns, a combining mark none.
	modeTable outputMode = iota
	// modeCSV: a header line, then one line per row, quoted per RFC 4180
	// (fields holding a comma, a quote or a line break are enclosed in
	// quotes, quotes doubled), lines ending in \n; NULL is an empty field,
	// an empty string is "" (as the sqlite3 shell writes it), a blob is
	// x'hex'.
	modeCSV
	// modeJSON: one JSON array of objects per query, one object per row,
	// keys in column order; values typed as libsql tail types them
	// (integers and reals as numbers, text as strings, blobs as
	// {"base64":"..."}, NULL as null).
	modeJSON
)

var modeNames = [...]string{modeTable: "table", modeCSV: "csv", modeJSON: "json"}

func (m outputMode) String() string { return modeNames[m] }

// parseMode reads a mode name.
func parseMode(s string) (outputMode, bool) {
	for m, n := range modeNames {
		if strings.EqualFold(s, n) {
			return outputMode(m), true
		}
	}
	return 0, false
}

// renderer prints one query's result in some mode: header, then rows,
// then end.
type renderer interface {
	row(vals []any) error
	end() error
}

// newRenderer starts printing a result with the columns cols to w.
func newRenderer(mode outputMode, w io.Writer, cols []string) renderer {
	switch mode {
	case modeCSV:
		r := &csvRenderer{w: w}
		for i, c := range cols {
			if i > 0 {
				r.buf = append(r.buf, ',')
			}
			r.buf = appendCSVField(r.buf, c)
		}
		r.buf = append(r.buf, '\n')
		return r
	case modeJSON:
		return &jsonRenderer{w: w, cols: cols}
	}
	return &tableRenderer{w: w, cols: cols}
}

// tableRenderer collects the rows to size the columns.
type tableRenderer struct {
	w       io.Writer
	cols    []string
	rows    [][]string
	numeric [][]bool
}

func (r *tableRenderer) row(vals []any) error {
	cells := make([]string, len(vals))
	num := make([]bool, len(vals))
	for i, v := range vals {
		cells[i] = escapeControl(textValue(v, "NULL"))
		switch v.(type) {
		case int64, float64:
			num[i] = true
		}
	}
	r.rows = append(r.rows, cells)
	r.numeric = append(r.numeric, num)
	return nil
}

func (r *tableRenderer) end() error {
	width := make([]int, len(r.cols))
	header := make([]string, len(r.cols))
	for i, c := range r.cols {
		header[i] = escapeControl(c)
		width[i] = textWidth(header[i])
	}
	for _, row := range r.rows {
		for i, c := range row {
			width[i] = max(width[i], textWidth(c))
		}
	}
	var b strings.Builder
	rule := func() {
		for _, n := range width {
			b.WriteString("+")
			b.WriteString(strings.Repeat("-", n+2))
		}
		b.WriteString("+\n")
	}
	line := func(cells []string, numeric []bool) {
		for i, c := range cells {
			pad := strings.Repeat(" ", width[i]-textWidth(c))
			if numeric != nil && numeric[i] {
				b.WriteString("| " + pad + c + " ")
			} else {
				b.WriteString("| " + c + pad + " ")
			}
		}
		b.WriteString("|\n")
	}
	rule()
	line(header, nil)
	rule()
	for i, row := range r.rows {
		line(row, r.numeric[i])
	}
	if len(r.rows) > 0 {
		rule()
	}
	_, err := io.WriteString(r.w, b.String())
	return err
}

// csvRenderer writes each row as it comes, the header with the first
// (or at the end, for a result without rows).
type csvRenderer struct {
	w   io.Writer
	buf []byte // the header until it is written, then the row being written
}

func (r *csvRenderer) row(vals []any) error {
	b := r.buf
	for i, v := range vals {
		if i > 0 {
			b = append(b, ',')
		}
		if v != nil { // NULL is an empty field
			b = appendCSVField(b, textValue(v, ""))
		}
	}
	b = append(b, '\n')
	_, err := r.w.Write(b)
	r.buf = b[:0]
	return err
}

func (r *csvRenderer) end() error {
	if len(r.buf) > 0 { // the header of a result without rows
		_, err := r.w.Write(r.buf)
		r.buf = r.buf[:0]
		return err
	}
	return nil
}

// appendCSVField appends s as a field of a CSV line. It is enclosed in
// quotes, with quotes doubled, when it holds a comma, a quote or a line
// break, starts with a space or is \. (as encoding/csv quotes), and when it
// is empty: an empty field stands for NULL, and a line of one empty field
// would read back as no record at all.
func appendCSVField(b []byte, s string) []byte {
	if s != "" && s != `\.` && !strings.ContainsAny(s, ",\"\r\n") {
		if r, _ := utf8.DecodeRuneInString(s); !unicode.IsSpace(r) {
			return append(b, s...)
		}
	}
	b = append(b, '"')
	for i := 0; i < len(s); i++ {
		if s[i] == '"' {
			b = append(b, '"')
		}
		b = append(b, s[i])
	}
	return append(b, '"')
}

// jsonRenderer writes each row as it comes, in the layout of the sqlite3
// shell's json mode: "[{...},\n{...}]\n".
type jsonRenderer struct {
	w    io.Writer
	cols []string
	n    int
	buf  []byte
}

func (r *jsonRenderer) row(vals []any) error {
	b := r.buf[:0]
	if r.n == 0 {
		b = append(b, '[')
	} else {
		b = append(b, ",\n"...)
	}
	r.n++
	b = append(b, '{')
	for i, v := range vals {
		if i > 0 {
			b = append(b, ',')
		}
		b = appendJSONString(b, r.cols[i])
		b = append(b, ':')
		b = appendJSONValue(b, v)
	}
	b = append(b, '}')
	r.buf = b
	_, err := r.w.Write(b)
	return err
}

func (r *jsonRenderer) end() error {
	s := "]\n"
	if r.n == 0 {
		s = "[]\n"
	}
	_, err := io.WriteString(r.w, s)
	return err
}

// textValue formats a value as the table and csv modes show it; null is
// what NULL becomes.
func textValue(v any, null string) string {
	switch v := v.(type) {
	case nil:
		return null
	case int64:
		return strconv.FormatInt(v, 10)
	case float64:
		return formatReal(v)
	case string:
		return v
	case []byte:
		return "x'" + hex.EncodeToString(v) + "'"
	case time.Time:
		return v.Format(time.RFC3339Nano)
	case bool:
		if v {
			return "1"
		}
		return "0"
	}
	return fmt.Sprint(v)
}

// formatReal formats a REAL so that it always reads as one: 1.0, 0.5,
// 1.0e+20 (the sqlite3 shell's style), NaN, +Inf, -Inf.
func formatReal(v float64) string {
	switch {
	case math.IsNaN(v):
		return "NaN"
	case math.IsInf(v, 1):
		return "+Inf"
	case math.IsInf(v, -1):
		return "-Inf"
	}
	if a := math.Abs(v); a == 0 || (a >= 1e-4 && a < 1e15) {
		s := strconv.FormatFloat(v, 'f', -1, 64)
		if !strings.Contains(s, ".") {
			s += ".0"
		}
		return s
	}
	s := strconv.FormatFloat(v, 'e', -1, 64)
	if i := strings.IndexByte(s, 'e'); i >= 0 && !strings.Contains(s[:i], ".") {
		s = s[:i] + ".0" + s[i:]
	}
	return s
}

// isControl reports whether r is a control character a table cell must
// not write raw: C0, DEL and C1 (U+0080-U+009F, which some terminals obey:
// U+009B starts a control sequence), and the line and paragraph
// separators.
func isControl(r rune) bool {
	return r < 0x20 || r >= 0x7f && r <= 0x9f || r == 0x2028 || r == 0x2029
}

// escapeControl shows control characters of a table cell as escapes, so
// that a value cannot break the table's lines.
func escapeControl(s string) string {
	if !strings.ContainsFunc(s, isControl) {
		return s
	}
	var b strings.Builder
	for _, r := range s {
		switch {
		case r == '\n':
			b.WriteString(`\n`)
		case r == '\r':
			b.WriteString(`\r`)
		case r == '\t':
			b.WriteString(`\t`)
		case r < 0x20 || r == 0x7f:
			fmt.Fprintf(&b, `\x%02x`, r)
		case isControl(r):
			fmt.Fprintf(&b, `\u%04x`, r)
		default:
			b.WriteRune(r)
		}
	}
	return b.String()
}

// appendJSONValue appends v as JSON, typed as changefeed.AppendJSON types
// values.
func appendJSONValue(b []byte, v any) []byte {
	switch v := v.(type) {
	case nil:
		return append(b, "null"...)
	case int64:
		return strconv.AppendInt(b, v, 10)
	case float64:
		s := formatReal(v)
		if math.IsNaN(v) || math.IsInf(v, 0) {
			return appendJSONString(b, s)
		}
		return append(b, s...)
	case []byte:
		b = append(b, `{"base64":"`...)
		b = base64.StdEncoding.AppendEncode(b, v)
		return append(b, `"}`...)
	case bool:
		return strconv.AppendBool(b, v)
	}
	return appendJSONString(b, textValue(v, ""))
}

// appendJSONString appends s as a JSON string; invalid UTF-8 becomes
// U+FFFD.
func appendJSONString(b []byte, s string) []byte {
	const hexDigits = "0123456789abcdef"
	b = append(b, '"')
	for i := 0; i < len(s); {
		c := s[i]
		if c < utf8.RuneSelf {
			switch {
			case c == '"' || c == '\\':
				b = append(b, '\\', c)
			case c == '\n':
				b = append(b, `\n`...)
			case c == '\r':
				b = append(b, `\r`...)
			case c == '\t':
				b = append(b, `\t`...)
			case c < 0x20:
				b = append(b, '\\', 'u', '0', '0', hexDigits[c>>4], hexDigits[c&0xf])
			default:
				b = append(b, c)
			}
			i++
			continue
		}
		r, size := utf8.DecodeRuneInString(s[i:])
		if r == utf8.RuneError && size == 1 {
			b = append(b, "\ufffd"...)
		} else {
			b = append(b, s[i:i+size]...)
		}
		i += size
	}
	return append(b, '"')
}
