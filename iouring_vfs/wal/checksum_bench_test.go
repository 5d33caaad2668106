package wal

import "testing"

func BenchmarkChecksum(b *testing.B) {
	page := make([]byte, 4096)
	for i := range page {
		page[i] = byte(i * 7)
	}
	b.SetBytes(4096)
	var s [2]uint32
	for b.Loop() {
		s = checksum(false, page, s)
	}
}
