package changefeed

import (
	"errors"
	"strconv"
)

var (
	// ErrClosed is returned by [Stream.Next] after the stream or its hub was
	// closed, and by [Hub.Subscribe] on a closed hub.
	ErrClosed = errors.New("changefeed: stream closed")

	// ErrCorrupt is wrapped by every error [DecodeTx] returns.
	ErrCorrupt = errors.New("changefeed: corrupt transaction encoding")

	// ErrStreamLagged matches (with errors.Is) the [*LaggedError] a stream
	// ends with when it fell behind and the changes it missed are gone.
	ErrStreamLagged = errors.New("changefeed: stream lagged")

	// ErrFutureLSN is returned by [Hub.Subscribe] for Options.Since past
	// the newest commit: an LSN this database never gave (one of another
	// database, or of this one's log before it was deleted). Waiting for
	// it would skip, without a word, every commit up to it.
	ErrFutureLSN = errors.New("changefeed: LSN is past the newest commit")

	// ErrPruned is what a [Source] returns (wrapped or not) from ReadAfter
	// when some transaction after the requested LSN is no longer retained.
	ErrPruned = errors.New("changefeed: transactions no longer retained")
)

// LaggedError ends a stream that fell behind its buffer, or started before
// the retained history, when the transactions it missed can no longer be
// read: there is no durable [Source] (CDC is not durable) and the hub's
// in-memory history does not reach back far enough, or the Source pruned
// them. The stream is over; every later Next returns the same error.
//
// A consumer that keeps its own copy of what it saw can resume with
// Options.Since = LSN once the gap is acceptable to it.
type LaggedError struct {
	// LSN is the last transaction the stream delivered in full (its
	// [Stream.LSN]): everything up to it was delivered, nothing after it.
	LSN LSN
	// Dropped is the LSN of the first transaction the stream missed, when
	// known (it did not fit the stream's buffer); 0 when the stream asked
	// for history (Options.Since) older than what is retained.
	Dropped LSN
}

// Error explains what was lost and what was delivered.
func (e *LaggedError) Error() string {
	s := "changefeed: stream lagged: "
	if e.Dropped != 0 {
		s += "transaction " + e.Dropped.String() + " did not fit the stream's buffer"
	} else {
		s += "the requested history is no longer retained"
	}
	s += " and cannot be read back (durable CDC is off or pruned it); delivered through LSN " + e.LSN.String()
	return s
}

// Is reports whether target is [ErrStreamLagged].
func (e *LaggedError) Is(target error) bool { return target == ErrStreamLagged }

// corruptError is a decoding failure; it wraps ErrCorrupt.
type corruptError struct {
	off int
	msg string
}

// Error says where the encoding is bad and how.
func (e *corruptError) Error() string {
	return "changefeed: corrupt transaction encoding at byte " + strconv.Itoa(e.off) + ": " + e.msg
}

// Unwrap returns ErrCorrupt.
func (e *corruptError) Unwrap() error { return ErrCorrupt }
