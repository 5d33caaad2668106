package wal

import (
	"encoding/binary"
	"math/rand/v2"
	"testing"
)

// checksumRef is SQLite's walChecksumBytes as written in wal.c: the
// reference checksum's fast form must agree with, word by word.
func checksumRef(bigEndian bool, b []byte, s [2]uint32) [2]uint32 {
	s0, s1 := s[0], s[1]
	word := binary.LittleEndian.Uint32
	if bigEndian {
		word = binary.BigEndian.Uint32
	}
	for i := 0; i+8 <= len(b); i += 8 {
		s0 += word(b[i:]) + s1
		s1 += word(b[i+4:]) + s0
	}
	return [2]uint32{s0, s1}
}

func TestChecksumMatchesReference(t *testing.T) {
	r := rand.New(rand.NewPCG(1, 2))
	buf := make([]byte, 70000)
	for i := range buf {
		buf[i] = byte(r.Uint32())
	}
	for range 300 {
		n := r.IntN(len(buf)/8) * 8
		off := r.IntN(len(buf)-n+1) &^ 7
		s := [2]uint32{r.Uint32(), r.Uint32()}
		for _, be := range []bool{false, true} {
			if got, want := checksum(be, buf[off:off+n], s), checksumRef(be, buf[off:off+n], s); got != want {
				t.Fatalf("checksum(bigEndian=%v, %d bytes at %d, %x) = %x, want %x", be, n, off, s, got, want)
			}
		}
	}
}
