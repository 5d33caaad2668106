//go:build unix

package ioback

import (
	"errors"
	"io/fs"
	"os"
	"path/filepath"
	"testing"
)

// MatchOwner gives a log the database's permissions, but never through a
// link: a symbolic or hard link planted at the log's name (to
// /etc/shadow, say, beside a database root opens) would otherwise have
// its target opened to others, or, as root, handed to the database's
// owner. Open refuses the symbolic link outright (O_NOFOLLOW).
func TestMatchOwnerLeavesLinksAlone(t *testing.T) {
	for _, kind := range []Kind{KindPortable, KindUring} {
		t.Run(kind.String(), func(t *testing.T) {
			fsys, err := New(kind)
			if err != nil {
				t.Skip(err)
			}
			dir := t.TempDir()
			dbName := filepath.Join(dir, "x.db")
			if err := os.WriteFile(dbName, nil, 0o640); err != nil {
				t.Fatal(err)
			}
			if err := os.Chmod(dbName, 0o640); err != nil {
				t.Fatal(err)
			}
			db, err := fsys.Open(dbName, 0)
			if err != nil {
				t.Fatal(err)
			}
			defer db.Close()
			secret := filepath.Join(dir, "secret")
			check := func(how string, link func(name string) error) {
				t.Helper()
				if err := os.WriteFile(secret, []byte("x"), 0o600); err != nil {
					t.Fatal(err)
				}
				os.Chmod(secret, 0o600)
				name := dbName + "-wal"
				os.Remove(name)
				if err := link(name); err != nil {
					t.Fatal(err)
				}
				// Open refuses a symbolic link (O_NOFOLLOW); a hard link it
				// cannot tell, and MatchOwner must leave it alone.
				if f, err := fsys.Open(name, OpenCreate); err == nil {
					defer f.Close()
					if err := MatchOwner(f, db); !errors.Is(err, fs.ErrPermission) {
						t.Errorf("%s: MatchOwner = %v, want an error matching fs.ErrPermission", how, err)
					}
				} else if how != "symbolic link" {
					t.Fatalf("%s: Open: %v", how, err)
				}
				if b, err := os.ReadFile(secret); err != nil || string(b) != "x" {
					t.Errorf("%s: the link's target holds %q (%v), want it untouched", how, b, err)
				}
				if st, err := os.Stat(secret); err != nil || st.Mode().Perm() != 0o600 {
					t.Errorf("%s: the link's target has mode %v (%v), want 0600 unchanged", how, st.Mode().Perm(), err)
				}
			}
			check("symbolic link", func(name string) error { return os.Symlink(secret, name) })
			check("hard link", func(name string) error { return os.Link(secret, name) })

			name := dbName + "-wal"
			os.Remove(name)
			f, err := fsys.Open(name, OpenCreate)
			if err != nil {
				t.Fatal(err)
			}
			defer f.Close()
			if err := MatchOwner(f, db); err != nil {
				t.Fatalf("plain file: %v", err)
			}
			if st, err := os.Stat(name); err != nil || st.Mode().Perm() != 0o640 {
				t.Errorf("plain file: mode %v (%v), want the database's 0640", st.Mode().Perm(), err)
			}
		})
	}
}
