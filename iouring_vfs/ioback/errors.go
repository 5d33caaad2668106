package ioback

import (
	"fmt"
	"io"
	"io/fs"
	"os"
	"strconv"
	"syscall"
)

// opError is the error every backend returns: it names the operation, the
// file and, where there is one, the offset, and wraps the cause (usually a
// syscall.Errno) so that errors.Is(err, syscall.EIO) and
// errors.Is(err, fs.ErrNotExist) work. Its text looks like
//
//	ioback: pread /data/x.db at 4096: input/output error
type opError struct {
	op     string
	name   string
	off    int64
	hasOff bool
	err    error
}

func (e *opError) Error() string {
	s := "ioback: " + e.op + " " + e.name
	if e.hasOff {
		s += " at " + strconv.FormatInt(e.off, 10)
	}
	return s + ": " + e.err.Error()
}

func (e *opError) Unwrap() error { return e.err }

// cause strips the *os.PathError / *os.SyscallError / *os.LinkError layers
// that os adds, so our own message does not repeat the operation and name.
func cause(err error) error {
	for {
		switch e := err.(type) {
		case *fs.PathError:
			err = e.Err
		case *os.SyscallError:
			err = e.Err
		case *os.LinkError:
			err = e.Err
		default:
			return err
		}
	}
}

// wrapErr wraps err for operation op on file name. io.EOF is returned as it
// is (io.ReaderAt callers compare it with ==), and nil stays nil.
func wrapErr(op, name string, err error) error {
	if err == nil || err == io.EOF {
		return err
	}
	return &opError{op: op, name: name, err: cause(err)}
}

// wrapErrAt is wrapErr for an operation at a file offset.
func wrapErrAt(op, name string, off int64, err error) error {
	if err == nil || err == io.EOF {
		return err
	}
	return &opError{op: op, name: name, off: off, hasOff: true, err: cause(err)}
}

// errClosed is wrapped into the error of every operation on a closed File.
var errClosed = os.ErrClosed

// errNegative is the cause for a negative offset or length.
var errNegative = syscall.EINVAL

// errReadOnly is the cause for a write to a File opened with OpenReadOnly.
// It matches fs.ErrPermission.
var errReadOnly = fmt.Errorf("file opened read-only: %w", fs.ErrPermission)
