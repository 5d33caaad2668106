package changefeed

import "time"

// Change is one row change of a committed transaction.
//
// Values are nil (NULL), int64 (INTEGER), float64 (REAL), string (TEXT) or
// []byte (BLOB). [EncodeTx] and [AppendJSON] also accept Go's other integer
// types, float32 and bool, converting them to int64 or float64.
//
// A Change returned by [Stream.Next] shares its slices (PK, Columns, Old,
// New) with every other stream that receives the same transaction and with
// the hub's history: treat them as read-only.
type Change struct {
	LSN        LSN       // the transaction's commit LSN
	Index      int       // position within the transaction: 0..n-1 over all its changes, whatever a stream's filters hide
	Table      string    // table name, as SQLite reports it
	Op         Op        // Insert, Update or Delete
	RowID      int64     // the row's rowid; 0 for a WITHOUT ROWID table
	PK         []any     // primary-key values of a WITHOUT ROWID table; nil otherwise
	Columns    []string  // column names, in table order
	Old        []any     // values before the change, one per column; nil for Insert
	New        []any     // values after the change, one per column; nil for Delete
	Indirect   bool      // made by a trigger or a foreign-key action, not by the statement itself
	CommitTime time.Time // the transaction's commit time
}

// Tx is one committed transaction's row changes, in the order they were made.
type Tx struct {
	LSN        LSN       // commit LSN
	CommitTime time.Time // when it committed
	Changes    []Change  // every change, Index 0..n-1

	elided bool // published without its changes (Elide)
}

// Elide marks tx, which has no Changes, as a transaction published without
// its changes, to spare the memory of a big one nobody may read: they are
// in the hub's Source. The hub's history does not keep it, and a stream
// that reaches it reads it from the Source, as a stream that fell behind
// does (without a Source, the stream fails with [ErrStreamLagged]).
func (tx *Tx) Elide() *Tx {
	tx.elided = true
	return tx
}

// Elided reports whether tx was published without its changes (Elide).
func (tx *Tx) Elided() bool { return tx.elided }

// memSize estimates the bytes tx holds: each change's fields and values
// (a Change is about 180 bytes, an interface value 16, plus the bytes of
// text and blobs). Column names are shared by a table's changes and not
// counted.
func (tx *Tx) memSize() int {
	n := 64
	for i := range tx.Changes {
		c := &tx.Changes[i]
		n += 180
		for _, vals := range [3][]any{c.PK, c.Old, c.New} {
			n += 16 * len(vals)
			for _, v := range vals {
				switch v := v.(type) {
				case string:
					n += len(v)
				case []byte:
					n += len(v)
				}
			}
		}
	}
	return n
}

// Fill sets every change's LSN, Index and CommitTime from tx and its position,
// and returns tx. The publisher calls it before [Hub.Publish]; [DecodeTx]
// returns filled transactions. Streams stamp those three fields from the Tx
// themselves, so a stale value never reaches a consumer.
func (tx *Tx) Fill() *Tx {
	for i := range tx.Changes {
		c := &tx.Changes[i]
		c.LSN = tx.LSN
		c.Index = i
		c.CommitTime = tx.CommitTime
	}
	return tx
}
