package iouringvfs

import (
	"bytes"
	"encoding/binary"
	"errors"
	"fmt"
	"strconv"
	"sync"

	"github.com/golibsql/libsql/iouring_vfs/ioback"
)

// Images: the bytes of a database file (SQLite's format), registered by the
// driver for an in-memory database to start from (libsql.WithImage). The
// engine that creates the database copies the image into its in-memory
// file and forgets it; an engine opened again under the same name later
// (after its last connection closed) finds it gone and fails to open.
var images struct {
	sync.Mutex
	m   map[string][]byte
	seq uint64
}

// RegisterImage keeps image for the in-memory database whose URI gives the
// returned id as ParamImage. The caller must not change image afterwards.
// release forgets it, if no engine took it yet; calling it again does
// nothing.
func RegisterImage(image []byte) (id string, release func()) {
	images.Lock()
	defer images.Unlock()
	if images.m == nil {
		images.m = map[string][]byte{}
	}
	images.seq++
	id = "image." + strconv.FormatUint(images.seq, 10)
	images.m[id] = image
	return id, func() { releaseImage(id) }
}

// RegisteredImagesForTesting returns the number of images registered and
// not yet taken or released.
func RegisteredImagesForTesting() int {
	images.Lock()
	defer images.Unlock()
	return len(images.m)
}

// releaseImage forgets image id.
func releaseImage(id string) {
	if id == "" {
		return
	}
	images.Lock()
	delete(images.m, id)
	images.Unlock()
}

// sqliteMagic begins every SQLite database file.
var sqliteMagic = []byte("SQLite format 3\x00")

// CheckImage reports whether image is a database file SQLite can open:
// empty (a new database), or its header's magic string and page size, and
// a length that is a multiple of the page size.
func CheckImage(image []byte) error {
	if len(image) == 0 {
		return nil
	}
	if len(image) < 100 || !bytes.Equal(image[:16], sqliteMagic) {
		return errors.New("the image is no SQLite database: it does not begin with SQLite's 100-byte header (\"SQLite format 3\")")
	}
	ps := int(binary.BigEndian.Uint16(image[16:18]))
	if ps == 1 {
		ps = 65536
	}
	if ps < 512 || ps&(ps-1) != 0 {
		return fmt.Errorf("the image's header gives page size %d: not a power of two from 512 to 65536", ps)
	}
	if len(image)%ps != 0 {
		return fmt.Errorf("the image is %d bytes: not a whole number of %d-byte pages (truncated?)", len(image), ps)
	}
	return nil
}

// loadImage writes image id into db, the new in-memory database's file.
func loadImage(db ioback.File, id string) error {
	images.Lock()
	image, ok := images.m[id]
	images.Unlock()
	if !ok {
		return fmt.Errorf("image %s is no longer registered (an in-memory database starts from its image once; its connector was closed, or the database closed with its last connection)", id)
	}
	if err := CheckImage(image); err != nil {
		return err
	}
	if _, err := db.WriteAt(image, 0); err != nil {
		return fmt.Errorf("loading the image: %w", err)
	}
	return nil
}
