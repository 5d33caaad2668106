package changefeed

import (
	"encoding/binary"
	"fmt"
	"math"
	"math/bits"
	"time"
)

// Wire format constants: see the package documentation. Do not change them;
// a new layout gets a new format version.
const (
	formatVersion = 1 // first byte of every encoded transaction

	tagNull  = 0
	tagInt   = 1
	tagFloat = 2
	tagText  = 3
	tagBlob  = 4

	flagOpMask   = 0x03
	flagIndirect = 0x04
	flagPK       = 0x08
	flagOld      = 0x10
	flagNew      = 0x20
	flagReserved = 0xc0
)

// schemaKey is one (table, column names) pair of an encoded transaction.
type schemaKey struct {
	table string
	cols  []string
}

func sameCols(a, b []string) bool {
	if len(a) != len(b) {
		return false
	}
	if len(a) == 0 || &a[0] == &b[0] {
		return true
	}
	for i := range a {
		if a[i] != b[i] {
			return false
		}
	}
	return true
}

// linearSchemas is how many schema entries EncodeTx keeps in an array on
// its stack and searches linearly; past that it indexes them by table.
const linearSchemas = 16

// findSchema returns the index of (table, cols) in list, or -1; byTable,
// if not nil, indexes list by table name.
func findSchema(list []schemaKey, byTable map[string][]int, table string, cols []string) int {
	if byTable != nil {
		for _, i := range byTable[table] {
			if sameCols(list[i].cols, cols) {
				return i
			}
		}
		return -1
	}
	for i := range list {
		if list[i].table == table && sameCols(list[i].cols, cols) {
			return i
		}
	}
	return -1
}

// addSchema appends an entry past linearSchemas: on the heap, indexed.
func addSchema(list []schemaKey, byTable map[string][]int, table string, cols []string) ([]schemaKey, map[string][]int) {
	if byTable == nil {
		list = append(make([]schemaKey, 0, 4*len(list)), list...)
		byTable = make(map[string][]int, 4*len(list))
		for i, k := range list {
			byTable[k.table] = append(byTable[k.table], i)
		}
	}
	list = append(list, schemaKey{table, cols})
	byTable[table] = append(byTable[table], len(list)-1)
	return list, byTable
}

// EncodeTx appends the binary encoding of tx (format version 1, described
// in the package documentation) to dst and returns the extended slice. The
// changes' LSN, Index and CommitTime fields are not stored: they come from
// the Tx. Column-name lists are stored once per distinct (table, columns)
// pair. With enough capacity in dst and at most 16 such pairs it does not
// allocate.
//
// It panics if a change has an invalid Op or a value of a type it cannot
// store (see [Change]): the publisher's values come from SQLite, so that is
// a broken invariant, not bad input.
func EncodeTx(dst []byte, tx *Tx) []byte {
	var arr [linearSchemas]schemaKey
	list := arr[:0]
	var byTable map[string][]int
	for i := range tx.Changes {
		c := &tx.Changes[i]
		switch {
		case findSchema(list, byTable, c.Table, c.Columns) >= 0:
		case byTable == nil && len(list) < linearSchemas:
			list = list[:len(list)+1]
			list[len(list)-1] = schemaKey{c.Table, c.Columns}
		default:
			list, byTable = addSchema(list, byTable, c.Table, c.Columns)
		}
	}
	dst = appendHeader(dst, tx.LSN, tx.CommitTime, list, len(tx.Changes))
	for i := range tx.Changes {
		c := &tx.Changes[i]
		if !c.Op.Valid() {
			panic(fmt.Sprintf("changefeed: EncodeTx: change %d of LSN %v has invalid %v", i, tx.LSN, c.Op))
		}
		dst = AppendChange(dst, findSchema(list, byTable, c.Table, c.Columns), c)
	}
	return dst
}

// appendHeader appends what precedes the changes in a transaction's
// encoding: the format version, the LSN, the commit time, the schemas and
// the change count.
func appendHeader(dst []byte, lsn LSN, t time.Time, list []schemaKey, changes int) []byte {
	dst = append(dst, formatVersion)
	dst = binary.AppendUvarint(dst, uint64(lsn))
	dst = binary.AppendVarint(dst, t.Unix())
	dst = binary.AppendUvarint(dst, uint64(t.Nanosecond()))
	dst = binary.AppendUvarint(dst, uint64(len(list)))
	for _, k := range list {
		dst = appendString(dst, k.table)
		dst = binary.AppendUvarint(dst, uint64(len(k.cols)))
		for _, col := range k.cols {
			dst = appendString(dst, col)
		}
	}
	return binary.AppendUvarint(dst, uint64(changes))
}

// AppendChange appends the encoding of one change of a transaction (as
// EncodeTx writes each): schema is the index of its (table, columns) pair
// in the transaction's schemas (see [Schemas]). The change's Table and
// Columns are not stored, nor its LSN, Index and CommitTime.
func AppendChange(dst []byte, schema int, c *Change) []byte {
	dst = AppendChangeHead(dst, schema, c.Op, c.Indirect, c.RowID, c.PK != nil, c.Old != nil, c.New != nil)
	if c.PK != nil {
		dst = appendValues(dst, c.PK)
	}
	if c.Old != nil {
		dst = appendValues(dst, c.Old)
	}
	if c.New != nil {
		dst = appendValues(dst, c.New)
	}
	return dst
}

// AppendChangeHead appends what precedes a change's values in its
// encoding. The caller then appends, in this order, each value list the
// flags announce (pk, old, new): its count ([AppendValueCount]) and its
// values ([AppendNull] and the others). For a publisher that has its
// values in another form than a Change's.
func AppendChangeHead(dst []byte, schema int, op Op, indirect bool, rowID int64, pk, old, new bool) []byte {
	dst = binary.AppendUvarint(dst, uint64(schema))
	flags := byte(op)
	if indirect {
		flags |= flagIndirect
	}
	if pk {
		flags |= flagPK
	}
	if old {
		flags |= flagOld
	}
	if new {
		flags |= flagNew
	}
	dst = append(dst, flags)
	return binary.AppendVarint(dst, rowID)
}

// AppendValueCount appends the count of a value list.
func AppendValueCount(dst []byte, n int) []byte { return binary.AppendUvarint(dst, uint64(n)) }

// AppendNull appends a NULL value.
func AppendNull(dst []byte) []byte { return append(dst, tagNull) }

// AppendInt appends an INTEGER value.
func AppendInt(dst []byte, v int64) []byte { return binary.AppendVarint(append(dst, tagInt), v) }

// AppendFloat appends a REAL value.
func AppendFloat(dst []byte, v float64) []byte {
	return binary.LittleEndian.AppendUint64(append(dst, tagFloat), math.Float64bits(v))
}

// AppendText appends a TEXT value, given as its UTF-8 bytes.
func AppendText(dst []byte, v []byte) []byte {
	dst = binary.AppendUvarint(append(dst, tagText), uint64(len(v)))
	return append(dst, v...)
}

// AppendBlob appends a BLOB value.
func AppendBlob(dst []byte, v []byte) []byte {
	dst = binary.AppendUvarint(append(dst, tagBlob), uint64(len(v)))
	return append(dst, v...)
}

// Schemas numbers the (table, column names) pairs of a transaction encoded
// one change at a time ([AppendChange]), in the order of their first use,
// as [EncodeTx] numbers them; [AppendTxHeader] writes them before the
// changes, and [Schemas.DecodeChange] reads a change back with them. The
// zero value is empty.
type Schemas struct {
	list    []schemaKey
	byTable map[string][]int
}

// Index returns the number of (table, cols), adding the pair if it is new.
// cols is kept, not copied.
func (s *Schemas) Index(table string, cols []string) int {
	if i := findSchema(s.list, s.byTable, table, cols); i >= 0 {
		return i
	}
	if s.byTable == nil && len(s.list) < linearSchemas {
		s.list = append(s.list, schemaKey{table, cols})
	} else {
		s.list, s.byTable = addSchema(s.list, s.byTable, table, cols)
	}
	return len(s.list) - 1
}

// Table returns the table of pair i.
func (s *Schemas) Table(i int) string { return s.list[i].table }

// Reset empties s.
func (s *Schemas) Reset() {
	clear(s.list)
	s.list, s.byTable = s.list[:0], nil
}

// AppendTxHeader appends what precedes the changes in the encoding of a
// transaction (see [EncodeTx]) of n changes numbered with s: the changes'
// encodings follow it, and the whole is what [DecodeTx] reads. Pairs of s
// that no change uses are allowed.
func AppendTxHeader(dst []byte, lsn LSN, commitTime time.Time, s *Schemas, n int) []byte {
	return appendHeader(dst, lsn, commitTime, s.list, n)
}

// DecodeChange decodes into c one change that [AppendChange] (or
// [AppendChangeHead] and the value appends) encoded, numbered with s, with
// its Table and Columns from s; c's other fields are left as they are. The
// result does not share memory with b: each of its text and blob values is
// a copy of its own, so that the memory it holds is what [Tx] memory
// estimates count.
func (s *Schemas) DecodeChange(b []byte, c *Change) error {
	d := decoder{b: b, each: true}
	if err := d.change(c, 0, s.list); err != nil {
		return err
	}
	if d.rest() != 0 {
		return d.fail("%d trailing bytes", d.rest())
	}
	return nil
}

func appendString(dst []byte, s string) []byte {
	dst = binary.AppendUvarint(dst, uint64(len(s)))
	return append(dst, s...)
}

func appendValues(dst []byte, vals []any) []byte {
	dst = AppendValueCount(dst, len(vals))
	for _, v := range vals {
		switch v := normalize(v).(type) {
		case nil:
			dst = AppendNull(dst)
		case int64:
			dst = AppendInt(dst, v)
		case float64:
			dst = AppendFloat(dst, v)
		case string:
			dst = appendString(append(dst, tagText), v)
		case []byte:
			dst = AppendBlob(dst, v)
		default:
			panic(fmt.Sprintf("changefeed: EncodeTx: unsupported value type %T", v))
		}
	}
	return dst
}

// normalize converts the value types Change documents as accepted to the
// five canonical ones; anything else is returned as it is.
func normalize(v any) any {
	switch v := v.(type) {
	case nil, int64, float64, string, []byte:
		return v
	case int:
		return int64(v)
	case int8:
		return int64(v)
	case int16:
		return int64(v)
	case int32:
		return int64(v)
	case uint8:
		return int64(v)
	case uint16:
		return int64(v)
	case uint32:
		return int64(v)
	case uint:
		if uint64(v) <= math.MaxInt64 {
			return int64(v)
		}
	case uint64:
		if v <= math.MaxInt64 {
			return int64(v)
		}
	case float32:
		return float64(v)
	case bool:
		if v {
			return int64(1)
		}
		return int64(0)
	}
	return v
}

// DecodeTx decodes a transaction written by [EncodeTx] and fills its
// changes' LSN, Index and CommitTime (see [Tx.Fill]); CommitTime is in UTC.
// It never panics: any malformed input, an unknown format version or
// trailing bytes give an error wrapping [ErrCorrupt].
//
// The result does not share memory with b. Strings of one transaction share
// a single copy of b, so keeping any of them keeps that copy alive.
func DecodeTx(b []byte) (*Tx, error) {
	d := decoder{b: b}
	tx, err := d.tx()
	if err != nil {
		return nil, err
	}
	return tx.Fill(), nil
}

type decoder struct {
	b     []byte
	off   int
	each  bool   // copy each text and blob value on its own, sharing nothing
	lists int    // with each: the value lists left to read in the change
	str   string // lazily string(b): text values and names are substrings
	own   []byte // lazily a copy of b: blobs are sub-slices
	arena []any  // values are carved from here
}

func (d *decoder) fail(format string, args ...any) error {
	return &corruptError{off: d.off, msg: fmt.Sprintf(format, args...)}
}

func (d *decoder) rest() int { return len(d.b) - d.off }

func (d *decoder) byte1(what string) (byte, error) {
	if d.off >= len(d.b) {
		return 0, d.fail("truncated %s", what)
	}
	c := d.b[d.off]
	d.off++
	return c, nil
}

func (d *decoder) uvarint(what string) (uint64, error) {
	v, n := binary.Uvarint(d.b[d.off:])
	if n <= 0 {
		return 0, d.fail("bad varint for %s", what)
	}
	d.off += n
	return v, nil
}

func (d *decoder) varint(what string) (int64, error) {
	v, n := binary.Varint(d.b[d.off:])
	if n <= 0 {
		return 0, d.fail("bad varint for %s", what)
	}
	d.off += n
	return v, nil
}

// count reads a count of elements that each take at least min bytes.
func (d *decoder) count(what string, min int) (int, error) {
	n, err := d.uvarint(what)
	if err != nil {
		return 0, err
	}
	if n > uint64(d.rest()/min) {
		return 0, d.fail("%s %d exceeds the remaining %d bytes", what, n, d.rest())
	}
	return int(n), nil
}

// span reads a length-prefixed byte range and returns its offsets in b.
func (d *decoder) span(what string) (int, int, error) {
	n, err := d.uvarint(what + " length")
	if err != nil {
		return 0, 0, err
	}
	if n > uint64(d.rest()) {
		return 0, 0, d.fail("%s length %d exceeds the remaining %d bytes", what, n, d.rest())
	}
	start := d.off
	d.off += int(n)
	return start, d.off, nil
}

func (d *decoder) string(what string) (string, error) {
	i, j, err := d.span(what)
	if err != nil {
		return "", err
	}
	if i == j {
		return "", nil
	}
	if d.each {
		return string(d.b[i:j]), nil
	}
	if d.str == "" {
		d.str = string(d.b)
	}
	return d.str[i:j], nil
}

func (d *decoder) tx() (*Tx, error) {
	v, err := d.byte1("format version")
	if err != nil {
		return nil, err
	}
	if v != formatVersion {
		d.off--
		return nil, d.fail("unknown format version %d", v)
	}
	tx := new(Tx)
	lsn, err := d.uvarint("LSN")
	if err != nil {
		return nil, err
	}
	tx.LSN = LSN(lsn)
	sec, err := d.varint("commit time")
	if err != nil {
		return nil, err
	}
	nsec, err := d.uvarint("commit time")
	if err != nil {
		return nil, err
	}
	if nsec >= 1e9 {
		return nil, d.fail("commit time nanoseconds %d out of range", nsec)
	}
	tx.CommitTime = time.Unix(sec, int64(nsec)).UTC()

	ns, err := d.count("schema count", 2)
	if err != nil {
		return nil, err
	}
	schemas := make([]schemaKey, ns)
	for i := range schemas {
		if schemas[i].table, err = d.string("table name"); err != nil {
			return nil, err
		}
		nc, err := d.count("column count", 1)
		if err != nil {
			return nil, err
		}
		cols := make([]string, nc)
		for j := range cols {
			if cols[j], err = d.string("column name"); err != nil {
				return nil, err
			}
		}
		schemas[i].cols = cols
	}

	nch, err := d.count("change count", 3)
	if err != nil {
		return nil, err
	}
	if nch > 0 {
		tx.Changes = make([]Change, nch)
	}
	for i := range tx.Changes {
		if err := d.change(&tx.Changes[i], i, schemas); err != nil {
			return nil, err
		}
	}
	if d.rest() != 0 {
		return nil, d.fail("%d trailing bytes", d.rest())
	}
	return tx, nil
}

// change reads change i of a transaction with the given schemas into c.
func (d *decoder) change(c *Change, i int, schemas []schemaKey) error {
	si, err := d.uvarint("schema index")
	if err != nil {
		return err
	}
	if si >= uint64(len(schemas)) {
		return d.fail("schema index %d of change %d out of range (%d schemas)", si, i, len(schemas))
	}
	c.Table, c.Columns = schemas[si].table, schemas[si].cols
	flags, err := d.byte1("change flags")
	if err != nil {
		return err
	}
	if flags&flagReserved != 0 {
		return d.fail("reserved flag bits set in change %d (0x%02x)", i, flags)
	}
	c.Op = Op(flags & flagOpMask)
	if !c.Op.Valid() {
		return d.fail("invalid operation %d in change %d", c.Op, i)
	}
	c.Indirect = flags&flagIndirect != 0
	if c.RowID, err = d.varint("rowid"); err != nil {
		return err
	}
	d.lists = bits.OnesCount8(flags & (flagPK | flagOld | flagNew))
	if flags&flagPK != 0 {
		if c.PK, err = d.values(); err != nil {
			return err
		}
		d.lists--
	}
	if flags&flagOld != 0 {
		if c.Old, err = d.values(); err != nil {
			return err
		}
		d.lists--
	}
	if flags&flagNew != 0 {
		if c.New, err = d.values(); err != nil {
			return err
		}
	}
	return nil
}

// values reads a value list; its elements are carved from an arena that
// grows geometrically, bounded by what the remaining bytes can hold.
func (d *decoder) values() ([]any, error) {
	n, err := d.count("value count", 1)
	if err != nil {
		return nil, err
	}
	if n == 0 {
		return []any{}, nil
	}
	if d.each && cap(d.arena)-len(d.arena) < n {
		// One change: its lists are all there is, and the lists after
		// this one are as long, but for a primary key's.
		d.arena = make([]any, 0, n*d.lists)
	}
	if cap(d.arena)-len(d.arena) < n {
		size := max(2*cap(d.arena), 32)
		size = max(min(size, d.rest()), n)
		d.arena = make([]any, 0, size)
	}
	l := len(d.arena)
	d.arena = d.arena[:l+n]
	vals := d.arena[l : l+n : l+n]
	for i := range vals {
		if vals[i], err = d.value(); err != nil {
			return nil, err
		}
	}
	return vals, nil
}

func (d *decoder) value() (any, error) {
	tag, err := d.byte1("value tag")
	if err != nil {
		return nil, err
	}
	switch tag {
	case tagNull:
		return nil, nil
	case tagInt:
		return d.varint("integer value")
	case tagFloat:
		if d.rest() < 8 {
			return nil, d.fail("truncated real value")
		}
		f := math.Float64frombits(binary.LittleEndian.Uint64(d.b[d.off:]))
		d.off += 8
		return f, nil
	case tagText:
		return d.string("text value")
	case tagBlob:
		i, j, err := d.span("blob value")
		if err != nil {
			return nil, err
		}
		if i == j {
			return []byte{}, nil
		}
		if d.each {
			return append([]byte(nil), d.b[i:j]...), nil
		}
		if d.own == nil {
			d.own = append([]byte(nil), d.b...)
		}
		return d.own[i:j:j], nil
	}
	d.off--
	return nil, d.fail("unknown value tag %d", tag)
}
