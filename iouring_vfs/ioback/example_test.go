package ioback_test

import (
	"fmt"
	"log"
	"os"
	"path/filepath"

	"github.com/golibsql/libsql/iouring_vfs/ioback"
)

// A page cache allocates its pages from an arena and reads a batch of pages
// in one submission: on the io_uring backend the reads become fixed-buffer
// reads in a single io_uring_enter; elsewhere the same code runs on plain
// memory and preads.
func Example() {
	dir, err := os.MkdirTemp("", "ioback-example-")
	if err != nil {
		log.Fatal(err)
	}
	defer os.RemoveAll(dir)

	fsys, err := ioback.New(ioback.KindAuto) // io_uring where the kernel allows it
	if err != nil {
		log.Fatal(err)
	}
	f, err := fsys.Open(filepath.Join(dir, "x.db"), ioback.OpenCreate)
	if err != nil {
		log.Fatal(err)
	}
	defer f.Close()

	const pageSize = 4096
	for i := range 4 {
		page := make([]byte, pageSize)
		copy(page, fmt.Sprintf("page %d", i))
		if err := f.WritevAt([][]byte{page}, int64(i)*pageSize); err != nil {
			log.Fatal(err)
		}
	}
	if err := f.Sync(); err != nil {
		log.Fatal(err)
	}

	arena, err := ioback.NewArena(fsys, 4*pageSize)
	if err != nil {
		log.Fatal(err)
	}
	defer arena.Close()
	mem := arena.Bytes()
	reqs := make([]ioback.Read, 4)
	for i := range reqs {
		reqs[i] = ioback.Read{P: mem[i*pageSize : (i+1)*pageSize], Off: int64(3-i) * pageSize}
	}
	if err := f.ReadBatch(reqs); err != nil {
		log.Fatal(err)
	}
	for _, r := range reqs {
		fmt.Printf("%s\n", r.P[:6])
	}
	// Output:
	// page 3
	// page 2
	// page 1
	// page 0
}
