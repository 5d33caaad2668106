package changefeed

import (
	"fmt"
	"strconv"
	"strings"
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
