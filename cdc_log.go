package libsql

import (
	"fmt"
	"io"
	"slices"
	"time"

	"github.com/golibsql/libsql/changefeed"
	"github.com/golibsql/libsql/internal/capi"
	"github.com/golibsql/libsql/iouring_vfs"
)

// changeLog holds the row changes the running transaction captured, each
// encoded as the changefeed codec encodes a transaction's changes
// (changefeed.AppendChange), one after the other: the latest in a buffer,
// the others, once they pass maxLogBuf, in a temporary file of the VFS (in
// memory up to its bounds, on disk past them), so that a big transaction's
// changes do not stay in memory, and a small one's never leave the
// buffer. Storing them (cdc=on) and publishing them assemble the
// transaction's encoding from it; a rebase reads them back one by one. It
// belongs to one connection. The zero value is empty.
type changeLog struct {
	schemas changefeed.Schemas
	recs    []logRec
	// The changes' encodings before flushed are in file (created at the
	// first flush), the others, from change tailFrom on, in tail.
	file     *iouringvfs.TempFile
	flushed  int64
	tail     []byte
	tailFrom int
	buf      []byte // for reading from file
	// err is the first failure to keep a change, the errAt-th: the log
	// lacks the changes from there on.
	err   error
	errAt int
}

// logRec is one change of a changeLog: its encoding runs from the previous
// record's end to end.
type logRec struct {
	end      int64
	oldRowID int64 // the rowid before the change (an UPDATE may move a row), for the rebase
	schema   int32 // its (table, columns) pair in schemas; -1 for a lost change (lose)
}

// testHookCapture, set by tests, runs as a change of table is captured,
// before anything is recorded (a test makes it panic).
var testHookCapture func(table string)

// maxLogBuf is how many bytes of changes a changeLog keeps in its buffer
// before it moves them to its file.
const maxLogBuf = 64 << 10

// n returns the number of changes in the log.
func (l *changeLog) n() int { return len(l.recs) }

// size returns the bytes the changes' encodings take.
func (l *changeLog) size() int64 {
	if len(l.recs) == 0 {
		return 0
	}
	return l.recs[len(l.recs)-1].end
}

// table returns the table of change i.
func (l *changeLog) table(i int) string {
	if k := l.recs[i].schema; k >= 0 {
		return l.schemas.Table(int(k))
	}
	return "" // a lost change's
}

// add records a change, numbered with l.schemas as schema, whose encoding
// the caller appended to l.tail, giving tail.
func (l *changeLog) add(schema int, oldRowID int64, tail []byte) {
	l.tail = tail
	l.recs = append(l.recs, logRec{end: l.flushed + int64(len(tail)), oldRowID: oldRowID, schema: int32(schema)})
	if len(tail) >= maxLogBuf {
		l.flush()
	}
}

// flush moves the buffered changes to the file. If the file cannot take
// them, they are counted all the same, and the log remembers the failure
// (err).
func (l *changeLog) flush() {
	if l.file == nil {
		l.file = iouringvfs.NewTempFile()
	}
	if err := l.file.WriteAt(l.tail, l.flushed); err != nil {
		l.failAt(fmt.Errorf("libsql: keeping the transaction's row changes: %w", err), l.tailFrom)
	}
	l.flushed += int64(len(l.tail))
	l.tail = l.tail[:0]
	if cap(l.tail) > 2*maxLogBuf {
		l.tail = nil // a big value's: not kept for the next changes
	}
	l.tailFrom = len(l.recs)
}

// lose records a change that was lost before anything of it was
// recorded: it takes its place among the changes, with no encoding, so
// that a truncation to before it (a savepoint taken before it, rolled
// back) forgets the loss, and one to after it does not.
func (l *changeLog) lose(err error) {
	l.failAt(err, len(l.recs))
	l.recs = append(l.recs, logRec{end: l.size(), schema: -1})
}

// failAt records that the changes from the i-th on are lost, unless an
// earlier one is.
func (l *changeLog) failAt(err error, i int) {
	if l.err == nil {
		l.err, l.errAt = err, i
	}
}

// addChange appends ch, a change with its values as Go values.
func (l *changeLog) addChange(ch *changefeed.Change, oldRowID int64) {
	k := l.schemas.Index(ch.Table, ch.Columns)
	l.add(k, oldRowID, changefeed.AppendChange(l.tail, k, ch))
}

// addPreUpdate appends the change p reports, with its table's layout
// (column names; a WITHOUT ROWID table's primary key, which replaces the
// rowid).
func (l *changeLog) addPreUpdate(p *capi.PreUpdate, layout *capi.TableLayout) {
	if h := testHookCapture; h != nil {
		h(p.Table)
	}
	var op changefeed.Op
	rowID := p.NewRowID
	switch p.Op {
	case capi.INSERT:
		op = changefeed.Insert
	case capi.UPDATE:
		op = changefeed.Update
	default:
		op, rowID = changefeed.Delete, p.OldRowID
	}
	k := l.schemas.Index(p.Table, layout.Names)
	n := p.Count()
	hasOld, hasNew := op != changefeed.Insert, op != changefeed.Delete
	if layout.WithoutRowid {
		rowID = 0
	}
	b := changefeed.AppendChangeHead(l.tail, k, op, p.Depth() > 0, rowID, layout.WithoutRowid, hasOld, hasNew)
	if layout.WithoutRowid {
		row := p.NewRaw
		if !hasNew {
			row = p.OldRaw
		}
		b = changefeed.AppendValueCount(b, len(layout.PK))
		for _, i := range layout.PK {
			if i < 0 || i >= n {
				b = changefeed.AppendNull(b)
				continue
			}
			b = appendRawValue(b, row, i)
		}
	}
	if hasOld {
		b = changefeed.AppendValueCount(b, n)
		for i := range n {
			b = appendRawValue(b, p.OldRaw, i)
		}
	}
	if hasNew {
		b = changefeed.AppendValueCount(b, n)
		for i := range n {
			b = appendRawValue(b, p.NewRaw, i)
		}
	}
	l.add(k, p.OldRowID, b)
}

// appendRawValue appends value i of a row as capi reports it raw.
func appendRawValue(b []byte, row func(int) (int32, int64, float64, []byte), i int) []byte {
	typ, i64, f64, raw := row(i)
	switch typ {
	case capi.INTEGER:
		return changefeed.AppendInt(b, i64)
	case capi.FLOAT:
		return changefeed.AppendFloat(b, f64)
	case capi.TEXT:
		return changefeed.AppendText(b, raw)
	case capi.BLOB:
		return changefeed.AppendBlob(b, raw)
	}
	return changefeed.AppendNull(b)
}

// record returns change i's encoding: a view of the buffer, or read from
// the file into l.buf. It is valid until the log next changes or reads.
func (l *changeLog) record(i int) ([]byte, error) {
	var start int64
	if i > 0 {
		start = l.recs[i-1].end
	}
	end := l.recs[i].end
	if start >= l.flushed {
		return l.tail[start-l.flushed : end-l.flushed], nil
	}
	b := slices.Grow(l.buf[:0], int(end-start))[:end-start]
	if cap(b) <= maxLogBuf {
		l.buf = b
	}
	if err := l.file.ReadAt(b, start); err != nil {
		return nil, fmt.Errorf("libsql: reading back captured change %d: %w", i, err)
	}
	return b, nil
}

// change decodes change i, and returns it with the rowid it had before.
func (l *changeLog) change(i int) (changefeed.Change, int64, error) {
	if l.err != nil && i >= l.errAt {
		return changefeed.Change{}, 0, l.err
	}
	b, err := l.record(i)
	if err != nil {
		return changefeed.Change{}, 0, err
	}
	var ch changefeed.Change
	if err := l.schemas.DecodeChange(b, &ch); err != nil {
		return ch, 0, fmt.Errorf("libsql: captured change %d: %w", i, err)
	}
	return ch, l.recs[i].oldRowID, nil
}

// changes decodes the changes keep accepts (by index), in order.
func (l *changeLog) changes(keep func(i int) bool) ([]changefeed.Change, error) {
	if l.err != nil {
		return nil, l.err
	}
	out := make([]changefeed.Change, 0, len(l.recs))
	for i := range l.recs {
		if !keep(i) {
			continue
		}
		b, err := l.record(i)
		if err != nil {
			return nil, err
		}
		out = out[:len(out)+1]
		if err := l.schemas.DecodeChange(b, &out[len(out)-1]); err != nil {
			return nil, fmt.Errorf("libsql: captured change %d: %w", i, err)
		}
	}
	return out, nil
}

// txEncoding returns the encoding of the transaction of the changes keep
// accepts (by index), with lsn and commit time t, as changefeed.EncodeTx
// would write it, in two parts: its header, appended to dst, and a reader
// of the rest (the changes' encodings, read back from the log as it is
// read) with its size.
func (l *changeLog) txEncoding(lsn changefeed.LSN, t time.Time, keep func(i int) bool, dst []byte) (head []byte, rest int64, body io.Reader, err error) {
	if l.err != nil {
		return nil, 0, nil, l.err
	}
	n := 0
	var start int64
	for i, r := range l.recs {
		if keep(i) {
			n++
			rest += r.end - start
		}
		start = r.end
	}
	return changefeed.AppendTxHeader(dst, lsn, t, &l.schemas, n), rest, &logReader{l: l, keep: keep}, nil
}

// logReader reads the encodings of the changes of a log that keep
// accepts, one after the other.
type logReader struct {
	l    *changeLog
	keep func(i int) bool
	i    int   // the change being read
	pos  int64 // the next byte of it to read, in the log's file
}

func (r *logReader) Read(p []byte) (int, error) {
	l, n := r.l, 0
	for n < len(p) {
		for r.i < len(l.recs) && (r.pos >= l.recs[r.i].end || !r.keep(r.i)) {
			r.pos = l.recs[r.i].end
			r.i++
		}
		if r.i == len(l.recs) {
			if n == 0 {
				return 0, io.EOF
			}
			break
		}
		m := int(min(int64(len(p)-n), l.recs[r.i].end-r.pos))
		if r.pos >= l.flushed {
			copy(p[n:n+m], l.tail[r.pos-l.flushed:])
		} else if err := l.file.ReadAt(p[n:n+m], r.pos); err != nil {
			return n, fmt.Errorf("libsql: reading back captured change %d: %w", r.i, err)
		}
		r.pos += int64(m)
		n += m
	}
	return n, nil
}

// truncate forgets the changes after the first n.
func (l *changeLog) truncate(n int) {
	if n >= len(l.recs) {
		return
	}
	l.recs = l.recs[:n]
	if l.err != nil && n <= l.errAt {
		l.err = nil
	}
	if n == 0 {
		l.schemas.Reset()
	}
	end := l.size()
	if end >= l.flushed {
		l.tail = l.tail[:end-l.flushed]
		return
	}
	l.tail, l.flushed, l.tailFrom = l.tail[:0], end, n
	// A failed truncation leaves stale bytes past the changes' end, which
	// the next flush overwrites and nothing reads.
	l.file.Truncate(end)
}

// close gives back the log's memory and disk space.
func (l *changeLog) close() {
	l.truncate(0)
	if l.file != nil {
		l.file.Close()
	}
	*l = changeLog{}
}
