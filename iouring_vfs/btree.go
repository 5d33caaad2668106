package iouringvfs

import (
	"encoding/binary"
	"slices"

	"github.com/golibsql/libsql/iouring_vfs/wal"
)

// OwnerOf names the b-tree that page p belongs to in the connection's
// snapshot, as one of roots (root page number → "table t1", "index i2",
// ...), for the message of a conflict: a b-tree page, or an overflow page
// of one of its cells. It reads at most budget pages and returns "" when it
// does not find the page within them.
func (f *File) OwnerOf(p wal.PageNo, roots map[wal.PageNo]string, budget int) string {
	order := make([]wal.PageNo, 0, len(roots))
	for r := range roots {
		order = append(order, r)
	}
	slices.Sort(order)
	w := f.newWalker(budget)
	// Interior pages first, which find any b-tree page by its parent's
	// pointer while reading a small fraction of the tree; leaves are read
	// only to find an overflow page.
	for _, leaves := range []bool{false, true} {
		for _, root := range order {
			found := false
			if !w.walk(root, leaves, func(pg wal.PageNo) bool { found = pg == p; return !found }) {
				return ""
			}
			if found {
				return roots[root]
			}
		}
	}
	return ""
}

// BtreePages returns the pages of the b-tree rooted at root in the
// connection's snapshot, overflow pages included, reading at most budget
// pages; ok is false if the budget ran out.
func (f *File) BtreePages(root wal.PageNo, budget int) (pages []wal.PageNo, ok bool) {
	w := f.newWalker(budget)
	ok = w.walk(root, true, func(pg wal.PageNo) bool { pages = append(pages, pg); return true })
	return pages, ok
}

// walker walks b-trees through the engine directly, not through SQLite,
// following SQLite's b-tree format
// (https://sqlite.org/fileformat2.html#b_tree_pages).
type walker struct {
	f      *File
	v      wal.Version
	buf    []byte
	usable int
	budget int
}

func (f *File) newWalker(budget int) *walker {
	return &walker{f: f, v: f.readVersion(), budget: budget}
}

func (w *walker) read(pg wal.PageNo) bool {
	w.budget--
	if w.budget < 0 {
		return false
	}
	_, err := w.f.e.log.ReadPage(pg, w.v, w.buf)
	return err == nil
}

// walk calls visit for every page of the b-tree rooted at root, until
// visit returns false. With leaves, it reads the leaf pages too and visits
// the overflow pages of their cells; without, it reads only interior pages,
// which is enough to visit every b-tree page, since all leaves are at the
// same depth. It returns false if the budget ran out or a page could not
// be read.
func (w *walker) walk(root wal.PageNo, leaves bool, visit func(wal.PageNo) bool) (ok bool) {
	defer func() {
		if recover() != nil { // a page that is not what the format says
			ok = false
		}
	}()
	if w.buf == nil {
		ps := w.f.pageSize()
		if ps == 0 {
			return false
		}
		w.buf = make([]byte, ps)
		if !w.read(1) {
			return false
		}
		w.usable = ps - int(w.buf[20])
	}
	buf := w.buf
	type entry struct {
		pg    wal.PageNo
		depth int
	}
	leafDepth := -1
	stack := []entry{{root, 0}}
	for len(stack) > 0 {
		e := stack[len(stack)-1]
		pg := e.pg
		stack = stack[:len(stack)-1]
		if pg == 0 {
			continue
		}
		if !visit(pg) {
			return true
		}
		if !leaves && e.depth == leafDepth {
			continue
		}
		if !w.read(pg) {
			return false
		}
		hdr := 0
		if pg == 1 {
			hdr = 100
		}
		typ := buf[hdr]
		interior := typ == 0x02 || typ == 0x05
		if typ != 0x02 && typ != 0x05 && typ != 0x0a && typ != 0x0d {
			continue
		}
		if !interior {
			leafDepth = e.depth
			if !leaves {
				continue
			}
		}
		n := int(binary.BigEndian.Uint16(buf[hdr+3:]))
		cells := hdr + 8
		if interior {
			cells = hdr + 12
			stack = append(stack, entry{wal.PageNo(binary.BigEndian.Uint32(buf[hdr+8:])), e.depth + 1})
		}
		var overflow []wal.PageNo
		for i := range n {
			off := int(binary.BigEndian.Uint16(buf[cells+2*i:]))
			if interior {
				stack = append(stack, entry{wal.PageNo(binary.BigEndian.Uint32(buf[off:])), e.depth + 1})
				off += 4
			}
			if typ == 0x05 || !leaves {
				continue // interior table cells carry no payload
			}
			size, k := uvarint(buf[off:])
			off += k
			if typ == 0x0d {
				_, k = uvarint(buf[off:]) // rowid
				off += k
			}
			if local := localPayload(int(size), w.usable, typ == 0x0d); local < int(size) {
				overflow = append(overflow, wal.PageNo(binary.BigEndian.Uint32(buf[off+local:])))
			}
		}
		for _, o := range overflow {
			for o != 0 {
				if !visit(o) {
					return true
				}
				if !w.read(o) {
					return false
				}
				o = wal.PageNo(binary.BigEndian.Uint32(buf))
			}
		}
	}
	return true
}

// localPayload is how many bytes of a cell's payload of size P stay on the
// b-tree page, the rest going to overflow pages (the file format's X, M, K).
func localPayload(p, usable int, tableLeaf bool) int {
	x := usable - 35
	if !tableLeaf {
		x = (usable-12)*64/255 - 23
	}
	if p <= x {
		return p
	}
	m := (usable-12)*32/255 - 23
	k := m + (p-m)%(usable-4)
	if k <= x {
		return k
	}
	return m
}

// uvarint decodes SQLite's big-endian varint (up to 9 bytes, the ninth
// contributing all 8 bits).
func uvarint(b []byte) (uint64, int) {
	var v uint64
	for i := range 8 {
		v = v<<7 | uint64(b[i]&0x7f)
		if b[i]&0x80 == 0 {
			return v, i + 1
		}
	}
	return v<<8 | uint64(b[8]), 9
}
