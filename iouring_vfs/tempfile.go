package iouringvfs

import "github.com/golibsql/libsql/internal/capi"

// tempFile is a private in-memory file: what SQLite gets for everything
// that is not a main database file (temporary databases, statement
// journals, the rollback journal if a journal mode ever needs one). Nothing
// else can open it, and it vanishes on Close.
type tempFile struct {
	chunks [][]byte
	size   int64
}

const tempChunk = 64 << 10

func newTempFile() *tempFile { return &tempFile{} }

var _ capi.VFSFile = (*tempFile)(nil)

func (t *tempFile) Close() error { t.chunks, t.size = nil, 0; return nil }

func (t *tempFile) ReadAt(p []byte, off int64) (int, error) {
	n := 0
	for n < len(p) && off+int64(n) < t.size {
		pos := off + int64(n)
		c, in := pos/tempChunk, pos%tempChunk
		m := min(int64(len(p)-n), tempChunk-in, t.size-pos)
		if int(c) < len(t.chunks) && t.chunks[c] != nil {
			copy(p[n:n+int(m)], t.chunks[c][in:])
		} else {
			clear(p[n : n+int(m)])
		}
		n += int(m)
	}
	return n, nil
}

func (t *tempFile) WriteAt(p []byte, off int64) error {
	n := 0
	for n < len(p) {
		pos := off + int64(n)
		c, in := pos/tempChunk, pos%tempChunk
		for int(c) >= len(t.chunks) {
			t.chunks = append(t.chunks, nil)
		}
		if t.chunks[c] == nil {
			t.chunks[c] = make([]byte, tempChunk)
		}
		m := copy(t.chunks[c][in:], p[n:])
		n += m
	}
	t.size = max(t.size, off+int64(len(p)))
	return nil
}

func (t *tempFile) Truncate(size int64) error {
	if size < t.size {
		keep := (size + tempChunk - 1) / tempChunk
		for i := keep; i < int64(len(t.chunks)); i++ {
			t.chunks[i] = nil
		}
		t.chunks = t.chunks[:min(int64(len(t.chunks)), keep)]
		if in := size % tempChunk; in != 0 && size/tempChunk < int64(len(t.chunks)) && t.chunks[size/tempChunk] != nil {
			clear(t.chunks[size/tempChunk][in:])
		}
	}
	t.size = size
	return nil
}

func (t *tempFile) Sync(int32) error                 { return nil }
func (t *tempFile) Size() (int64, error)             { return t.size, nil }
func (t *tempFile) Lock(int32) error                 { return nil }
func (t *tempFile) Unlock(int32) error               { return nil }
func (t *tempFile) CheckReservedLock() (bool, error) { return false, nil }
func (t *tempFile) SectorSize() int32                { return 512 }
func (t *tempFile) DeviceCharacteristics() int32 {
	return capi.IOCAP_POWERSAFE_OW | capi.IOCAP_SAFE_APPEND | capi.IOCAP_SEQUENTIAL
}
