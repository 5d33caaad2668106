package main

import (
	"os"
	"testing"
)

// /dev/null is a character device but not a terminal: `libsql shell db <
// /dev/null` printed the banner and a prompt instead of running an empty
// script.
func TestDevNullIsNoTerminal(t *testing.T) {
	f, err := os.Open(os.DevNull)
	if err != nil {
		t.Skip(err)
	}
	defer f.Close()
	if isTerminal(f) {
		t.Fatalf("%s reads as a terminal", os.DevNull)
	}
	r, w, err := os.Pipe()
	if err != nil {
		t.Fatal(err)
	}
	defer r.Close()
	defer w.Close()
	if isTerminal(r) || isTerminal(&struct{}{}) {
		t.Fatal("a pipe or a non-file reads as a terminal")
	}
}
