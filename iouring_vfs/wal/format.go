package wal

import (
	"encoding/binary"
	"fmt"
)

// The log file is SQLite's WAL format, byte for byte, so that stock SQLite
// recovers what we write and we recover what it writes
// (https://sqlite.org/fileformat2.html#walformat):
//
//	+--------------------------- header: 32 bytes, big-endian fields ----------+
//	| 0 magic 0x377f0682 | 0x377f0683 (low bit: checksum words are big-endian) |
//	| 4 format version 3007000                                                 |
//	| 8 page size                                                              |
//	| 12 checkpoint sequence number                                            |
//	| 16 salt-1 | 20 salt-2                                                      |
//	| 24 checksum-1 | 28 checksum-2  (of bytes 0..23)                          |
//	+--------------------------------------------------------------------------+
//	| frame 1: 24-byte frame header, then one page                             |
//	|   0 page number                                                          |
//	|   4 database size in pages after this commit; 0 unless a commit frame    |
//	|   8 salt-1 | 12 salt-2 (copies of the header's)                          |
//	|   16 checksum-1 | 20 checksum-2                                          |
//	+--------------------------------------------------------------------------+
//	| frame 2 ...                                                              |
//
// Checksums are cumulative: a frame's checksum covers its first 8 header
// bytes and its page, starting from the previous frame's checksum (the
// header's for frame 1). A frame belongs to the log only if its salts match
// the header's and its checksum is right; frames after the last valid commit
// frame are not part of the log.
//
// Wire format: do not change these constants.
const (
	// HeaderSize is the size of the log file header.
	HeaderSize = 32
	// FrameHeaderSize is the size of the header in front of every page.
	FrameHeaderSize = 24

	magicLE       = 0x377f0682
	magicBE       = 0x377f0683
	formatVersion = 3007000

	// MinPageSize and MaxPageSize bound the page sizes SQLite allows.
	MinPageSize = 512
	MaxPageSize = 65536
)

// PageNo is a database page number; page 1 is the first page of the file.
type PageNo uint32

// FrameNo is a frame's position in the log file, counting from 1.
type FrameNo uint32

// header is the decoded log file header.
type header struct {
	bigEndian bool // checksum words are big-endian (magic 0x377f0683)
	pageSize  int
	seq       uint32 // checkpoint sequence number
	salt1     uint32
	salt2     uint32
	cksum     [2]uint32
}

// DeclaredPageSize is the page size the database header at the start of
// b (page 1, or its first 18 bytes) declares: bytes 16-17, big-endian, 1
// meaning 65536. It is 0 when b is too short; the caller checks the value.
func DeclaredPageSize(b []byte) int {
	if len(b) < 18 {
		return 0
	}
	ps := int(binary.BigEndian.Uint16(b[16:]))
	if ps == 1 {
		ps = 65536
	}
	return ps
}

// validPageSize reports whether n is a page size SQLite could use.
func validPageSize(n int) bool {
	return n >= MinPageSize && n <= MaxPageSize && n&(n-1) == 0
}

// encode writes h into b[:HeaderSize], computing its checksum, and stores the
// checksum in h.
func (h *header) encode(b []byte) {
	magic := uint32(magicLE)
	if h.bigEndian {
		magic = magicBE
	}
	binary.BigEndian.PutUint32(b[0:], magic)
	binary.BigEndian.PutUint32(b[4:], formatVersion)
	binary.BigEndian.PutUint32(b[8:], uint32(h.pageSize))
	binary.BigEndian.PutUint32(b[12:], h.seq)
	binary.BigEndian.PutUint32(b[16:], h.salt1)
	binary.BigEndian.PutUint32(b[20:], h.salt2)
	h.cksum = checksum(h.bigEndian, b[:24], [2]uint32{})
	binary.BigEndian.PutUint32(b[24:], h.cksum[0])
	binary.BigEndian.PutUint32(b[28:], h.cksum[1])
}

// decodeHeader parses and verifies a log file header. ok is false when the
// bytes are not a valid header (a log that has never been written, or one
// torn before its first sync): SQLite then treats the log as empty. An
// unknown format version is an error, as in SQLite.
func decodeHeader(b []byte) (h header, ok bool, err error) {
	if len(b) < HeaderSize {
		return h, false, nil
	}
	magic := binary.BigEndian.Uint32(b[0:])
	if magic != magicLE && magic != magicBE {
		return h, false, nil
	}
	h.bigEndian = magic == magicBE
	h.pageSize = int(binary.BigEndian.Uint32(b[8:]))
	if !validPageSize(h.pageSize) {
		return h, false, nil
	}
	h.cksum = checksum(h.bigEndian, b[:24], [2]uint32{})
	if h.cksum[0] != binary.BigEndian.Uint32(b[24:]) || h.cksum[1] != binary.BigEndian.Uint32(b[28:]) {
		return h, false, nil
	}
	if v := binary.BigEndian.Uint32(b[4:]); v != formatVersion {
		return h, false, fmt.Errorf("%w: log format version %d, want %d", ErrCorrupt, v, formatVersion)
	}
	h.seq = binary.BigEndian.Uint32(b[12:])
	h.salt1 = binary.BigEndian.Uint32(b[16:])
	h.salt2 = binary.BigEndian.Uint32(b[20:])
	return h, true, nil
}

// encodeFrame writes the frame header for page p into fh[:FrameHeaderSize]
// given the page's data and the running checksum, and returns the new
// running checksum. commitSize is the database size in pages for the last
// frame of a commit, 0 otherwise.
func (h *header) encodeFrame(fh []byte, p PageNo, commitSize uint32, data []byte, running [2]uint32) [2]uint32 {
	binary.BigEndian.PutUint32(fh[0:], uint32(p))
	binary.BigEndian.PutUint32(fh[4:], commitSize)
	binary.BigEndian.PutUint32(fh[8:], h.salt1)
	binary.BigEndian.PutUint32(fh[12:], h.salt2)
	running = checksum(h.bigEndian, fh[:8], running)
	running = checksum(h.bigEndian, data, running)
	binary.BigEndian.PutUint32(fh[16:], running[0])
	binary.BigEndian.PutUint32(fh[20:], running[1])
	return running
}

// decodeFrame verifies a frame against the header and the running checksum.
// It returns the page number, the commit size (0 for a non-commit frame) and
// the new running checksum; ok is false when the frame is not part of the
// log (wrong salt, page 0 or bad checksum).
func (h *header) decodeFrame(fh, data []byte, running [2]uint32) (p PageNo, commitSize uint32, next [2]uint32, ok bool) {
	p = PageNo(binary.BigEndian.Uint32(fh[0:]))
	if p == 0 {
		return 0, 0, running, false
	}
	if binary.BigEndian.Uint32(fh[8:]) != h.salt1 || binary.BigEndian.Uint32(fh[12:]) != h.salt2 {
		return 0, 0, running, false
	}
	next = checksum(h.bigEndian, fh[:8], running)
	next = checksum(h.bigEndian, data, next)
	if next[0] != binary.BigEndian.Uint32(fh[16:]) || next[1] != binary.BigEndian.Uint32(fh[20:]) {
		return 0, 0, running, false
	}
	return p, binary.BigEndian.Uint32(fh[4:]), next, true
}

// checksum is SQLite's WAL checksum: over b taken as 32-bit words (big- or
// little-endian), s0 += w[i] + s1; s1 += w[i+1] + s0. len(b) must be a
// multiple of 8.
//
// The sums are written s0 + w + s1, the other sum added last, so that each
// waits for one addition of the other rather than two (Go does not
// reassociate them): 612 -> 398 ns per 4 KiB page in BenchmarkChecksum.
func checksum(bigEndian bool, b []byte, s [2]uint32) [2]uint32 {
	s0, s1 := s[0], s[1]
	b = b[:len(b)&^7]
	if bigEndian {
		for len(b) >= 8 {
			x := binary.BigEndian.Uint64(b)
			s0 = s0 + uint32(x>>32) + s1
			s1 = s1 + uint32(x) + s0
			b = b[8:]
		}
	} else {
		for len(b) >= 8 {
			x := binary.LittleEndian.Uint64(b)
			s0 = s0 + uint32(x) + s1
			s1 = s1 + uint32(x>>32) + s0
			b = b[8:]
		}
	}
	return [2]uint32{s0, s1}
}
