// Package changefeed fans committed row changes out to streams: the
// in-process half of libsql's change data capture (CDC).
//
// # Model
//
// The driver captures every row change of a transaction (pre-update hook:
// table, operation, rowid or WITHOUT ROWID primary key, old and new values,
// whether a trigger or foreign-key action made it) and, once the commit is
// durable, publishes the transaction to the database's [Hub] as a [Tx]
// tagged with the commit's [LSN] (the log version it created) and time.
// Publish is called in strictly increasing LSN order by one goroutine at a
// time, and never waits for a consumer.
//
// A [Stream] ([Hub.Subscribe]) yields [Change] values: transactions in LSN
// order, each one's changes contiguous and in Index order, each exactly once,
// filtered by table and operation ([Options]). [Stream.LSN] is the resume
// point: a stream opened with Options.Since set to it yields exactly the
// transactions committed after it, no gap and no duplicate.
//
// Each stream has a bounded queue (Options.Buffer changes). A consumer that
// falls behind is marked as lagging and queues nothing more; when it has
// read what was queued, it reads the transactions it missed from the hub's
// in-memory history (HubOptions.History transactions) or, if that no longer
// reaches back, from the durable [Source] (the driver's CDC table, when
// durable CDC is on), then switches back to its live queue. A consumer is
// never silently skipped: when neither has the missing transactions, Next
// returns a [*LaggedError] (errors.Is(err, [ErrStreamLagged])) telling the
// last LSN delivered. Sources are read inside Next, on the consumer's
// goroutine, with its context; the package starts no goroutines. A
// publisher whose Source holds a transaction may publish it without its
// changes ([Tx.Elide]), to spare the memory of decoding them when no
// stream may read them: a stream that reaches it reads it from the Source.
//
// # Encoding
//
// [EncodeTx] writes one transaction as compact bytes (a publisher that
// keeps its changes encoded writes the same one change at a time:
// [Schemas], [AppendChange], [AppendTxHeader]): the durable CDC
// storage keeps one row per transaction holding them, so the layout below
// is a wire format: do not change it; a different layout must take a new
// format version, and [DecodeTx] must keep reading version 1.
//
//	uvarint, varint: encoding/binary's (LEB128; varint zig-zag)
//	string:          uvarint byte length, then the bytes (UTF-8 not checked)
//
//	transaction:
//	  field      type                  meaning
//	  version    byte                  format version, 1
//	  lsn        uvarint               commit LSN
//	  time_sec   varint                commit time, Unix seconds
//	  time_nsec  uvarint               commit time, nanoseconds 0..999999999
//	  nschemas   uvarint               number of schema entries
//	  schemas    nschemas × schema     each distinct (table, columns) pair
//	  nchanges   uvarint               number of changes
//	  changes    nchanges × change     in Index order
//	  (nothing may follow)
//
//	schema:
//	  table      string                table name
//	  ncols      uvarint               number of columns
//	  cols       ncols × string        column names in table order
//
//	change:
//	  schema     uvarint               index into schemas: Table and Columns
//	  flags      byte                  bits 0-1 op (1 insert, 2 update,
//	                                   3 delete); bit 2 indirect; bit 3 pk
//	                                   present; bit 4 old present; bit 5 new
//	                                   present; bits 6-7 zero
//	  rowid      varint                RowID
//	  pk         values, if bit 3      PK (WITHOUT ROWID tables)
//	  old        values, if bit 4      Old
//	  new        values, if bit 5      New
//
//	values:      uvarint count, then count × value
//	value:       tag byte, then
//	  0 NULL     nothing               nil
//	  1 INTEGER  varint                int64
//	  2 REAL     8 bytes, little-endian IEEE 754 bits   float64 (NaN kept)
//	  3 TEXT     string                string
//	  4 BLOB     uvarint length, bytes []byte (empty: []byte{}, not nil)
//
// The changes' LSN, Index and CommitTime are not stored: they follow from
// the transaction. A nil PK, Old or New is absent; an empty one is present
// with count 0.
//
// [AppendJSON] renders a change as one JSON object, for the command line's
// tail.
package changefeed
