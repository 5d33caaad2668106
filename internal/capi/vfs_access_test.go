package capi

import (
	"errors"
	"fmt"
	"sync/atomic"
	"testing"

	"modernc.org/libc"
	sqlite3 "modernc.org/sqlite/lib"
)

var accessTestRuns atomic.Int32

// accessVFS answers Access for one name and fails everything else.
type accessVFS struct {
	want  string
	calls int
}

func (v *accessVFS) Open(string, int32, func(string) (string, bool)) (VFSFile, int32, error) {
	return nil, 0, errors.New("accessVFS: no files")
}
func (v *accessVFS) Delete(string, bool) error { return errors.New("accessVFS: no files") }
func (v *accessVFS) FullPathname(name string) (string, error) {
	return name, nil
}
func (v *accessVFS) Access(name string, flags int32) (bool, error) {
	v.calls++
	return name == v.want, nil
}

// SQLite asks xAccess whether a hot journal and a WAL file exist at the
// start of every read transaction, so the bridge passes the name without
// copying it into the Go heap.
func TestVFSAccessPassesTheNameWithoutAllocating(t *testing.T) {
	v := &accessVFS{want: "/some/dir/test.db-journal"}
	// Registered VFSes stay registered: each run (-count) needs a name.
	name := fmt.Sprintf("capi-access-test-%d", accessTestRuns.Add(1))
	if err := RegisterVFS(name, v, false); err != nil {
		t.Fatal(err)
	}
	tls := libc.NewTLS()
	defer tls.Close()
	zVfs, err := libc.CString(name)
	if err != nil {
		t.Fatal(err)
	}
	defer libc.Xfree(tls, zVfs)
	pVfs := sqlite3.Xsqlite3_vfs_find(tls, zVfs)
	if pVfs == 0 {
		t.Fatal("VFS not found")
	}
	pRes := tls.Alloc(4)
	defer tls.Free(4)
	res := (*int32)(cptr(pRes))
	for _, tc := range []struct {
		name string
		want int32
	}{{v.want, 1}, {"/some/dir/test.db-wal", 0}, {"", 0}} {
		zName, err := libc.CString(tc.name)
		if err != nil {
			t.Fatal(err)
		}
		*res = -1
		if rc := vfsAccess(tls, pVfs, zName, ACCESS_EXISTS, pRes); rc != OK || *res != tc.want {
			t.Errorf("xAccess(%q) = rc %d, result %d; want OK, %d", tc.name, rc, *res, tc.want)
		}
		allocs := testing.AllocsPerRun(100, func() {
			vfsAccess(tls, pVfs, zName, ACCESS_EXISTS, pRes)
		})
		if allocs != 0 {
			t.Errorf("xAccess(%q) allocates %v times per call", tc.name, allocs)
		}
		libc.Xfree(tls, zName)
	}
}
