package libsql

import (
	"context"
	"errors"
	"fmt"
	"io"
	"slices"

	"github.com/golibsql/libsql/changefeed"
	"github.com/golibsql/libsql/internal/capi"
)

// Blob is an open handle on one value of one row, read and written in
// place with SQLite's incremental blob I/O: a value bigger than memory can
// be streamed into or out of the database a chunk at a time. It is an
// io.Reader, io.Writer, io.Seeker, io.ReaderAt, io.WriterAt, io.ReaderFrom
// and io.WriterTo, and io.Copy uses the last two.
//
// A blob handle never changes a value's size: insert the row with
// zeroblob(n) (or a value of the right size) first, then write its bytes.
// Writing past the end fails and writes nothing.
//
// A Blob opened for writing outside a transaction is a transaction of its
// own: it takes the writer lock when it opens (waiting as BEGIN IMMEDIATE
// does, up to the busy timeout and the context), and its writes commit,
// durably as the connection's sync mode says, when Close returns nil. If
// Close fails, or the connection closes first (or a *sql.Conn goes back
// to the pool with it open, which closes the connection), nothing it
// wrote is kept, and Close says so.
// Statements run on the connection while it is open are part of its
// transaction; one that ends it (ROLLBACK, or COMMIT once the handle
// expired) closes the Blob, whose Close then returns an error saying so.
// Inside a transaction a Blob takes part in the transaction, and the
// transaction's end closes it, by Commit or Rollback or by SQL; SQLite
// refuses a COMMIT while a Blob opened for writing is open. A Blob opened for
// reading outside a transaction holds its snapshot until it is closed, as
// open rows do.
//
// Change data capture and BEGIN CONCURRENT see a blob's writes as one
// UPDATE of its row, with the row's values before the first write and
// after the last.
//
// If the row changes or is deleted by a statement on the same connection,
// the handle expires: reads and writes fail with [ErrBlobExpired], and so
// does Reopen once one of them did; close it and open another. A Blob belongs to its
// connection: like the connection, it is for one goroutine at a time.
type Blob struct {
	c     *conn
	b     *capi.Blob
	write bool
	ownTx bool // opened for writing outside a transaction: Close commits
	inTx  bool // opened inside a transaction, whose end closes it
	// expired: a read or write found that a statement changed the row.
	expired bool
	// endErr is what Close returns after a statement on the connection
	// ended the blob's own transaction (closeEndedBlobs).
	endErr error
	off    int64
	schema string
	table  string
	column string
	rowid  int64
	buf    []byte // WriteTo's chunk
	err    error  // why the handle is closed, once it is
}

// BlobOpener is implemented by the driver's connections (reached with
// sql.Conn.Raw); OpenBlob opens a blob handle (see [Conn.OpenBlob]). The
// Blob uses the driver connection: keep the *sql.Conn until the Blob is
// closed, and do not use the two from different goroutines at once.
type BlobOpener interface {
	OpenBlob(ctx context.Context, schema, table, column string, rowid int64, write bool) (*Blob, error)
}

var _ BlobOpener = (*conn)(nil)

// ErrBlobExpired is the error of a read or write through a Blob whose row
// a statement on its connection changed or deleted since it opened (or
// since Reopen): SQLite no longer lets the handle touch the row.
var ErrBlobExpired = errors.New("libsql: blob handle expired: its row was changed or deleted on this connection since the blob was opened")

// ErrBlobClosed is the error of a call on a Blob after Close, or after the
// end of the transaction or connection it belonged to, which closed it.
var ErrBlobClosed = errors.New("libsql: blob closed")

// OpenBlob opens the value in column of table's row rowid, for reading, or
// for reading and writing if write is set. schema is the database: "" or
// "main", "temp", or an attached database's name. The value must be a blob
// or text (a text is read and written as its bytes). ctx bounds the wait
// for the writer lock of a Blob opened for writing outside a transaction.
// See [Blob] for its transaction.
func (c *Conn) OpenBlob(ctx context.Context, schema, table, column string, rowid int64, write bool) (*Blob, error) {
	if c.c.cc.Closed() {
		return nil, errConnClosed
	}
	return c.c.OpenBlob(ctx, schema, table, column, rowid, write)
}

// OpenBlob implements BlobOpener.
func (c *conn) OpenBlob(ctx context.Context, schema, table, column string, rowid int64, write bool) (*Blob, error) {
	if schema == "" {
		schema = "main"
	}
	fail := func(err error) error {
		return fmt.Errorf("libsql: OpenBlob %s.%s.%s of row %d: %w", schema, table, column, rowid, err)
	}
	if write && c.blobTx != nil {
		return nil, fail(errors.New("a blob opened for writing outside a transaction is open on this connection: close it first"))
	}
	cl, err := c.enter(ctx)
	if err != nil {
		return nil, fail(err)
	}
	defer c.leave(cl)
	bl := &Blob{c: c, write: write, schema: schema, table: table, column: column, rowid: rowid, inTx: !c.cc.GetAutocommit()}
	if write && c.conc == nil && c.cc.GetAutocommit() {
		if err := c.plain(ctx, "BEGIN IMMEDIATE"); err != nil {
			return nil, fail(err)
		}
		bl.ownTx = true
	}
	if write {
		c.hookPreUpdateIfCapturing()
	}
	bl.b, err = c.cc.OpenBlob(schema, table, column, rowid, write)
	if err != nil {
		err = c.mapErr(ctx, err)
		if bl.ownTx {
			c.plain(context.Background(), "ROLLBACK")
		}
		return nil, fail(err)
	}
	if bl.ownTx {
		c.blobTx = bl
	}
	c.blobs = append(c.blobs, bl)
	return bl, nil
}

// Size returns the value's size in bytes: fixed while the handle points
// at its row; 0 once it is closed, or once a read or write found it
// expired.
func (b *Blob) Size() int64 {
	if b.err != nil || b.expired {
		return 0
	}
	return b.b.Size()
}

// Read reads from the current offset; at the end of the value it returns
// io.EOF.
func (b *Blob) Read(p []byte) (int, error) {
	n, err := b.ReadAt(p, b.off)
	b.off += int64(n)
	if err == io.EOF && n > 0 {
		err = nil
	}
	return n, err
}

// ReadAt reads len(p) bytes from off, or fewer and io.EOF if the value
// ends first.
func (b *Blob) ReadAt(p []byte, off int64) (int, error) {
	if err := b.usable("ReadAt"); err != nil {
		return 0, err
	}
	if off < 0 {
		return 0, b.errorf("ReadAt", "negative offset %d", off)
	}
	size := b.b.Size()
	if off >= size {
		return 0, io.EOF
	}
	n := int(min(int64(len(p)), size-off))
	if err := b.call(func() error { return b.b.ReadAt(p[:n], off) }); err != nil {
		return 0, b.opErr("ReadAt", err)
	}
	if n < len(p) {
		return n, io.EOF
	}
	return n, nil
}

// Write writes p at the current offset. A write that would pass the end of
// the value fails with nothing written.
func (b *Blob) Write(p []byte) (int, error) {
	n, err := b.WriteAt(p, b.off)
	b.off += int64(n)
	return n, err
}

// WriteAt writes p at off. A write that would pass the end of the value
// fails with nothing written.
func (b *Blob) WriteAt(p []byte, off int64) (int, error) {
	if err := b.writable("WriteAt"); err != nil {
		return 0, err
	}
	if err := b.fits(int64(len(p)), off); err != nil {
		return 0, err
	}
	if err := b.call(func() error { return b.b.WriteAt(p, off) }); err != nil {
		return 0, b.opErr("WriteAt", err)
	}
	return len(p), nil
}

// ReadFrom writes what src holds, up to its end, at the current offset,
// a chunk at a time. A source longer than the room left in the value
// fails once the value is full.
func (b *Blob) ReadFrom(src io.Reader) (int64, error) {
	if err := b.writable("ReadFrom"); err != nil {
		return 0, err
	}
	b.ensureBuf()
	var total int64
	for {
		// One byte of room at the end still reads, to learn whether the
		// source holds more than the value.
		room := max(b.b.Size()-b.off, 0)
		k, rerr := src.Read(b.buf[:min(int64(len(b.buf)), max(room, 1))])
		if k > 0 {
			n, err := b.Write(b.buf[:k])
			total += int64(n)
			if err != nil {
				return total, err
			}
		}
		if rerr == io.EOF {
			return total, nil
		}
		if rerr != nil {
			return total, b.errorf("ReadFrom", "reading the source: %w", rerr)
		}
	}
}

// ensureBuf allocates the chunk of ReadFrom and WriteTo.
func (b *Blob) ensureBuf() {
	if b.buf == nil {
		b.buf = make([]byte, blobCopyChunk)
	}
}

// WriteTo writes the value from the current offset to its end to w, a
// chunk at a time.
func (b *Blob) WriteTo(w io.Writer) (int64, error) {
	if err := b.usable("WriteTo"); err != nil {
		return 0, err
	}
	b.ensureBuf()
	var total int64
	for {
		n, err := b.Read(b.buf)
		if n > 0 {
			m, werr := w.Write(b.buf[:n])
			total += int64(m)
			if werr != nil {
				return total, werr
			}
		}
		if err == io.EOF {
			return total, nil
		}
		if err != nil {
			return total, err
		}
	}
}

// blobCopyChunk is the chunk of ReadFrom and WriteTo.
const blobCopyChunk = 64 << 10

// Seek sets the offset of the next Read or Write, as io.Seeker says.
// Seeking past the end is allowed; reading there returns io.EOF, and
// writing fails.
func (b *Blob) Seek(offset int64, whence int) (int64, error) {
	if err := b.usable("Seek"); err != nil {
		return 0, err
	}
	switch whence {
	case io.SeekStart:
	case io.SeekCurrent:
		offset += b.off
	case io.SeekEnd:
		offset += b.b.Size()
	default:
		return 0, b.errorf("Seek", "invalid whence %d", whence)
	}
	if offset < 0 {
		return 0, b.errorf("Seek", "negative offset %d", offset)
	}
	b.off = offset
	return offset, nil
}

// Reopen points the handle at row rowid of the same table and column,
// with the offset back at 0: cheaper than opening a new one. If the row
// does not exist, or its value is no blob or text, Reopen fails and the
// handle expires. A handle that a read or write found expired cannot be
// reopened ([ErrBlobExpired]): close it and open another.
func (b *Blob) Reopen(rowid int64) error {
	if b.err != nil {
		return b.errorf("Reopen", "%w", b.err)
	}
	cl, err := b.c.enter(context.Background())
	if err != nil {
		return err
	}
	defer b.c.leave(cl)
	if err := b.c.flushBlobWrites(context.Background()); err != nil {
		return b.errorf("Reopen", "%w", err)
	}
	b.off = 0
	if err := b.b.Reopen(rowid); err != nil {
		return b.opErr(fmt.Sprintf("Reopen at row %d", rowid), err)
	}
	b.rowid = rowid
	return nil
}

// Close closes the handle. For a Blob opened for writing outside a
// transaction, it commits what was written and returns the commit's
// error; if that fails, the writes are rolled back. Closing again
// returns nil.
func (b *Blob) Close() error {
	if b.err != nil {
		err := b.endErr
		b.endErr = nil
		return err
	}
	return b.close(ErrBlobClosed)
}

// close closes the handle and records why, which later calls report.
func (b *Blob) close(why error) error {
	c := b.c
	b.err = why
	c.forgetBlob(b)
	if c.cc.Closed() {
		b.b.Close()
		return nil
	}
	ctx := context.Background()
	cl, err := c.enter(ctx)
	if err != nil {
		b.b.Close()
		return err
	}
	defer c.leave(cl)
	err = c.flushBlobWrites(ctx)
	if cerr := convertError(b.b.Close()); err == nil {
		err = cerr
	}
	if b.ownTx {
		c.blobTx = nil
		if cerr := c.commitWrapped(ctx, err != nil); err == nil {
			err = cerr
		}
	}
	if err != nil {
		return b.closeErrorf("%w", err)
	}
	return nil
}

// errorf returns the error of operation op, naming the blob: its schema,
// table, column and row.
func (b *Blob) errorf(op, format string, args ...any) error {
	return fmt.Errorf("libsql: blob %s of %s.%s.%s row %d: "+format, append([]any{op, b.schema, b.table, b.column, b.rowid}, args...)...)
}

// usable returns the error of a call named op on a closed handle.
func (b *Blob) usable(op string) error {
	if b.err != nil {
		return b.errorf(op, "%w", b.err)
	}
	if b.c.cc.Closed() {
		return b.errorf(op, "%w: its connection is closed", ErrBlobClosed)
	}
	return nil
}

// writable is usable for a write.
func (b *Blob) writable(op string) error {
	if err := b.usable(op); err != nil {
		return err
	}
	if !b.write {
		return b.errorf(op, "the blob was opened for reading only")
	}
	return nil
}

// fits checks that n bytes at off lie inside the value.
func (b *Blob) fits(n, off int64) error {
	size := b.b.Size()
	if off < 0 || off > size || n > size-off {
		return b.errorf("write", "%d bytes at offset %d: past the end of the value of %d bytes (a blob handle cannot change its size)", n, off, size)
	}
	return nil
}

// call runs one operation of the handle as a call on its connection.
func (b *Blob) call(op func() error) error {
	cl, err := b.c.enter(context.Background())
	if err != nil {
		return err
	}
	defer b.c.leave(cl)
	return op()
}

// opErr turns the error of operation op into the caller's: an expired
// handle's is ErrBlobExpired.
func (b *Blob) opErr(op string, err error) error {
	var ce *capi.Error
	if errors.As(err, &ce) && ce.Code&0xff == capi.ABORT {
		b.expired = true
		return b.errorf(op, "%w (%w)", ErrBlobExpired, convertError(err))
	}
	return b.errorf(op, "%w", convertError(err))
}

// forgetBlob drops b from the connection's open blobs.
func (c *conn) forgetBlob(b *Blob) {
	for i, o := range c.blobs {
		if o == b {
			c.blobs = append(c.blobs[:i], c.blobs[i+1:]...)
			return
		}
	}
}

// closeBlobs closes the connection's open blobs, because of what ended
// their transaction or connection (by). A blob with a transaction of its
// own is rolled back rather than committed. It runs at every transaction's
// end and every reuse of a pooled connection: with no blob open it costs a
// length test.
func (c *conn) closeBlobs(by string) {
	if len(c.blobs) == 0 {
		return
	}
	why := fmt.Errorf("%w: %s", ErrBlobClosed, by)
	for len(c.blobs) > 0 {
		b := c.blobs[len(c.blobs)-1]
		if b.ownTx {
			b.drop(why, b.closeErrorf("its own transaction was rolled back before Close (%w): nothing it wrote was kept", why))
			if !c.cc.Closed() && !c.cc.GetAutocommit() {
				c.plain(context.Background(), "ROLLBACK")
			}
			continue
		}
		b.close(why)
	}
}

// closeEndedBlobs closes, after a statement that left the connection in
// autocommit mode, the blobs whose transaction that statement ended (a
// ROLLBACK or COMMIT run as SQL, or a statement's ON CONFLICT ROLLBACK):
// their handles would otherwise hold a read snapshot, or, for a blob with
// a transaction of its own, make its Close commit whatever transaction is
// open then. Such a blob's Close reports that its transaction ended.
func (c *conn) closeEndedBlobs() {
	for _, b := range slices.Clone(c.blobs) {
		if !b.ownTx && !b.inTx {
			continue
		}
		var endErr error
		if b.ownTx {
			endErr = b.closeErrorf("its own transaction ended before Close, by a statement on its connection (ROLLBACK, COMMIT or an ON CONFLICT ROLLBACK): what it wrote was not committed by Close")
		}
		b.drop(fmt.Errorf("%w: its transaction ended", ErrBlobClosed), endErr)
	}
}

// drop closes the handle without ending any transaction, because of why,
// which later calls report; endErr is what Close then returns (for a blob
// whose own transaction ended without it).
func (b *Blob) drop(why, endErr error) {
	if b.ownTx {
		b.ownTx = false
		b.c.blobTx = nil
	}
	b.c.forgetBlob(b)
	b.err, b.endErr = why, endErr
	b.b.Close()
}

// closeErrorf returns an error of Close, naming the blob.
func (b *Blob) closeErrorf(format string, args ...any) error {
	return fmt.Errorf("libsql: closing the blob %s.%s.%s of row %d: "+format, append([]any{b.schema, b.table, b.column, b.rowid}, args...)...)
}

// writingBlob reports whether a blob that may have written is open on the
// connection: SQLite refuses to commit while one is.
func (c *conn) writingBlob() bool {
	for _, b := range c.blobs {
		if b.write && !b.expired {
			return true
		}
	}
	return false
}

// blobWrite is a row that blob handles have written in the running
// transaction and whose change is not captured yet: its values before the
// first write, and the columns written since.
type blobWrite struct {
	table   string
	rowid   int64
	columns []string
	old     []any
	written []int
}

// noteBlobWrite records, at a blob handle's write (a pre-update call of
// p, which SQLite makes before the bytes change), the row's values before
// its first write and the column written.
func (c *conn) noteBlobWrite(p *capi.PreUpdate, layout *capi.TableLayout) {
	for i := range c.cdc.blobs {
		w := &c.cdc.blobs[i]
		if w.rowid == p.OldRowID && w.table == p.Table {
			if !slices.Contains(w.written, p.BlobColumn) {
				w.written = append(w.written, p.BlobColumn)
			}
			return
		}
	}
	old := make([]any, p.Count())
	for i := range old {
		old[i] = p.Old(i)
	}
	c.cdc.blobs = append(c.cdc.blobs, blobWrite{table: p.Table, rowid: p.OldRowID, columns: layout.Names, old: old, written: []int{p.BlobColumn}})
}

// flushBlobWrites captures the rows blob handles wrote since the last
// flush, each as an UPDATE to the values it has now. It runs before
// anything else reads the captured changes or adds to them: before every
// statement, a commit's store, a Reopen and a Close. A row that cannot be
// read back loses the capture (the commit then fails if it must publish).
func (c *conn) flushBlobWrites(ctx context.Context) error {
	if len(c.cdc.blobs) == 0 {
		return nil
	}
	pending := c.cdc.blobs
	c.cdc.blobs = nil
	for _, w := range pending {
		if err := c.captureBlobRow(w); err != nil {
			err = fmt.Errorf("libsql: capturing the blob write to row %d of table %s: %w", w.rowid, w.table, c.mapErr(ctx, err))
			c.cdc.log.lose(err)
			return err
		}
		c.cdc.stored = false
	}
	return nil
}

// captureBlobRow captures w's UPDATE: the row's values before, and the
// same with each written column read back. The columns are read through
// blob handles of their own, by rowid, as no SQL could where the table's
// columns take every name of the rowid; a blob write keeps a value's
// datatype and size.
func (c *conn) captureBlobRow(w blobWrite) error {
	vals := slices.Clone(w.old)
	for _, col := range w.written {
		if col < 0 || col >= len(w.columns) || col >= len(vals) {
			return fmt.Errorf("column %d of a table of %d", col, len(w.columns))
		}
		b, err := c.cc.OpenBlob("main", w.table, w.columns[col], w.rowid, false)
		if err != nil {
			return err
		}
		v := make([]byte, b.Size())
		err = b.ReadAt(v, 0)
		b.Close()
		if err != nil {
			return err
		}
		if _, text := vals[col].(string); text {
			vals[col] = string(v)
		} else {
			vals[col] = v
		}
	}
	c.cdc.log.addChange(&changefeed.Change{Table: w.table, Op: changefeed.Update, RowID: w.rowid, Columns: w.columns, Old: w.old, New: vals}, w.rowid)
	return nil
}
