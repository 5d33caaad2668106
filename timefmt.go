package libsql

import (
	"fmt"
	"strings"
	"time"
)

// timeFormat is how time.Time arguments are stored, set by _time_format.
type timeFormat struct {
	name   string
	layout string        // text layout for time.Format; "" when stored as an integer
	unit   time.Duration // for integers: seconds, milliseconds, ... since the Unix epoch
	utc    bool          // convert to UTC first (the layout has no zone)
}

// timeFormats are the named values of _time_format. Any other value
// containing "2006" is taken as a Go time layout.
var timeFormats = map[string]timeFormat{
	"rfc3339nano": {name: "rfc3339nano", layout: time.RFC3339Nano},
	"sqlite":      {name: "sqlite", layout: "2006-01-02 15:04:05.999999999-07:00"},
	"datetime":    {name: "datetime", layout: "2006-01-02 15:04:05", utc: true},
	"unix":        {name: "unix", unit: time.Second},
	"unix_milli":  {name: "unix_milli", unit: time.Millisecond},
	"unix_micro":  {name: "unix_micro", unit: time.Microsecond},
	"unix_nano":   {name: "unix_nano", unit: time.Nanosecond},
}

func parseTimeFormat(v string) (timeFormat, error) {
	if f, ok := timeFormats[strings.ToLower(v)]; ok {
		return f, nil
	}
	if strings.Contains(v, "2006") {
		return timeFormat{name: v, layout: v}, nil
	}
	return timeFormat{}, fmt.Errorf("want rfc3339nano, sqlite, datetime, unix, unix_milli, unix_micro, unix_nano or a Go layout containing 2006")
}

// appendTime formats t as text; it is only called when f.layout is set.
func (f timeFormat) appendTime(b []byte, t time.Time) []byte {
	if f.utc {
		t = t.UTC()
	}
	return t.AppendFormat(b, f.layout)
}

// integer returns t as an integer of f.unit since the Unix epoch.
func (f timeFormat) integer(t time.Time) int64 {
	switch f.unit {
	case time.Second:
		return t.Unix()
	case time.Millisecond:
		return t.UnixMilli()
	case time.Microsecond:
		return t.UnixMicro()
	default:
		return t.UnixNano()
	}
}

// fromInteger is the inverse of integer, in UTC.
func (f timeFormat) fromInteger(v int64) time.Time {
	switch f.unit {
	case time.Second:
		return time.Unix(v, 0).UTC()
	case time.Millisecond:
		return time.UnixMilli(v).UTC()
	case time.Microsecond:
		return time.UnixMicro(v).UTC()
	default:
		return time.Unix(0, v).UTC()
	}
}

// readLayouts are tried, after the configured one, to read the text of a
// DATE, DATETIME or TIMESTAMP column: what this driver writes, what SQLite's
// date functions write, and Go's time.Time.String (other drivers' default).
// A layout without a zone reads as UTC.
var readLayouts = []string{
	time.RFC3339Nano,
	"2006-01-02 15:04:05.999999999Z07:00",
	"2006-01-02T15:04:05.999999999",
	"2006-01-02 15:04:05.999999999",
	"2006-01-02T15:04",
	"2006-01-02 15:04",
	"2006-01-02",
	"2006-01-02 15:04:05.999999999 -0700 MST",
}

// parseTime reads the text of a time column. It reports false for text that
// is not a time in any known layout.
func (f timeFormat) parseTime(s string) (time.Time, bool) {
	if len(s) < len("2006-01-02") || s[4] != '-' || s[7] != '-' {
		return time.Time{}, false
	}
	// time.Time.String of a time read from the clock ends with the
	// monotonic reading, " m=+0.005783884", which no layout parses.
	if i := strings.LastIndex(s, " m="); i > 0 && i+3 < len(s) && (s[i+3] == '+' || s[i+3] == '-') {
		s = s[:i]
	}
	if f.layout != "" {
		if t, err := time.Parse(f.layout, s); err == nil {
			return t, true
		}
	}
	for _, l := range readLayouts {
		if l == f.layout {
			continue
		}
		if t, err := time.Parse(l, s); err == nil {
			return t, true
		}
	}
	return time.Time{}, false
}
