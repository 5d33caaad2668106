package changefeed

import (
	"fmt"
	"strconv"
	"strings"
	"time"
)

// LSN is a commit's log sequence number: the version of the database that
// the commit created. It increases with every commit, not necessarily by one,
// and is never 0; 1 is reserved for [Oldest], so a real commit's LSN is at
// least 2 (the driver's LSNs, log versions, are never below 1<<32).
type LSN uint64

const (
	// Now is the [Options.Since] value that starts a stream at the present:
	// it yields only transactions published after Subscribe returned.
	Now LSN = 0
	// Oldest is the [Options.Since] value that starts a stream at the oldest
	// transaction still retained (by the durable [Source] if there is one,
	// else by the hub's in-memory history). It is never a commit's LSN.
	Oldest LSN = 1
)

// String formats l in decimal, the form [ParseLSN] reads.
func (l LSN) String() string { return strconv.FormatUint(uint64(l), 10) }

// ParseLSN reads an LSN written in decimal, or one of the words "now" (0,
// [Now]) and "oldest" (1, [Oldest]), as a command line would take it.
func ParseLSN(s string) (LSN, error) {
	switch strings.ToLower(s) {
	case "now":
		return Now, nil
	case "oldest":
		return Oldest, nil
	}
	n, err := strconv.ParseUint(s, 10, 64)
	if err != nil {
		return 0, fmt.Errorf("changefeed: bad LSN %q: want a decimal number, \"now\" or \"oldest\"", s)
	}
	return LSN(n), nil
}

// Op is the kind of a row change. The values are part of the wire format.
type Op uint8

// The row operations. The zero Op is not valid.
const (
	Insert Op = 1 // a row was inserted: Change.Old is nil
	Update Op = 2 // a row was updated: Old and New are both set
	Delete Op = 3 // a row was deleted: Change.New is nil
)

// String returns "insert", "update" or "delete" ("op(N)" for an invalid Op).
func (o Op) String() string {
	switch o {
	case Insert:
		return "insert"
	case Update:
		return "update"
	case Delete:
		return "delete"
	}
	return "op(" + strconv.Itoa(int(o)) + ")"
}

// Valid reports whether o is Insert, Update or Delete.
func (o Op) Valid() bool { return o >= Insert && o <= Delete }

// ParseOp reads "insert", "update" or "delete" (in any letter case).
func ParseOp(s string) (Op, error) {
	switch strings.ToLower(s) {
	case "insert":
		return Insert, nil
	case "update":
		return Update, nil
	case "delete":
		return Delete, nil
	}
	return 0, fmt.Errorf("changefeed: bad operation %q: want insert, update or delete", s)
}

// Change is one row change of a committed transaction.
//
// A Change returned by [Stream.Next] shares its slices (PK, Columns, Old,
// New) with every other stream that receives the same transaction and with
// the hub's history: treat them as read-only.
type Change struct {
	LSN        LSN      // the transaction's commit LSN
	Index      int      // position within the transaction: 0..n-1 over all its changes, whatever a stream's filters hide
	Table      string   // table name, as SQLite reports it
	Op         Op       // Insert, Update or Delete
	RowID      int64    // the row's rowid; 0 for a WITHOUT ROWID table
	PK         []any    // primary-key values of a WITHOUT ROWID table; nil otherwise
	Columns    []string // column names, in table order
	Old        []any    // values before the change, one per column; nil for Insert
	New        []any    // values after the change, one per column; nil for Delete
	Indirect   bool     // made by a trigger or a foreign-key action, not by the statement itself
	CommitTime time.Time
}

// Values are nil (NULL), int64, float64, string (TEXT) or []byte (BLOB).
// [EncodeTx] and [AppendJSON] also accept Go's other integer types, float32
// and bool, converting them to int64 or float64.

// Tx is one committed transaction's row changes, in the order they were made.
type Tx struct {
	LSN        LSN
	CommitTime time.Time
	Changes    []Change
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
