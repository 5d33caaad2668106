package iofault

import (
	"errors"
	"fmt"
	"math/rand/v2"
	"path/filepath"
	"slices"
	"sync"
	"sync/atomic"

	"github.com/golibsql/libsql/iouring_vfs/ioback"
)

// ErrCrashed is returned (wrapped) by every operation on a CrashFS, and on
// its Files, after Crash: they belong to the incarnation that lost power.
var ErrCrashed = errors.New("iofault: file system crashed; this handle belongs to the old incarnation")

// CrashFS is an in-memory ioback.FS that can simulate a power loss (see the
// package documentation). Until Crash it behaves like ioback.NewMemFS,
// which holds the live data; CrashFS records beside it what is durable.
//
// The durability model, per file:
//   - Sync makes the file's contents and size durable, and the file's name
//     too if the file was newly created (as fsync on ext4 does).
//   - SyncDir(dir) makes durable the existence of every file now in dir and
//     the removal of every file removed from it.
//   - Everything else (writes, truncates, creations and removals) since then
//     may or may not survive: each unsynced write independently survives
//     whole, is lost, or is torn at 512-byte sector boundaries; each
//     unsynced truncate, creation and removal independently happens or not.
type CrashFS struct {
	live ioback.FS // the current incarnation's data (a MemFS)
	dead atomic.Bool

	mu      sync.Mutex // guards the fields below and orders writes with their records
	rng     *rand.Rand
	seed    uint64
	names   map[string]*crashNode // current namespace
	durable map[string]*crashNode // namespace as it would be after a crash
}

// crashNode is the durability record of one file.
type crashNode struct {
	synced  []byte    // contents as of the last Sync
	pending []crashOp // writes and truncates since, in order
	id      ioback.FileID
}

// crashOp is one unsynced change: a write of data at off, or (data nil,
// truncate set) a truncate to off.
type crashOp struct {
	off      int64
	data     []byte
	truncate bool
}

var _ ioback.FS = (*CrashFS)(nil)
var _ ioback.ArenaFS = (*CrashFS)(nil)

// NewCrashFS returns an empty CrashFS whose crashes are drawn from seed.
func NewCrashFS(seed uint64) *CrashFS {
	return &CrashFS{
		live:    ioback.NewMemFS(),
		rng:     rand.New(rand.NewPCG(seed, seed^0xda942042e4dd58b5)),
		seed:    seed,
		names:   make(map[string]*crashNode),
		durable: make(map[string]*crashNode),
	}
}

// Seed returns the seed the CrashFS was made with (log it, so a failure
// replays).
func (c *CrashFS) Seed() uint64 { return c.seed }

func crashName(name string) string { return filepath.Clean(name) }

func (c *CrashFS) crashed(op, name string) error {
	if c.dead.Load() {
		return fmt.Errorf("iofault: %s %s: %w", op, name, ErrCrashed)
	}
	return nil
}

// Open opens or creates name; a new file's name is not durable until the
// file is synced or its directory is (SyncDir).
func (c *CrashFS) Open(name string, flag ioback.OpenFlag) (ioback.File, error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if err := c.crashed("open", name); err != nil {
		return nil, err
	}
	f, err := c.live.Open(name, flag)
	if err != nil {
		return nil, err
	}
	id, err := f.ID()
	if err != nil {
		f.Close()
		return nil, err
	}
	key := crashName(name)
	n := c.names[key]
	if n == nil || n.id != id {
		n = &crashNode{id: id}
		c.names[key] = n
	}
	return &crashFile{c: c, f: f, node: n, name: name}, nil
}

// Remove removes name; the removal is durable after SyncDir of its
// directory. Files open on it keep working.
func (c *CrashFS) Remove(name string) error {
	c.mu.Lock()
	defer c.mu.Unlock()
	if err := c.crashed("remove", name); err != nil {
		return err
	}
	if err := c.live.Remove(name); err != nil {
		return err
	}
	delete(c.names, crashName(name))
	return nil
}

// Stat reports the live size and identity of name.
func (c *CrashFS) Stat(name string) (int64, ioback.FileID, error) {
	if err := c.crashed("stat", name); err != nil {
		return 0, ioback.FileID{}, err
	}
	return c.live.Stat(name)
}

// SyncDir makes the current set of names in dir durable.
func (c *CrashFS) SyncDir(dir string) error {
	c.mu.Lock()
	defer c.mu.Unlock()
	if err := c.crashed("syncdir", dir); err != nil {
		return err
	}
	dir = crashName(dir)
	for name := range c.durable {
		if filepath.Dir(name) == dir && c.names[name] == nil {
			delete(c.durable, name)
		}
	}
	for name, n := range c.names {
		if filepath.Dir(name) == dir {
			c.durable[name] = n
		}
	}
	return nil
}

// NewArena gives out ordinary memory.
func (c *CrashFS) NewArena(size int) (*ioback.Arena, error) { return ioback.NewHeapArena(size) }

// Crash simulates a power loss and reboot: it returns a new CrashFS holding
// what survived (see the type's documentation), and makes this one and all
// its Files fail with ErrCrashed. The outcome depends only on the seed and
// the sequence of operations before the crash.
func (c *CrashFS) Crash() *CrashFS {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.dead.Store(true)
	next := &CrashFS{
		live:    ioback.NewMemFS(),
		rng:     rand.New(rand.NewPCG(c.rng.Uint64(), c.rng.Uint64())),
		seed:    c.seed,
		names:   make(map[string]*crashNode),
		durable: make(map[string]*crashNode),
	}
	keys := make([]string, 0, len(c.names)+len(c.durable))
	for k := range c.names {
		keys = append(keys, k)
	}
	for k := range c.durable {
		if c.names[k] == nil {
			keys = append(keys, k)
		}
	}
	slices.Sort(keys)
	images := make(map[*crashNode][]byte) // a file with two names gets one image
	for _, name := range keys {
		cur, dur := c.names[name], c.durable[name]
		n := dur
		if cur != dur && c.rng.IntN(2) == 0 {
			n = cur // the unsynced creation, removal or replacement happened
		}
		if n == nil {
			continue
		}
		img, ok := images[n]
		if !ok {
			img = c.survivor(n)
			images[n] = img
		}
		next.restore(name, img)
	}
	return next
}

// survivor draws the contents of n after a crash: its synced image with
// each pending change kept, dropped or (writes) torn.
func (c *CrashFS) survivor(n *crashNode) []byte {
	img := slices.Clone(n.synced)
	for _, op := range n.pending {
		if op.truncate {
			if c.rng.IntN(2) == 0 {
				img = resize(img, op.off)
			}
			continue
		}
		switch c.rng.IntN(3) {
		case 0: // kept whole
			img = writeAt(img, op.data, op.off)
		case 1: // lost
		case 2: // torn: each sector independently
			for _, s := range sectors(op.off, len(op.data)) {
				if c.rng.IntN(2) == 0 {
					img = writeAt(img, op.data[s.start-op.off:s.end-op.off], s.start)
				}
			}
		}
	}
	return img
}

// restore creates name with contents img in a fresh incarnation, durable.
func (c *CrashFS) restore(name string, img []byte) {
	f, err := c.live.Open(name, ioback.OpenCreate)
	if err != nil {
		panic(fmt.Sprintf("iofault: MemFS refused to create %q: %v", name, err)) // broken invariant
	}
	defer f.Close()
	if len(img) > 0 {
		if _, err := f.WriteAt(img, 0); err != nil {
			panic(fmt.Sprintf("iofault: MemFS write: %v", err))
		}
	}
	id, _ := f.ID()
	n := &crashNode{id: id, synced: img}
	c.names[name] = n
	c.durable[name] = n
}

func resize(b []byte, size int64) []byte {
	if int64(len(b)) >= size {
		return b[:size]
	}
	return append(b, make([]byte, size-int64(len(b)))...)
}

func writeAt(b, p []byte, off int64) []byte {
	if end := off + int64(len(p)); end > int64(len(b)) {
		b = resize(b, end)
	}
	copy(b[off:], p)
	return b
}

// crashFile is a File of a CrashFS.
type crashFile struct {
	c    *CrashFS
	f    ioback.File
	node *crashNode
	name string
}

func (f *crashFile) crashed(op string) error { return f.c.crashed(op, f.name) }

func (f *crashFile) ReadAt(p []byte, off int64) (int, error) {
	if err := f.crashed("pread"); err != nil {
		return 0, err
	}
	return f.f.ReadAt(p, off)
}

func (f *crashFile) ReadBatch(reqs []ioback.Read) error {
	if err := f.crashed("pread"); err != nil {
		for i := range reqs {
			reqs[i].N, reqs[i].Err = 0, err
		}
		return err
	}
	return f.f.ReadBatch(reqs)
}

func (f *crashFile) WriteAt(p []byte, off int64) (int, error) {
	f.c.mu.Lock()
	defer f.c.mu.Unlock()
	if err := f.crashed("pwrite"); err != nil {
		return 0, err
	}
	n, err := f.f.WriteAt(p, off)
	if n > 0 {
		f.node.pending = append(f.node.pending, crashOp{off: off, data: slices.Clone(p[:n])})
	}
	return n, err
}

func (f *crashFile) WritevAt(bufs [][]byte, off int64) error {
	f.c.mu.Lock()
	defer f.c.mu.Unlock()
	if err := f.crashed("pwritev"); err != nil {
		return err
	}
	if err := f.f.WritevAt(bufs, off); err != nil {
		return err
	}
	var data []byte
	for _, b := range bufs {
		data = append(data, b...)
	}
	if len(data) > 0 {
		f.node.pending = append(f.node.pending, crashOp{off: off, data: data})
	}
	return nil
}

// Sync makes the file's contents durable, and its name if it is new.
func (f *crashFile) Sync() error {
	f.c.mu.Lock()
	defer f.c.mu.Unlock()
	if err := f.crashed("fdatasync"); err != nil {
		return err
	}
	if err := f.f.Sync(); err != nil {
		return err
	}
	n := f.node
	img := n.synced
	for _, op := range n.pending {
		if op.truncate {
			img = resize(img, op.off)
		} else {
			img = writeAt(img, op.data, op.off)
		}
	}
	n.synced, n.pending = img, nil
	for name, m := range f.c.names {
		if m == n {
			f.c.durable[name] = n
		}
	}
	return nil
}

func (f *crashFile) Truncate(size int64) error {
	f.c.mu.Lock()
	defer f.c.mu.Unlock()
	if err := f.crashed("ftruncate"); err != nil {
		return err
	}
	if err := f.f.Truncate(size); err != nil {
		return err
	}
	f.node.pending = append(f.node.pending, crashOp{off: size, truncate: true})
	return nil
}

func (f *crashFile) Size() (int64, error) {
	if err := f.crashed("fstat"); err != nil {
		return 0, err
	}
	return f.f.Size()
}

func (f *crashFile) Allocate(off, n int64) error {
	if err := f.crashed("fallocate"); err != nil {
		return err
	}
	return f.f.Allocate(off, n)
}

func (f *crashFile) Lock(start, n int64, exclusive bool) error {
	if err := f.crashed("lock"); err != nil {
		return err
	}
	return f.f.Lock(start, n, exclusive)
}

func (f *crashFile) Unlock(start, n int64) error {
	if err := f.crashed("unlock"); err != nil {
		return err
	}
	return f.f.Unlock(start, n)
}

func (f *crashFile) ID() (ioback.FileID, error) {
	if err := f.crashed("fstat"); err != nil {
		return ioback.FileID{}, err
	}
	return f.f.ID()
}

func (f *crashFile) Close() error {
	err := f.f.Close()
	if cerr := f.crashed("close"); cerr != nil {
		return cerr
	}
	return err
}
