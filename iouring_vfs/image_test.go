package iouringvfs

import (
	"strings"
	"testing"

	"github.com/golibsql/libsql/iouring_vfs/ioback"
)

// TestImageRegistry: a registered image loads into a file until it is
// released; CheckImage names what is wrong with an image.
func TestImageRegistry(t *testing.T) {
	image := make([]byte, 1024)
	copy(image, sqliteMagic)
	image[16], image[17] = 2, 0 // 512-byte pages
	id, release := RegisterImage(image)
	f, err := ioback.NewMemFS().Open("/db", ioback.OpenCreate)
	if err != nil {
		t.Fatal(err)
	}
	if err := loadImage(f, id); err != nil {
		t.Fatal(err)
	}
	if n, _ := f.Size(); n != 1024 {
		t.Fatalf("loaded %d bytes", n)
	}
	release()
	release()
	if err := loadImage(f, id); err == nil || !strings.Contains(err.Error(), "no longer registered") {
		t.Fatalf("a released image: %v", err)
	}
	for _, tc := range []struct {
		image []byte
		want  string
	}{
		{nil, ""},
		{image[:99], "100-byte header"},
		{append([]byte("SQLite format 2\x00"), image[16:]...), "100-byte header"},
		{image[:1000], "whole number of 512-byte pages"},
		{append(append([]byte{}, image[:16]...), append([]byte{3, 0}, image[18:]...)...), "page size 768"},
	} {
		err := CheckImage(tc.image)
		if tc.want == "" && err != nil || tc.want != "" && (err == nil || !strings.Contains(err.Error(), tc.want)) {
			t.Errorf("CheckImage of %d bytes: %v, want %q", len(tc.image), err, tc.want)
		}
	}
}
